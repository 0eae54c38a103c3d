//! Child processes for the crash and concurrency tests: this same test binary, re-run with a role in the
//! environment. `child_roles_work_in_process` is the entry point both ways: in a plain test run it runs each role
//! briefly in-process and checks what it acknowledged; in a child it runs the role the parent asked for.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use eventlite::{AppendError, ExpectedVersion, NewEvent, ReadStreamOptions, Store};
use serde_json::json;

const ROLE: &str = "EVENTLITE_TEST_CHILD_ROLE";
const PATH: &str = "EVENTLITE_TEST_CHILD_PATH";
const ARG: &str = "EVENTLITE_TEST_CHILD_ARG";

/// Starts this test binary as a child running `role` on the store at `path`, with stdout piped.
pub fn spawn(role: &str, path: &Path, arg: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child::child_roles_work_in_process", "--nocapture", "--test-threads=1", "--quiet"])
        .env(ROLE, role)
        .env(PATH, path)
        .env(ARG, arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The lines a child printed that start with `prefix`, without it.
pub fn lines_with(child: &mut Child, prefix: &str) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| line.strip_prefix(prefix).map(str::to_owned))
        .collect()
}

#[test]
fn child_roles_work_in_process() {
    match std::env::var(ROLE).ok().as_deref() {
        Some(role) => {
            let path = std::env::var(PATH).unwrap();
            let arg = std::env::var(ARG).unwrap_or_default();
            let out = std::io::stdout();
            let mut out = out.lock();
            run_role(role, Path::new(&path), &arg, &mut out);
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("roles.db");
            let mut acks = Vec::new();
            run_role("crash-writer", &path, "run-0 20", &mut acks);
            let acks = String::from_utf8(acks).unwrap();
            assert_eq!(acks.lines().filter(|l| l.starts_with("ack ")).count(), 20);
            let mut out = Vec::new();
            run_role("contender", &path, "0 20", &mut out);
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out.lines().filter(|l| l.starts_with("ok ")).count(), 20);
        }
    }
}

/// Runs `role`. `arg` is `<name> [iterations]`; without a count a crash writer runs until it is killed.
fn run_role(role: &str, path: &Path, arg: &str, out: &mut impl Write) {
    if role == "first-open" {
        return first_open(path, Path::new(arg), out);
    }
    let store = Store::open(path).unwrap();
    let (name, count) = arg.split_once(' ').unwrap_or((arg, ""));
    let iterations = count.parse().unwrap_or(usize::MAX);
    match role {
        "crash-writer" => crash_writer(&store, name, iterations, out),
        "contender" => contender(&store, name, iterations, out),
        "single-append" => {
            store.append_to_stream(arg, &[NewEvent::json("FromChild", &json!({}))], ExpectedVersion::Any).unwrap();
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Waits until the file `go` exists (so that every child opens at once), opens the store at `path`, and prints
/// `open ok` or `open <code> <message>`.
fn first_open(path: &Path, go: &Path, out: &mut impl Write) {
    while !go.exists() {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    match Store::open(path) {
        Ok(store) => {
            store.append_to_stream("opened-1", &[NewEvent::json("Opened", &json!({}))], ExpectedVersion::Any).unwrap();
            writeln!(out, "open ok").unwrap();
        }
        Err(error) => writeln!(out, "open {} {error}", error.code()).unwrap(),
    }
    out.flush().unwrap();
}

/// Appends batches of 1..=5 events with `Exact` expectations forever, printing `ack <run> <batch> <size> <stream>
/// <first position> <last version>` after each append returns.
fn crash_writer(store: &Store, run: &str, iterations: usize, out: &mut impl Write) {
    for batch in 0..iterations {
        let stream = format!("crash-{}", batch % 7);
        let version = store.stream_version(&stream).unwrap();
        let size = batch % 5 + 1;
        let events: Vec<NewEvent> = (0..size)
            .map(|index| {
                NewEvent::json("Written", &json!({ "index": index, "padding": "x".repeat(batch % 300) }))
                    .with_metadata(&json!({ "run": run, "batch": batch, "size": size }))
            })
            .collect();
        let result = store.append_to_stream(&stream, &events, ExpectedVersion::Exact(version)).unwrap();
        writeln!(out, "ack {run} {batch} {size} {stream} {} {}", result.positions[0], result.stream_version).unwrap();
        out.flush().unwrap();
    }
}

/// Appends single events to three shared streams with `Exact` expectations read just before, retrying on
/// `WrongExpectedVersion`. Prints `ok <event id>` per success and `conflicts <n>` at the end.
fn contender(store: &Store, worker: &str, iterations: usize, out: &mut impl Write) {
    let mut conflicts = 0;
    for n in 0..iterations {
        let stream = format!("shared-{}", n % 3);
        let event = NewEvent::json("Contended", &json!({ "worker": worker, "n": n }));
        loop {
            let version =
                store.read_stream(&stream, ReadStreamOptions::backwards().max_count(1)).unwrap().stream_version;
            match store.append_to_stream(&stream, std::slice::from_ref(&event), ExpectedVersion::Exact(version)) {
                Ok(_) => break,
                Err(AppendError::WrongExpectedVersion { actual, .. }) => {
                    assert!(actual > version, "a conflict reports the newer version");
                    conflicts += 1;
                }
                Err(other) => panic!("unexpected error {other} ({})", other.code()),
            }
        }
        writeln!(out, "ok {}", event.event_id.unwrap()).unwrap();
    }
    writeln!(out, "conflicts {conflicts}").unwrap();
    out.flush().unwrap();
}
