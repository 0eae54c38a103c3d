//! `eventlite check`: verifies a store; the exit code says whether it is healthy (0) or not (3).

use clap::Args;
use serde_json::json;

use crate::cli::exit::{CliError, UNHEALTHY};
use crate::cli::output::{self, Format};
use crate::cli::target::StoreArgs;

#[derive(Debug, Args)]
#[command(after_help = "Checks: INTEGRITY (PRAGMA integrity_check), APPLICATION_ID, SCHEMA_VERSION, VERSION_GAP (dense
1-based versions per stream), POSITION_ORDER (versions increase with position), POSITION_SEQUENCE (no position above
the AUTOINCREMENT sequence), SYNC_CONFIRMED_PREFIX and SYNC_PENDING_CONFIRMED (confirmed events are a prefix of the
log, pending events follow it).

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
                "checks": report.checks,
                "problems": problems,
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
        Err(CliError::new(UNHEALTHY, "UNHEALTHY", format!("{} problems found", report.problems.len())))
    }
}
