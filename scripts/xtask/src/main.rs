//! EventLite's named tasks: `cargo xtask <task> [<task> ...]`, the one entry point that people and CI share
//! (`scripts/test.sh` is `cargo xtask ci`). Each task runs commands from the repository root with the environment
//! the wasm32 and browser tests need; the first failing command stops the run with its exit code.
//!
//! Tasks are plain lists of commands, mostly the scripts in `scripts/`: this program adds names, the shared
//! environment, the optional-PostgreSQL rule and the version check, nothing else. `cargo xtask` lists them.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// A named task: what it is for, and what it runs.
struct Task {
    name: &'static str,
    about: &'static str,
    run: fn(&Context) -> Result<(), Failure>,
}

const TASKS: &[Task] = &[
    Task { name: "setup", about: "install what the tests need (idempotent; quick when done)", run: setup },
    Task { name: "lint", about: "rustfmt, clippy (native and wasm32), the version check", run: lint },
    Task { name: "check-versions", about: "the Cargo, npm and Python package versions agree", run: check_versions },
    Task { name: "test-core", about: "core's unit and integration tests (native)", run: test_core },
    Task { name: "test-core-wasm", about: "core's unit tests on wasm32 in Node", run: test_core_wasm },
    Task { name: "test-client", about: "the device sync client", run: test_client },
    Task {
        name: "test-server",
        about: "the sync server and its HTTP API (schemathesis); PostgreSQL parts skipped, loudly, when it is down",
        run: test_server,
    },
    Task {
        name: "test-native",
        about: "the native library: Rust, Python wheel, Kotlin on the JVM, Swift header",
        run: test_native,
    },
    Task { name: "build-js", about: "build the npm package into js/dist", run: build_js },
    Task { name: "test-js", about: "the wasm bindings and the npm package in Node (no browser)", run: test_js },
    Task {
        name: "test-js-runtimes",
        about: "the packed npm package in workerd (wrangler dev), Deno and Bun; the Node-API addon's file stores",
        run: test_js_runtimes,
    },
    Task { name: "test-browser", about: "the package and the demo in Chromium (OPFS, tabs, sync)", run: test_browser },
    Task {
        name: "test-edge",
        about: "the Durable Object sync backend under wrangler dev: the shared protocol suite, convergence, restart, demo",
        run: test_edge,
    },
    Task { name: "test-e2e", about: "one log across Python, Kotlin and the browser", run: test_e2e },
    Task { name: "ci", about: "everything above, in order: what scripts/test.sh and .ci/run run", run: ci },
];

struct Context {
    root: PathBuf,
}

#[derive(Debug)]
struct Failure(String);

