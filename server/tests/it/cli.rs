//! The `eventlite` binary as the README uses it: `serve` on embedded SQLite with a static directory, two local
//! stores synced with `append` / `sync` / `log`, tokens from the environment and from a file, a JWT minted with
//! `token`, and a graceful exit on SIGTERM.

use std::path::Path;
use std::process::Command;

use crate::support::ServerProcess;

fn eventlite(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_eventlite")).args(args).output().unwrap();
    assert!(output.status.success(), "eventlite {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_append_sync_and_log_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "<h1>demo</h1>").unwrap();
    let data = path(dir.path(), "server");
    let tokens_file = path(dir.path(), "tokens");
    std::fs::write(&tokens_file, "# token tenant\nfile-token demo\n").unwrap();
    let server = ServerProcess::spawn(
        &["--data-dir", &data, "--static-dir", site.to_str().unwrap(), "--tokens-file", &tokens_file],
        &[("EVENTLITE_TOKENS", "demo-token:demo"), ("EVENTLITE_JWT_SECRET", "jwt-secret")],
    );
    server.wait_healthy().await;
    let page = reqwest::get(format!("{}/", server.url)).await.unwrap().text().await.unwrap();
    assert_eq!(page, "<h1>demo</h1>");

    let (a, b, c, d) =
        (path(dir.path(), "a.db"), path(dir.path(), "b.db"), path(dir.path(), "c.db"), path(dir.path(), "d.db"));
    let appended = eventlite(&[
        "append",
        "--store",
        &a,
        "--stream",
        "todo-1",
        "--type",
        "Added",
        "--data",
        r#"{"title":"milk"}"#,
        "--expected",
        "no_stream",
    ]);
    assert_eq!(appended.trim(), r#"{"position":1,"stream_version":1}"#);
    eventlite(&[
        "append",
        "--store",
        &b,
        "--stream",
        "todo-1",
        "--type",
        "Added",
        "--data",
        r#"{"title":"eggs"}"#,
        "--expected",
        "no_stream",
    ]);
    let pushed = eventlite(&["sync", "--store", &a, "--server", &server.url, "--token", "demo-token"]);
    assert_eq!(pushed.trim(), r#"{"conflicts":0,"pulled":1,"pushed":1}"#);
    let conflicted = eventlite(&["sync", "--store", &b, "--server", &server.url, "--token", "demo-token"]);
    assert_eq!(conflicted.trim(), r#"{"conflicts":1,"pulled":1,"pushed":1}"#, "b's no_stream lost to a's");
    let jwt = eventlite(&["token", "--tenant", "demo", "--secret", "jwt-secret"]);
    eventlite(&["sync", "--store", &c, "--server", &server.url, "--token", jwt.trim()]);
    eventlite(&["sync", "--store", &d, "--server", &server.url, "--token", "file-token"]);
    for store in [&a, &b, &c, &d] {
        let log = eventlite(&["log", "--store", store]);
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("milk"), "{log}");
    }
    server.terminate();
}

/// An empty JWT secret would let anyone mint a token for any tenant: `serve` and `token` refuse it with a clear
/// message instead of starting.
#[test]
fn an_empty_jwt_secret_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let data = path(dir.path(), "server");
    let runs = [
        vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data, "--tokens", "t:demo", "--jwt-secret", ""],
        vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data, "--jwt-secret", "  "],
        vec!["token", "--tenant", "demo", "--secret", ""],
    ];
    for args in runs {
        let output = Command::new(env!("CARGO_BIN_EXE_eventlite")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started");
        assert!(stderr.contains("JWT secret") && stderr.contains("empty"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed a token");
    }
}
