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
        &[("EVENTLITE_TOKENS", "demo-token:demo"), ("EVENTLITE_JWT_SECRET", "jwt-secret-jwt-secret-jwt-secret")],
    );
    server.wait_healthy().await;
    let page = crate::support::http().get(format!("{}/", server.url)).send().await.unwrap().text().await.unwrap();
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
    let jwt = eventlite(&["token", "--tenant", "demo", "--secret", "jwt-secret-jwt-secret-jwt-secret"]);
    eventlite(&["sync", "--store", &c, "--server", &server.url, "--token", jwt.trim()]);
    eventlite(&["sync", "--store", &d, "--server", &server.url, "--token", "file-token"]);
    for store in [&a, &b, &c, &d] {
        let log = eventlite(&["log", "--store", store]);
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("milk"), "{log}");
    }
    server.terminate();
}

/// A short JWT secret (empty, 1 byte, 31 bytes) would let anyone who guesses it mint a token for any tenant: `serve`
/// and `token` refuse it with a clear message instead of starting.
#[test]
fn a_jwt_secret_under_32_bytes_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let data = path(dir.path(), "server");
    let short = "k".repeat(31);
    let runs = [
        vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data, "--tokens", "t:demo", "--jwt-secret", ""],
        vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data, "--jwt-secret", "  "],
        vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data, "--jwt-secret", "x"],
        vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data, "--jwt-secret", &short],
        vec!["token", "--tenant", "demo", "--secret", ""],
        vec!["token", "--tenant", "demo", "--secret", "x"],
    ];
    for args in runs {
        let output = Command::new(env!("CARGO_BIN_EXE_eventlite")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started");
        assert!(stderr.contains("JWT secret") && stderr.contains("at least 32"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed a token");
    }
    let token = eventlite(&["token", "--tenant", "demo", "--secret", &"k".repeat(32)]);
    assert_eq!(token.trim().matches('.').count(), 2, "{token}");
}

/// Settings a server cannot honour are refused at startup with a message naming them, never a panic or a silent
/// choice: a token listed for two tenants (in one source or across the file and the environment), malformed
/// origins, `*` mixed with origins, zero limits.
#[test]
fn ambiguous_tokens_and_bad_settings_are_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let data = path(dir.path(), "server");
    let tokens_file = path(dir.path(), "tokens");
    std::fs::write(&tokens_file, "shared acme\n").unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &data];
        args.extend_from_slice(extra);
        let output =
            Command::new(env!("CARGO_BIN_EXE_eventlite")).args(&args).env_remove("EVENTLITE_TOKENS").output().unwrap();
        assert!(!output.status.success(), "{args:?} started");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = serve(&["--tokens", "shared:acme,shared:globex"]);
    assert!(stderr.contains("two tenants") && !stderr.contains("panicked"), "{stderr}");
    let stderr = serve(&["--tokens-file", &tokens_file, "--tokens", "shared:globex"]);
    assert!(stderr.contains("two tenants"), "{stderr}");
    let stderr = serve(&["--tokens", "t:../etc"]);
    assert!(stderr.contains("invalid tenant name"), "{stderr}");
    for origin in ["localhost:5173", "http://localhost:5173/", "http://a.example/path", "ftp://a.example", "null"] {
        let stderr = serve(&["--tokens", "t:acme", "--allow-origin", origin]);
        assert!(stderr.contains("--allow-origin") && !stderr.contains("panicked"), "{origin}: {stderr}");
    }
    let stderr = serve(&["--tokens", "t:acme", "--allow-origin", "*", "--allow-origin", "http://a.example"]);
    assert!(stderr.contains("'*'") && !stderr.contains("panicked"), "{stderr}");
    for flag in [
        "--max-connections",
        "--header-timeout",
        "--idle-timeout",
        "--body-timeout",
        "--max-pull-bytes",
        "--max-live-per-tenant",
    ] {
        let stderr = serve(&["--tokens", "t:acme", flag, "0"]);
        assert!(stderr.contains(flag) && stderr.contains("greater than 0"), "{flag}: {stderr}");
    }
    // Timeouts too long to be deadlines (they overflowed every connection's clock before).
    for flag in ["--header-timeout", "--idle-timeout", "--body-timeout"] {
        let stderr = serve(&["--tokens", "t:acme", flag, "18446744073709551615"]);
        assert!(stderr.contains(flag) && stderr.contains("at most a day") && !stderr.contains("panicked"), "{stderr}");
    }
}
