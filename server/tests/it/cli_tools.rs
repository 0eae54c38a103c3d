//! The store tools of the `eventlite` binary (`read`, `tail`, `streams`, `stats`, `export`, `import`, `check`,
//! `backup`), run as processes the way operators and developers run them: export then import gives the same log,
//! imports are idempotent and atomic per batch, `tail` sees other processes' and a server's events, `backup` copies a
//! store being written, `check` finds damage, and every bad input gets its error code and exit code with the stored
//! data unchanged.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, RecordedEvent, Store};
use serde_json::json;
use uuid::Uuid;

use crate::support::{self, TOKEN_A, TestServer};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventlite")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let output = run(args);
    assert!(output.status.success(), "eventlite {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a command expected to fail: its exit code and stderr.
fn fails(args: &[&str]) -> (i32, String) {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "eventlite {args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code().unwrap_or(-1), stderr)
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

fn log(store: &str) -> Vec<RecordedEvent> {
    Store::open_read_only(store).unwrap().read_all(&ReadAllOptions::forwards().max_count(1_000_000)).unwrap().events
}

/// Everything import promises to keep: ids, streams, versions, types, data, metadata, times (not positions).
type Identity = (Uuid, String, u64, String, eventlite::EventData, Option<String>, i64);

fn identity(events: &[RecordedEvent]) -> Vec<Identity> {
    events
        .iter()
        .map(|e| {
            (
                e.event_id,
                e.stream.clone(),
                e.version,
                e.event_type.clone(),
                e.data.clone(),
                e.metadata.clone(),
                e.recorded_at,
            )
        })
        .collect()
}

/// A store with JSON (odd spacing included), binary data, metadata and several streams.
fn seeded(file: &str, events: usize) -> Store {
    let store = Store::open(file).unwrap();
    for n in 0..events {
        let stream = format!("{}-{}", ["order", "user", "cart"][n % 3], n % 7);
        let event = match n % 5 {
            0 => NewEvent::binary("Photo", "image/png", vec![0, 1, 255, n as u8]),
            1 => NewEvent::from_json_text("Spaced", format!(" {{ \"n\" : {n} }} ")),
            _ => NewEvent::json("Placed", &json!({ "n": n, "text": "ünïcödé \"quoted\"\n" }))
                .with_metadata(&json!({ "correlationId": format!("c-{n}") })),
        };
        store.append_to_stream(&stream, &[event], ExpectedVersion::Any).unwrap();
    }
    store
}

#[test]
fn export_then_import_gives_the_same_log_and_a_second_import_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (source, archive, target) = (path(dir.path(), "a.db"), path(dir.path(), "a.ndjson"), path(dir.path(), "b.db"));
    seeded(&source, 250);
    ok(&["export", "--store", &source, "--output", &archive]);
    assert_eq!(std::fs::read_to_string(&archive).unwrap().lines().count(), 250);
    let output = run(&["import", "--store", &target, "--input", &archive, "--batch-size", "64", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!((summary["imported"].as_u64(), summary["skipped"].as_u64()), (Some(250), Some(0)));
    assert_eq!(identity(&log(&target)), identity(&log(&source)));

    let bytes_before = std::fs::read(&target).unwrap();
    let output = run(&["import", "--store", &target, "--input", &archive, "--json"]);
    assert!(output.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!((summary["imported"].as_u64(), summary["skipped"].as_u64()), (Some(0), Some(250)));
    assert_eq!(log(&target).len(), 250, "nothing written the second time");
    assert_eq!(std::fs::read(&target).unwrap().len(), bytes_before.len());

    // Through a pipe too, and into a tenant of a data directory.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let exported = Command::new(env!("CARGO_BIN_EXE_eventlite")).args(["export", "--store", &source]).output().unwrap();
    let mut import = Command::new(env!("CARGO_BIN_EXE_eventlite"))
        .args(["import", "--data-dir", data.to_str().unwrap(), "--tenant", "acme"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut import.stdin.take().unwrap(), &exported.stdout).unwrap();
    assert!(import.wait().unwrap().success());
    assert_eq!(identity(&log(data.join("acme.db").to_str().unwrap())), identity(&log(&source)));
}

#[test]
fn a_malformed_line_is_reported_by_number_and_only_the_batches_before_it_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (source, archive, target) = (path(dir.path(), "a.db"), path(dir.path(), "a.ndjson"), path(dir.path(), "b.db"));
    seeded(&source, 10);
    ok(&["export", "--store", &source, "--output", &archive]);
    let mut lines: Vec<String> = std::fs::read_to_string(&archive).unwrap().lines().map(str::to_owned).collect();
    lines[6] = r#"{"event_id":"not a uuid""#.into(); // line 7
    std::fs::write(&archive, lines.join("\n") + "\n").unwrap();
    let (code, stderr) = fails(&["import", "--store", &target, "--input", &archive, "--batch-size", "3"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("error[MALFORMED_LINE]") && stderr.contains("line 7"), "{stderr}");
    // Batches of 3: lines 1-3 and 4-6 were committed; the batch holding line 7 was not started.
    assert_eq!(identity(&log(&target)), identity(&log(&source)[..6]));

    // A dry run of the repaired file reports what it would do and writes nothing.
    ok(&["export", "--store", &source, "--output", &path(dir.path(), "good.ndjson")]);
    let fixed: Vec<String> =
        std::fs::read_to_string(path(dir.path(), "good.ndjson")).unwrap().lines().map(str::to_owned).collect();
    std::fs::write(&archive, fixed.join("\n")).unwrap(); // no newline after the last line: still read
    let output = run(&["import", "--store", &target, "--input", &archive, "--dry-run", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!((summary["imported"].as_u64(), summary["skipped"].as_u64()), (Some(4), Some(6)));
    assert_eq!(log(&target).len(), 6, "a dry run writes nothing");

    // An event that contradicts the store (same id, other data) is refused with its line and code.
    let mut conflicting: serde_json::Value = serde_json::from_str(&fixed[1]).unwrap();
    conflicting["recorded_at"] = json!(1);
    std::fs::write(&archive, format!("{}\n{conflicting}\n", fixed[0])).unwrap();
    let (code, stderr) = fails(&["import", "--store", &target, "--input", &archive]);
    assert_eq!(code, 5);
    assert!(stderr.contains("error[IDEMPOTENCY_CONFLICT]") && stderr.contains("line 2"), "{stderr}");
    assert_eq!(log(&target).len(), 6);

    // A line too long to be an event (here: no newline at all) is refused before it fills memory.
    std::fs::write(&archive, vec![b'x'; 17 * 1024 * 1024]).unwrap();
    let (code, stderr) = fails(&["import", "--store", &target, "--input", &archive]);
    assert_eq!(code, 5);
    assert!(stderr.contains("error[MALFORMED_LINE]") && stderr.contains("line 1: is longer than"), "{stderr}");
    assert_eq!(log(&target).len(), 6);
}

/// Reads stdout lines of a child into a channel.
fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn interrupt(child: &mut Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "tail stopped with {status:?}");
            return;
        }
        assert!(Instant::now() < deadline, "tail did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `tail` and waits until it says it is following (its subscription exists, so nothing committed after this
/// returns can be missed).
fn spawn_tail(args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlite"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("following") && line.contains("Ctrl-C"), "tail said {line:?}");
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    child
}

#[test]
fn tail_follows_appends_made_by_another_process_with_its_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "a.db");
    seeded(&store, 3);
    let mut tail = spawn_tail(&["tail", "--store", &store, "--category", "order", "--json"]);
    let lines = lines_of(&mut tail);
    for (stream, event_type) in [("user-9", "Ignored"), ("order-9", "Placed")] {
        ok(&["append", "--store", &store, "--stream", stream, "--type", event_type, "--data", r#"{"x":1}"#]);
    }
    let line = lines.recv_timeout(Duration::from_secs(20)).expect("tail printed the other process's append");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (event["stream"].as_str(), event["type"].as_str(), event["data"]["x"].as_i64()),
        (Some("order-9"), Some("Placed"), Some(1))
    );
    interrupt(&mut tail);
    assert!(lines.try_iter().all(|line| !line.contains("user-9")), "the filter holds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_events_pushed_to_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(support::sqlite_backend(dir.path())).await;
    let device = Store::open_in_memory().unwrap();
    device.append_to_stream("order-1", &[NewEvent::json("Old", &1)], ExpectedVersion::Any).unwrap();
    support::client(&server, TOKEN_A, device.clone()).sync().await.unwrap();
    let url = server.url();
    let mut tail =
        tokio::task::spawn_blocking(move || spawn_tail(&["tail", "--server", &url, "--token", TOKEN_A, "--json"]))
            .await
            .unwrap();
    let lines = lines_of(&mut tail);
    device.append_to_stream("order-2", &[NewEvent::json("Pushed", &2)], ExpectedVersion::Any).unwrap();
    support::client(&server, TOKEN_A, device.clone()).sync().await.unwrap();
    let line = tokio::task::spawn_blocking(move || lines.recv_timeout(Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("tail printed the pushed event");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (event["stream"].as_str(), event["type"].as_str()),
        (Some("order-2"), Some("Pushed")),
        "only new events"
    );
    tokio::task::spawn_blocking(move || interrupt(&mut tail)).await.unwrap();
    // The server's tenant database, read beside the running server.
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let stats: serde_json::Value =
        serde_json::from_str(&ok(&["stats", "--data-dir", &data_dir, "--tenant", "acme", "--json"])).unwrap();
    assert_eq!(stats["events"].as_u64(), Some(2), "{stats}");
    assert!(stats["sync"]["server_log_id"].is_string(), "{stats}");
    ok(&["check", "--data-dir", &data_dir, "--tenant", "acme"]);
    server.stop().await;
}

#[test]
fn backup_during_concurrent_appends_gives_a_store_that_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let (store, copy) = (path(dir.path(), "live.db"), path(dir.path(), "copy.db"));
    let writer = seeded(&store, 100);
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<NewEvent> = (0..10).map(|i| NewEvent::json("Tick", &(n * 10 + i))).collect();
                writer.append_to_stream(&format!("tick-{}", n % 5), &batch, ExpectedVersion::Any).unwrap();
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let summary: serde_json::Value =
        serde_json::from_str(&ok(&["backup", "--store", &store, "--output", &copy, "--json"])).unwrap();
    stop.store(true, Ordering::Relaxed);
    let batches = appender.join().unwrap();
    assert!(batches > 0);
    let check: serde_json::Value = serde_json::from_str(&ok(&["check", "--store", &copy, "--json"])).unwrap();
    assert_eq!(check["healthy"], true, "{check}");
    let copied = log(&copy);
    assert_eq!(summary["events"].as_u64(), Some(copied.len() as u64));
    assert!(copied.len() >= 100 && (copied.len() - 100) % 10 == 0, "whole batches only: {}", copied.len());
    assert_eq!(identity(&copied), identity(&log(&store)[..copied.len()]), "a prefix of the live log");
    let (code, stderr) = fails(&["backup", "--store", &store, "--output", &copy]);
    assert_eq!(code, 2, "never overwrites: {stderr}");
    assert!(stderr.contains("OUTPUT_EXISTS"), "{stderr}");
}

#[test]
fn check_finds_a_row_deleted_from_the_middle_of_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "a.db");
    drop(seeded(&store, 100));
    ok(&["check", "--store", &store]);
    let connection = rusqlite::Connection::open(&store).unwrap();
    connection.execute("DELETE FROM events WHERE stream = 'order-0' AND version = 2", []).unwrap();
    drop(connection);
    let output = run(&["check", "--store", &store, "--json"]);
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["healthy"], false);
    let problem = &report["problems"][0];
    assert_eq!(
        (problem["check"].as_str(), problem["stream"].as_str()),
        (Some("VERSION_GAP"), Some("order-0")),
        "{report}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("error[UNHEALTHY]"));
}

#[test]
fn read_streams_and_stats_show_the_store_and_never_write_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "a.db");
    drop(seeded(&store, 21));
    let before = std::fs::read(&store).unwrap();
    let all: Vec<serde_json::Value> =
        ok(&["read", "--store", &store]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(all.len(), 21);
    let stream = ok(&["read", "--store", &store, "order-0", "--backwards", "--count", "2"]);
    let versions: Vec<u64> = stream
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1], "order-0 holds n = 0 only (n % 3 == 0 and n % 7 == 0 below 21)");
    let filtered = ok(&["read", "--store", &store, "--category", "user", "--type", "Placed", "--after", "3"]);
    for line in filtered.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(event["stream"].as_str().unwrap().starts_with("user-") && event["type"] == "Placed");
        assert!(event["position"].as_u64().unwrap() > 3);
    }
    assert!(!filtered.is_empty());
    let streams: Vec<serde_json::Value> = ok(&["streams", "--store", &store, "--prefix", "cart-"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(streams.iter().all(|s| s["stream"].as_str().unwrap().starts_with("cart-")));
    assert_eq!(streams.iter().map(|s| s["event_count"].as_u64().unwrap()).sum::<u64>(), 7);
    let stats: serde_json::Value = serde_json::from_str(&ok(&["stats", "--store", &store])).unwrap();
    assert_eq!(
        (stats["events"].as_u64(), stats["schema_version"].as_u64()),
        (Some(21), Some(u64::from(eventlite::schema::VERSION)))
    );
    assert_eq!(stats["categories"]["order"].as_u64(), Some(7));
    assert_eq!(stats["sync"]["pending"].as_u64(), Some(21));
    ok(&["check", "--store", &store]);
    ok(&["export", "--store", &store, "--output", &path(dir.path(), "x.ndjson")]);
    assert_eq!(std::fs::read(&store).unwrap(), before, "read-only tools never wrote to the database");
}

#[test]
fn bad_input_gets_a_clear_error_and_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "a.db");
    drop(seeded(&store, 5));
    let missing = path(dir.path(), "missing.db");
    let foreign = path(dir.path(), "foreign.db");
    std::fs::write(&foreign, b"this is not a database, just some bytes that are long enough to look like a header....")
        .unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let before = log(&store);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["read", "--store", &missing], 4, "STORE_NOT_FOUND"),
        (vec!["stats", "--data-dir", &data_dir, "--tenant", "nobody"], 4, "STORE_NOT_FOUND"),
        (vec!["streams", "--data-dir", &data_dir, "--tenant", "../etc"], 2, "INVALID_ARGUMENT"),
        (vec!["check", "--store", &foreign], 6, "NOT_A_DATABASE"),
        (vec!["read"], 2, "INVALID_ARGUMENT"),
        (vec!["read", "--store", &store, "--type", ""], 2, "INVALID_ARGUMENT"),
        (vec!["read", "--store", &store, "order-0", "--category", "order"], 2, "INVALID_ARGUMENT"),
        (vec!["read", "--store", &store, "bell\u{7}"], 2, "INVALID_ARGUMENT"),
        (vec!["streams", "--store", &store, "--prefix", ""], 2, "INVALID_ARGUMENT"),
        (vec!["export", "--store", &store, "--output", &store], 2, "OUTPUT_EXISTS"),
        (vec!["import", "--store", &store, "--input", &missing], 1, "IO_ERROR"),
        (vec!["tail"], 2, "INVALID_ARGUMENT"),
    ];
    for (args, code, error) in cases {
        let (got, stderr) = fails(&args);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("error[{error}]")), "{args:?}: {stderr}");
    }
    // Usage errors found by the parser: exit 2 with clap's message.
    for args in [
        vec!["read", "--store", &store, "--from-version", "1"],
        vec!["read", "--store", &store, "--count", "-1"],
        vec!["import", "--store", &store, "--batch-size", "0"],
        vec!["backup", "--store", &store],
        vec!["read", "--store", &store, "--data-dir", &data_dir, "--tenant", "acme"],
        vec!["frobnicate"],
    ] {
        let (got, stderr) = fails(&args);
        assert_eq!(got, 2, "{args:?}: {stderr}");
    }
    assert_eq!(log(&store), before, "the stored data is unchanged");
    assert!(!Path::new(&missing).exists(), "nothing was created");
    // Every command explains itself with examples.
    for command in ["read", "tail", "streams", "stats", "export", "import", "check", "backup"] {
        let help = ok(&[command, "--help"]);
        assert!(help.contains("Examples:") && help.contains("--store"), "{command}: {help}");
    }
}

