//! `eventlite check`: verifies a store; the exit code says whether it is healthy (0) or not (3).

use clap::Args;
use serde_json::json;

use crate::cli::exit::{CliCode, CliError};
use crate::cli::output::{self, Format};
use crate::cli::target::StoreArgs;

#[derive(Debug, Args)]
#[command(after_help = "Checks: INTEGRITY (PRAGMA integrity_check), APPLICATION_ID, SCHEMA_VERSION (one this binary
reads; an older readable one is a note, not a problem), CATEGORY (each event's category is its stream's), VERSION_GAP
(dense 1-based versions per stream), POSITION_ORDER (versions increase with position), POSITION_SEQUENCE (positions
from 1, none above the AUTOINCREMENT sequence), DATA_KIND and DATA_JSON (JSON data is valid JSON text, binary data a
blob with a content type), METADATA_OBJECT, RECORDED_AT (at least 0), SYNC_STATE (readable sync state values),
SYNC_CONFIRMED_PREFIX, SERVER_POSITION_ORDER, SYNC_PENDING_CONFIRMED and SYNC_EXPECTED (confirmed events are a prefix
of the log in server order, pending events follow it with a valid expectation). See docs/cli.md.

Exit codes: 0 healthy, 3 a problem was found, 4 no such store, 6 not an EventLite store.

Examples:
  eventlite check --store app.db && echo healthy
  eventlite check --data-dir eventlite-data --tenant acme --json")]
pub struct Check {
    #[command(flatten)]
    pub target: StoreArgs,
    /// One JSON object, also the default when stdout is not a terminal.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Check) -> Result<(), CliError> {
    let path = args.target.existing()?;
    let store = args.target.open_read_only()?;
    let report = store.check()?;
    for note in &report.notes {
        eprintln!("eventlite: note: {note}");
    }
    let mut out = std::io::stdout().lock();
    match Format::choose(args.json) {
        Format::Json => {
            let problems: Vec<serde_json::Value> = report
                .problems
                .iter()
                .map(|p| json!({ "check": p.check, "stream": p.stream, "message": p.message }))
                .collect();
            let value = json!({
                "store": path.display().to_string(),
                "healthy": report.is_healthy(),
                "events": report.events,
                "streams": report.streams,
                "schema_version": report.schema_version,
                "checks": report.checks,
                "problems": problems,
                "notes": report.notes,
            });
            output::line(&mut out, &value.to_string())?;
        }
        Format::Table => {
            for problem in &report.problems {
                let stream = problem.stream.as_deref().map(|s| format!(" stream {s:?}:")).unwrap_or_default();
                output::line(&mut out, &format!("{}{stream} {}", problem.check, problem.message))?;
            }
            let verdict = if report.is_healthy() { "healthy" } else { "NOT HEALTHY" };
            output::line(
                &mut out,
                &format!(
                    "{}: {verdict}: {} events in {} streams, {} checks, {} problems",
                    path.display(),
                    report.events,
                    report.streams,
                    report.checks.len(),
                    report.problems.len()
                ),
            )?;
        }
    }
    if report.is_healthy() {
        Ok(())
    } else {
        Err(CliError::cli(CliCode::Unhealthy, format!("{} problems found", report.problems.len())))
    }
}
