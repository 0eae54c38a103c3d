//! A device app depends on `eventlite-client`: it must not pull in the server's stack, nor anything that makes
//! cross-compiling for Android and iOS harder than SQLite already does.

use std::collections::BTreeSet;
use std::process::Command;

/// `cargo tree` for the client's normal and build dependencies with `args`: the first word of each line.
fn tree(args: &[&str]) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "eventlite-client", "-e", "normal,build", "--format", "{p}"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn the_client_pulls_in_no_server_crate() {
    let crates = tree(&["--prefix", "none"]);
    assert!(crates.contains("eventlite") && crates.contains("reqwest"), "{crates:?}");
    for forbidden in
        ["eventlite-server", "axum", "tokio-postgres", "deadpool-postgres", "clap", "tracing-subscriber", "hmac"]
    {
        assert!(!crates.contains(forbidden), "eventlite-client depends on {forbidden}: {crates:?}");
    }
}

/// On every target: C is compiled only for SQLite and ring (a C compiler for the target is all they need), and
/// nothing needs CMake, NASM or OpenSSL (aws-lc-rs, native-tls).
#[test]
fn the_client_compiles_c_only_for_sqlite_and_ring() {
    let crates = tree(&["--target", "all", "--prefix", "none"]);
    assert!(cfg!(not(feature = "tls")) || crates.contains("ring"), "{crates:?}");
    for forbidden in ["cmake", "aws-lc-rs", "aws-lc-sys", "aws-lc-fips-sys", "openssl-sys", "native-tls", "bindgen"] {
        assert!(!crates.contains(forbidden), "eventlite-client depends on {forbidden}: {crates:?}");
    }
    let compiling_c: BTreeSet<String> = tree(&["--target", "all", "--prefix", "depth", "-i", "cc"])
        .into_iter()
        .filter_map(|line| {
            let name = line.trim_start_matches(|c: char| c.is_ascii_digit());
            (&line[..line.len() - name.len()] == "1").then(|| name.to_owned())
        })
        .collect();
    assert!(compiling_c.contains("libsqlite3-sys"), "the tree was read: {compiling_c:?}");
    let expected = ["libsqlite3-sys", "ring", "sqlite-wasm-rs"].map(str::to_owned);
    assert!(compiling_c.is_subset(&BTreeSet::from(expected)), "crates that compile C: {compiling_c:?}");
}