/// Makes `file` a schema v3 store as the previous release wrote it: no projection tables, user_version 3.
fn make_v3(file: &str) {
    let connection = rusqlite::Connection::open(file).unwrap();
    connection
        .execute_batch(
            "DROP TABLE projections; DROP TABLE projection_undo; DROP TABLE projection_recording;
             DROP TABLE projection_table_versions; DROP TABLE projection_generation; PRAGMA user_version = 3;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
}

#[test]
fn the_read_only_tools_read_a_previous_schema_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "v3.db");
    drop(seeded(&store, 5));
    make_v3(&store);
    let before = std::fs::read(&store).unwrap();
    assert_eq!(ok(&["read", "--store", &store, "--json"]).lines().count(), 5);
    let exported = path(dir.path(), "v3.ndjson");
    ok(&["export", "--store", &store, "--output", &exported]);
    assert_eq!(std::fs::read_to_string(&exported).unwrap().lines().count(), 5);
    let output = run(&["check", "--store", &store, "--json"]);
    assert!(
        output.status.success(),
        "an older readable schema is healthy: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["schema_version"], 3, "{report}");
    assert!(report["notes"][0].as_str().unwrap().contains("older"), "{report}");
    let output = run(&["check", "--store", &store]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("note: schema version 3"), "a note on stderr");
    let stats: serde_json::Value = serde_json::from_str(&ok(&["stats", "--store", &store, "--json"])).unwrap();
    assert_eq!(stats["schema_version"], 3);
    let copy = path(dir.path(), "copy.db");
    ok(&["backup", "--store", &store, "--output", &copy]);
    assert_eq!(std::fs::read(&store).unwrap(), before, "the file was not migrated or written");
    // A schema older than a read-only open reads, and an empty file: not a store this binary can read (exit 6).
    let connection = rusqlite::Connection::open(&store).unwrap();
    connection.execute_batch("PRAGMA user_version = 2").unwrap();
    drop(connection);
    let empty = path(dir.path(), "empty.db");
    std::fs::write(&empty, b"").unwrap();
    for (file, code) in [(&store, "SCHEMA_TOO_OLD"), (&empty, "NOT_A_DATABASE")] {
        for command in ["read", "check", "stats", "export", "streams"] {
            let (exit, stderr) = fails(&[command, "--store", file]);
            assert_eq!(exit, 6, "{command} {file}: {stderr}");
            assert!(stderr.contains(&format!("error[{code}]")), "{command} {file}: {stderr}");
        }
    }
    assert_eq!(std::fs::read(&empty).unwrap(), b"", "the empty file stays empty");
}

