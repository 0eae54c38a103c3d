//! A device app depends on `eventlite-client`: it must not pull in the server's stack.

use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn the_client_pulls_in_no_server_crate() {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "eventlite-client", "-e", "normal,build", "--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let crates: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(crates.contains("eventlite") && crates.contains("reqwest"), "{crates:?}");
    for forbidden in
        ["eventlite-server", "axum", "tokio-postgres", "deadpool-postgres", "clap", "tracing-subscriber", "hmac"]
    {
        assert!(!crates.contains(forbidden), "eventlite-client depends on {forbidden}: {crates:?}");
    }
}