fn main() -> ExitCode {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root");
    let context = Context { root };
    if names.is_empty() || names.iter().any(|name| name == "help" || name == "--help") {
        print_tasks();
        return ExitCode::SUCCESS;
    }
    for name in &names {
        let Some(task) = TASKS.iter().find(|task| task.name == name) else {
            eprintln!("xtask: no task {name:?}");
            print_tasks();
            return ExitCode::from(2);
        };
        if let Err(Failure(why)) = (task.run)(&context) {
            eprintln!("\nxtask: {name} failed: {why}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn print_tasks() {
    println!("cargo xtask <task> [<task> ...]\n");
    for task in TASKS {
        println!("  {:<15} {}", task.name, task.about);
    }
}

fn step(what: &str) {
    println!("\n==> {what}");
}

/// Runs `program args` from the repository root with the shared environment; fails on a non-zero exit.
fn run(context: &Context, program: &str, args: &[&str]) -> Result<(), Failure> {
    let home =
        std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    let path = format!("{home}/bin:{}", std::env::var("PATH").unwrap_or_default());
    let status = Command::new(program)
        .args(args)
        .current_dir(&context.root)
        .env("PATH", path)
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CC_wasm32_unknown_unknown", "clang")
        .env("AR_wasm32_unknown_unknown", "llvm-ar")
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", std::env::var("WASM_BINDGEN_TEST_TIMEOUT").unwrap_or_else(|_| "120".into()))
        .status()
        .map_err(|error| Failure(format!("{program}: {error}")))?;
    if status.success() { Ok(()) } else { Err(Failure(format!("`{program} {}` exited with {status}", args.join(" ")))) }
}

fn bash(context: &Context, script: &str) -> Result<(), Failure> {
    run(context, "bash", &[script])
}

fn setup(context: &Context) -> Result<(), Failure> {
    step("setup (scripts/setup.sh)");
    bash(context, "scripts/setup.sh")
}

fn lint(context: &Context) -> Result<(), Failure> {
    step("format");
    run(context, "cargo", &["fmt", "--all", "--", "--check"])?;
    step("clippy (native)");
    run(context, "cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    // The server's tests against the Durable Object backend, built only with this feature (scripts/test-edge.sh).
    let edge_tests = ["-p", "eventlite-server", "--all-targets", "--features", "edge-tests", "--locked"];
    run(context, "cargo", &[&["clippy"][..], &edge_tests, &["--", "-D", "warnings"]].concat())?;
    step("clippy (wasm32)");
    let wasm = ["--all-targets", "--target", "wasm32-unknown-unknown", "--locked", "--", "-D", "warnings"];
    run(context, "cargo", &[&["clippy", "-p", "eventlite"][..], &wasm].concat())?;
    run(context, "cargo", &[&["clippy", "-p", "eventlite-wasm", "--all-features"][..], &wasm].concat())?;
    // The edge's wasm: core without SQLite (its `sqlite` feature off) and the shared protocol rules.
    run(context, "cargo", &[&["clippy", "-p", "eventlite-edge-wasm", "-p", "eventlite-protocol"][..], &wasm].concat())?;
    run(
        context,
        "cargo",
        &["clippy", "-p", "eventlite", "--no-default-features", "--lib", "--locked", "--", "-D", "warnings"],
    )?;
    check_versions(context)
}

/// The workspace version (every crate), the npm package's and the Python wheel's must be one version.
fn check_versions(context: &Context) -> Result<(), Failure> {
    step("versions: Cargo workspace, js/package.json, the addon's platform package, native/pyproject.toml");
    let read = |path: &str| {
        std::fs::read_to_string(context.root.join(path)).map_err(|error| Failure(format!("{path}: {error}")))
    };
    let cargo = read("Cargo.toml")?;
    let workspace =
        section_value(&cargo, "[workspace.package]", "version").ok_or(Failure("no workspace version".into()))?;
    let npm =
        json_string(&read("js/package.json")?, "version").ok_or(Failure("no version in js/package.json".into()))?;
    let python = section_value(&read("native/pyproject.toml")?, "[project]", "version")
        .ok_or(Failure("no version in pyproject".into()))?;
    // The Node-API addon's platform package (js/addon/npm/linux-x64-gnu) is published beside `eventlite`.
    let addon = json_string(&read("js/addon/npm/linux-x64-gnu/package.json")?, "version")
        .ok_or(Failure("no version in js/addon/npm/linux-x64-gnu/package.json".into()))?;
    println!("Cargo {workspace}, npm {npm} (addon {addon}), Python {python}");
    if workspace == npm && npm == python && addon == npm {
        Ok(())
    } else {
        Err(Failure(format!(
            "versions differ: Cargo {workspace}, npm {npm}, addon {addon}, Python {python}: bump them together"
        )))
    }
}

/// The string value of `key = "..."` in a TOML `section` (enough for the files this repository writes).
fn section_value(toml: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == section;
            continue;
        }
        let value = line.split_once('=').filter(|(name, _)| inside && name.trim() == key).map(|(_, value)| value);
        if let Some(value) = value {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The top-level string field `key` of a package.json (its first occurrence).
fn json_string(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

fn test_core(context: &Context) -> Result<(), Failure> {
    step("core tests (native)");
    run(context, "cargo", &["test", "-p", "eventlite", "--locked"])
}

fn test_core_wasm(context: &Context) -> Result<(), Failure> {
    step("core tests (wasm32 in Node)");
    run(context, "cargo", &["test", "-p", "eventlite", "--target", "wasm32-unknown-unknown", "--locked"])
}

fn test_client(context: &Context) -> Result<(), Failure> {
    step("device sync client tests");
    run(context, "cargo", &["test", "-p", "eventlite-client", "--locked"])
}

fn postgres_is_up(context: &Context) -> bool {
    Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
        .current_dir(&context.root)
        .status()
        .is_ok_and(|status| status.success())
}

/// With PostgreSQL down (a laptop without it), the PostgreSQL tests are skipped and that is said loudly; `ci`
/// requires it (setup starts the local cluster).
fn test_server(context: &Context) -> Result<(), Failure> {
    test_server_with(context, false)
}

fn test_server_with(context: &Context, require_postgres: bool) -> Result<(), Failure> {
    step("sync server tests (native)");
    let postgres = postgres_is_up(context);
    if !postgres && require_postgres {
        return Err(Failure("PostgreSQL is not reachable on 127.0.0.1:5432 (run `cargo xtask setup`)".into()));
    }
    run(context, "cargo", &["test", "-p", "eventlite-protocol", "-p", "eventlite-edge-wasm", "--locked"])?;
    if postgres {
        run(context, "cargo", &["test", "-p", "eventlite-server", "--locked"])?;
    } else {
        println!("\n!!! PostgreSQL is not reachable on 127.0.0.1:5432: SKIPPING every PostgreSQL test !!!\n");
        run(context, "cargo", &["test", "-p", "eventlite-server", "--locked", "--", "--skip", "postgres"])?;
    }
    step("the HTTP API against docs/openapi.yaml (scripts/test-server-api.sh, schemathesis)");
    if postgres {
        bash(context, "scripts/test-server-api.sh")
    } else {
        println!("!!! SKIPPING the PostgreSQL half of the API check !!!");
        run(context, "env", &["EVENTLITE_API_BACKENDS=sqlite", "bash", "scripts/test-server-api.sh"])
    }
}

fn test_native(context: &Context) -> Result<(), Failure> {
    step("native library (scripts/test-native.sh)");
    bash(context, "scripts/test-native.sh")
}

fn build_js(context: &Context) -> Result<(), Failure> {
    step("npm package build (js/scripts/build.sh)");
    run(context, "bash", &["-c", "source scripts/lib.sh && npm_ci js && bash js/scripts/build.sh"])
}

fn test_js(context: &Context) -> Result<(), Failure> {
    step("wasm bindings and the npm package, in Node (scripts/test-js.sh node)");
    run(context, "bash", &["scripts/test-js.sh", "node"])
}

fn test_js_runtimes(context: &Context) -> Result<(), Failure> {
    build_js(context)?;
    step("the packed npm package in other runtimes (scripts/test-js-runtimes.sh)");
    bash(context, "scripts/test-js-runtimes.sh")
}

fn test_browser(context: &Context) -> Result<(), Failure> {
    step("the npm package in Chromium (scripts/test-js.sh browser)");
    run(context, "bash", &["scripts/test-js.sh", "browser"])?;
    step("the demo and browser sync (scripts/test-www.sh)");
    bash(context, "scripts/test-www.sh")
}

fn test_edge(context: &Context) -> Result<(), Failure> {
    step("the Durable Object sync backend (scripts/test-edge.sh)");
    bash(context, "scripts/test-edge.sh")
}

fn test_e2e(context: &Context) -> Result<(), Failure> {
    step("one log across Python, Kotlin and the browser (scripts/test-cross-platform.sh)");
    bash(context, "scripts/test-cross-platform.sh")
}

fn ci(context: &Context) -> Result<(), Failure> {
    setup(context)?;
    lint(context)?;
    test_core(context)?;
    test_client(context)?;
    test_server_with(context, true)?;
    test_core_wasm(context)?;
    test_native(context)?;
    step("wasm bindings, npm package, browser tests (scripts/test-js.sh)");
    bash(context, "scripts/test-js.sh")?;
    step("the packed npm package in other runtimes (scripts/test-js-runtimes.sh)");
    bash(context, "scripts/test-js-runtimes.sh")?;
    step("the demo and browser sync (scripts/test-www.sh)");
    bash(context, "scripts/test-www.sh")?;
    // After test-www: the npm package and www/dist are built, so the edge's demo test does not build them again.
    step("the Durable Object sync backend (scripts/test-edge.sh)");
    run(context, "env", &["EVENTLITE_EDGE_REUSE_WWW_BUILD=1", "bash", "scripts/test-edge.sh"])?;
    test_e2e(context)?;
    println!("\nall tests passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_their_sections_only() {
        let toml =
            "[workspace.dependencies]\nversion = \"9\"\n[workspace.package]\nversion = \"0.2.0\"\nedition = \"2024\"\n";
        assert_eq!(section_value(toml, "[workspace.package]", "version").as_deref(), Some("0.2.0"));
        assert_eq!(section_value(toml, "[project]", "version"), None);
        let json = "{\n  \"name\": \"eventlite\",\n  \"version\" : \"0.2.0\",\n  \"deps\": {\"version\": \"1\"}\n}";
        assert_eq!(json_string(json, "version").as_deref(), Some("0.2.0"));
        assert_eq!(json_string(json, "missing"), None);
    }
}