/// Spawns `eventlite` with piped stdout and stderr.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_eventlite"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn ctrl_c_stops_tail_while_the_server_has_not_answered_its_first_pull() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut connections = Vec::new();
        for connection in listener.incoming().take(4) {
            connections.push(connection);
        }
    });
    let mut tail = spawn(&["tail", "--server", &url, "--token", TOKEN_A]);
    std::thread::sleep(Duration::from_secs(1));
    let sent = Instant::now();
    Command::new("kill").args(["-INT", &tail.id().to_string()]).status().unwrap();
    loop {
        if let Some(status) = tail.try_wait().unwrap() {
            assert!(status.success(), "tail stopped with {status:?}");
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(2), "tail did not stop within 2 s of SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_from_a_server_prints_its_positions_and_reports_the_server_dying() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(support::sqlite_backend(dir.path())).await;
    let device = Store::open_in_memory().unwrap();
    // More than two pull pages (1,000 events each) before the head, in batches a push carries.
    for batch in 0..50 {
        let old: Vec<NewEvent> = (0..50).map(|n| NewEvent::json("Old", &(batch * 50 + n))).collect();
        device.append_to_stream("order-1", &old, ExpectedVersion::Any).unwrap();
    }
    support::client(&server, TOKEN_A, device.clone()).sync().await.unwrap();
    let url = server.url();
    let mut tail =
        tokio::task::spawn_blocking(move || spawn(&["tail", "--server", &url, "--token", TOKEN_A, "--json"]))
            .await
            .unwrap();
    let lines = lines_of(&mut tail);
    let (errors_send, errors) = std::sync::mpsc::channel();
    let stderr = tail.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = errors_send.send(line);
        }
    });
    let following = errors.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(following.contains("following") && following.contains("after position 2500"), "{following}");
    device.append_to_stream("user-2", &[NewEvent::json("Pushed", &2)], ExpectedVersion::Any).unwrap();
    support::client(&server, TOKEN_A, device.clone()).sync().await.unwrap();
    let line = tokio::task::spawn_blocking(move || (lines.recv_timeout(Duration::from_secs(20)), lines)).await.unwrap();
    let (line, lines) = (line.0.expect("tail printed the pushed event"), line.1);
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!((event["stream"].as_str(), event["type"].as_str()), (Some("user-2"), Some("Pushed")), "only new events");
    // The server's position of the event: the tenant database's.
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let last = ok(&["read", "--data-dir", &data_dir, "--tenant", "acme", "--json"]).lines().last().unwrap().to_owned();
    let stored: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(event["position"], stored["position"], "the server's position");
    server.stop().await;
    let error = tokio::task::spawn_blocking(move || errors.recv_timeout(Duration::from_secs(20))).await.unwrap();
    let error = error.expect("tail reported the lost server");
    assert!(error.contains("error[NETWORK]") && error.contains("retrying"), "{error}");
    tokio::task::spawn_blocking(move || interrupt(&mut tail)).await.unwrap();
    assert!(lines.try_iter().all(|line| !line.contains("\"Old\"")), "nothing before the head was printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_from_a_server_with_a_refused_token_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(support::sqlite_backend(dir.path())).await;
    let url = server.url();
    let output =
        tokio::task::spawn_blocking(move || run(&["tail", "--server", &url, "--token", "not-a-token"])).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error[UNAUTHORIZED]"), "{stderr}");
    server.stop().await;
}

