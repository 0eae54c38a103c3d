//! `eventlite backup`: an online, consistent copy of a live store (`VACUUM INTO` in one read transaction, so
//! writers keep going and the copy holds exactly the commits before it started).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use crate::cli::exit::{CliCode, CliError};
use crate::cli::output::{self, Format, bytes};
use crate::cli::target::StoreArgs;

#[derive(Debug, Args)]
#[command(after_help = "The copy is compact, has no WAL, and opens as an ordinary store; it must not exist yet.

Examples:
  eventlite backup --store app.db --output app-2026-12-01.db
  eventlite backup --data-dir eventlite-data --tenant acme --output acme.db && eventlite check --store acme.db")]
pub struct Backup {
    #[command(flatten)]
    pub target: StoreArgs,
    /// The copy to write (must not exist).
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// A JSON summary, also the default when stdout is not a terminal.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Backup) -> Result<(), CliError> {
    // `symlink_metadata`: a dangling link exists too (and would otherwise be written through).
    if std::fs::symlink_metadata(&args.output).is_ok() {
        return Err(CliError::cli(
            CliCode::OutputExists,
            format!("{}: already exists (a backup never overwrites)", args.output.display()),
        ));
    }
    let store = args.target.open_read_only()?;
    let started = Instant::now();
    store.backup_into(&args.output)?;
    let copy = eventlite::Store::open_read_only(&args.output)?;
    let events = copy.stats()?.events;
    let size = std::fs::metadata(&args.output).map_or(0, |m| m.len());
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    match Format::choose(args.json) {
        Format::Json => output::line(
            &mut out,
            &json!({ "output": args.output.display().to_string(), "events": events, "bytes": size, "seconds": seconds })
                .to_string(),
        ),
        Format::Table => output::line(
            &mut out,
            &format!("{}: {events} events, {} in {seconds:.2} s", args.output.display(), bytes(size)),
        ),
    }
}
