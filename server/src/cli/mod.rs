//! The `eventlite` command line: the sync server (`serve`), device tools (`append`, `sync`, `log`, `token`) and the
//! store tools (`read`, `tail`, `streams`, `stats`, `export`, `import`, `check`, `backup`) over a store file or a
//! tenant's database in a server's data directory. One module per command; `output` renders, `exit` maps failures
//! to exit codes, `target` finds the store. The logic (archive import, checks, stats, stream listing, backups)
//! lives in core (`eventlite::archive`, `eventlite::inspect`); this module parses arguments and renders.
//! Reference: `docs/cli.md`.

mod backup;
mod check;
mod device;
mod exit;
mod export;
mod import;
mod output;
mod progress;
mod read;
mod serve;
mod stats;
mod streams;
mod tail;
mod target;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli::exit::CliError;

#[derive(Parser)]
#[command(
    name = "eventlite",
    version,
    about = "EventLite: sync server and tools",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage, 3 unhealthy store (check), 4 no such store, 5 bad input \
                  (import), 6 not an EventLite store. Errors go to stderr as `eventlite: error[CODE]: message`. \
                  Reference: docs/cli.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the sync server.
    Serve(serve::Serve),
    /// Reads a stream, or the whole log with filters.
    Read(read::Read),
    /// Follows new events live, from a local store or a server.
    Tail(tail::Tail),
    /// Lists streams with their version, event count, first and last position and time.
    Streams(streams::Streams),
    /// Counts, sizes, positions, categories, types and sync state of a store.
    Stats(stats::Stats),
    /// Writes the log as NDJSON.
    Export(export::Export),
    /// Reads NDJSON (the export format) into a store, idempotently.
    Import(import::Import),
    /// Verifies a store; exit code 3 when it is not healthy.
    Check(check::Check),
    /// Writes an online, consistent copy of a live store.
    Backup(backup::Backup),
    /// Appends one event to a local store.
    Append {
        /// The local store file.
        #[arg(long)]
        store: PathBuf,
        /// The stream.
        #[arg(long)]
        stream: String,
        /// The event type.
        #[arg(long = "type")]
        event_type: String,
        /// JSON data.
        #[arg(long, default_value = "{}")]
        data: String,
        /// `any`, `no_stream`, `stream_exists` or a version number.
        #[arg(long, default_value = "any")]
        expected: String,
    },
    /// Syncs a local store with a server once, or keeps following it with `--live`.
    Sync {
        /// The local store file.
        #[arg(long)]
        store: PathBuf,
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The bearer token.
        #[arg(long, env = "EVENTLITE_TOKEN")]
        token: String,
        /// Keep following live notifications until Ctrl-C.
        #[arg(long)]
        live: bool,
    },
    /// Prints a local store's log, one JSON line per event, and its sync status.
    Log {
        /// The local store file.
        #[arg(long)]
        store: PathBuf,
    },
    /// Mints an HS256 JWT for a tenant.
    Token {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The HS256 secret.
        #[arg(long, env = "EVENTLITE_JWT_SECRET")]
        secret: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
}

/// Parses the command line, runs the command and turns its failure into a message on stderr and an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            eprintln!("eventlite: error[{}]: {}", error.code, error.message);
            ExitCode::from(error.exit)
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve(serve) => async_runtime()?.block_on(serve::run_server(serve)).map_err(CliError::from),
        Command::Read(args) => read::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Streams(args) => streams::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Export(args) => export::run(args),
        Command::Import(args) => import::run(args),
        Command::Check(args) => check::run(args),
        Command::Backup(args) => backup::run(args),
        Command::Append { store, stream, event_type, data, expected } => {
            device::append(store, &stream, event_type, data, &expected).map_err(CliError::from)
        }
        Command::Sync { store, server, token, live } => {
            async_runtime()?.block_on(device::sync(store, &server, &token, live)).map_err(CliError::from)
        }
        Command::Log { store } => device::log(store).map_err(CliError::from),
        Command::Token { tenant, secret, ttl } => token::run(&tenant, &secret, ttl).map_err(CliError::from),
    }
}

fn async_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::io("the async runtime", &error))
}