#[cfg(unix)]
#[test]
fn backup_and_export_never_write_through_a_dangling_link_or_over_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "a.db");
    drop(seeded(&store, 3));
    let (link, target) = (path(dir.path(), "link"), path(dir.path(), "target"));
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let existing = path(dir.path(), "existing");
    std::fs::write(&existing, b"keep me").unwrap();
    for output in [&link, &existing] {
        for command in ["backup", "export"] {
            let (exit, stderr) = fails(&[command, "--store", &store, "--output", output]);
            assert_eq!(exit, 2, "{command} {output}: {stderr}");
            assert!(stderr.contains("error[OUTPUT_EXISTS]"), "{stderr}");
        }
    }
    assert!(!Path::new(&target).exists(), "the link's target was not created");
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    let copy = path(dir.path(), "copy.ndjson");
    ok(&["export", "--store", &store, "--output", &copy]);
    assert_eq!(std::fs::read_to_string(&copy).unwrap().lines().count(), 3);
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|name| !name.contains("tmp")), "no temporary file is left: {names:?}");
}

#[test]
fn an_import_line_without_data_is_refused_and_nothing_of_its_batch_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "a.db");
    let input = path(dir.path(), "in.ndjson");
    std::fs::write(
        &input,
        concat!(
            r#"{"event_id":"00000000-0000-0000-0000-000000000001","stream":"a-1","version":1,"type":"E","data":null,"recorded_at":1}"#,
            "\n",
            r#"{"event_id":"00000000-0000-0000-0000-000000000002","stream":"a-1","version":2,"type":"E","recorded_at":1}"#,
            "\n"
        ),
    )
    .unwrap();
    let (exit, stderr) = fails(&["import", "--store", &store, "--input", &input]);
    assert_eq!(exit, 5, "{stderr}");
    assert!(stderr.contains("error[MALFORMED_LINE]") && stderr.contains("line 2"), "{stderr}");
    assert!(log(&store).is_empty(), "the batch holding it was not written");
}

#[test]
fn a_projection_failing_on_an_imported_event_is_bad_input_and_its_batch_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "a.db");
    let projection = eventlite::Projection::from_json(
        r#"{"name":"ids","version":1,"setup":"CREATE TABLE ids (id INTEGER PRIMARY KEY)",
            "handlers":[{"type":"E","statements":["INSERT INTO ids (id) VALUES (:data ->> '$.id')"]}]}"#,
    )
    .unwrap();
    Store::open(&store).unwrap().register_projection(&projection).unwrap();
    let line = |n: u128, stream: &str| {
        format!(
            "{{\"event_id\":\"{}\",\"stream\":\"{stream}\",\"version\":1,\"type\":\"E\",\"data\":{{\"id\":7}},\"recorded_at\":1}}\n",
            Uuid::from_u128(n)
        )
    };
    let input = path(dir.path(), "in.ndjson");
    std::fs::write(&input, line(1, "a-1") + &line(2, "b-1")).unwrap();
    let (exit, stderr) = fails(&["import", "--store", &store, "--input", &input]);
    assert_eq!(exit, 5, "{stderr}");
    assert!(stderr.contains("error[PROJECTION_FAILED]"), "{stderr}");
    assert!(log(&store).is_empty(), "nothing of the batch was written");
}

#[test]
fn an_import_line_of_exactly_16_mib_is_read_and_a_longer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 16 * 1024 * 1024;
    let event = r#"{"event_id":"00000000-0000-0000-0000-000000000001","stream":"a-1","version":1,"type":"E","data":1,"recorded_at":1}"#;
    for (length, accepted) in [(limit, true), (limit + 1, false)] {
        let store = path(dir.path(), &format!("{length}.db"));
        let input = path(dir.path(), &format!("{length}.ndjson"));
        // Whitespace after the event is part of the line.
        std::fs::write(&input, format!("{event}{}\n", " ".repeat(length - event.len()))).unwrap();
        let output = run(&["import", "--store", &store, "--input", &input]);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if accepted {
            assert!(output.status.success(), "{stderr}");
            assert_eq!(log(&store).len(), 1);
        } else {
            assert_eq!(output.status.code(), Some(5), "{stderr}");
            assert!(stderr.contains("error[MALFORMED_LINE]") && stderr.contains("longer than"), "{stderr}");
        }
    }
}

#[test]
fn stats_list_the_top_categories_and_count_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "a.db");
    let store = Store::open(&file).unwrap();
    for n in 0..25 {
        store
            .append_to_stream(&format!("c{n}-1"), &[NewEvent::json(format!("T{n}"), &n)], ExpectedVersion::Any)
            .unwrap();
    }
    drop(store);
    let stats: serde_json::Value = serde_json::from_str(&ok(&["stats", "--store", &file, "--json"])).unwrap();
    assert_eq!(stats["categories"].as_object().unwrap().len(), 20, "{stats}");
    assert_eq!(stats["other_categories"], json!({ "names": 5, "events": 5 }), "{stats}");
    assert_eq!(stats["event_types"].as_object().unwrap().len(), 20, "{stats}");
    assert_eq!(stats["other_event_types"], json!({ "names": 5, "events": 5 }), "{stats}");
}
