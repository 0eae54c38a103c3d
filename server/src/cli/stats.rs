//! `eventlite stats`: counts, sizes, positions, per-category and per-type counts, sync state, WAL size and schema
//! version of a store.

use std::path::Path;

use clap::Args;
use eventlite::inspect::{NameCount, OtherNames, StoreStats};
use serde_json::json;

use crate::cli::exit::CliError;
use crate::cli::output::{self, Format, Table, bytes, timestamp};
use crate::cli::target::StoreArgs;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  eventlite stats --store app.db
  eventlite stats --data-dir eventlite-data --tenant acme --json")]
pub struct Stats {
    #[command(flatten)]
    pub target: StoreArgs,
    /// One JSON object, also the default when stdout is not a terminal.
    #[arg(long)]
    pub json: bool,
}

/// The store's files on disk.
struct Files {
    database: u64,
    wal: u64,
    shm: u64,
}

fn file_size(path: &Path, suffix: &str) -> u64 {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::fs::metadata(name).map_or(0, |metadata| metadata.len())
}

pub fn run(args: Stats) -> Result<(), CliError> {
    let path = args.target.existing()?;
    let store = args.target.open_read_only()?;
    let stats = store.stats()?;
    let files = Files { database: file_size(&path, ""), wal: file_size(&path, "-wal"), shm: file_size(&path, "-shm") };
    let mut out = std::io::stdout().lock();
    match Format::choose(args.json) {
        Format::Json => output::line(&mut out, &stats_json(&path, &stats, &files).to_string()),
        Format::Table => {
            let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), timestamp);
            let lines = [
                ("store", path.display().to_string()),
                (
                    "schema version",
                    if stats.schema_is_older() {
                        format!(
                            "{} (older than {}: read as it is; a read-write open migrates it)",
                            stats.schema_version,
                            eventlite::schema::VERSION
                        )
                    } else {
                        stats.schema_version.to_string()
                    },
                ),
                ("events", stats.events.to_string()),
                ("streams", stats.streams.to_string()),
                (
                    "positions",
                    format!(
                        "{} .. {} (last assigned {})",
                        stats.first_position, stats.head_position, stats.last_assigned_position
                    ),
                ),
                ("recorded", format!("{} .. {}", time(stats.first_recorded_at), time(stats.last_recorded_at))),
                ("snapshots", stats.snapshots.to_string()),
                ("checkpoints", stats.checkpoints.to_string()),
                ("database file", bytes(files.database)),
                ("WAL file", bytes(files.wal)),
                ("pages", format!("{} x {} B, {} free", stats.page_count, stats.page_size, stats.freelist_count)),
                (
                    "role",
                    match &stats.sync.server_log_id {
                        Some(id) => format!("sync server log {id} (its events are the server's log)"),
                        None => "device store (replica)".to_owned(),
                    },
                ),
                ("sync pending", stats.sync.pending.to_string()),
                (
                    "sync confirmed",
                    format!("{} (through position {})", stats.sync.confirmed, stats.sync.confirmed_through),
                ),
                ("sync conflicts", stats.sync.conflicts.to_string()),
                ("replica id", stats.sync.replica_id.clone().unwrap_or_else(|| "- (never synced)".into())),
            ];
            for (key, value) in lines {
                output::line(&mut out, &format!("{:<16}{value}", format!("{key}:")))?;
            }
            for (title, counts, others) in [
                ("CATEGORY", &stats.categories, stats.other_categories),
                ("TYPE", &stats.event_types, stats.other_event_types),
            ] {
                output::line(&mut out, "")?;
                let mut table = Table::new(&[title, "EVENTS"]);
                for count in counts {
                    table.row(vec![count.name.clone(), count.events.to_string()]);
                }
                if others.names > 0 {
                    table.row(vec![format!("({} others)", others.names), others.events.to_string()]);
                }
                table.flush(&mut out)?;
            }
            Ok(())
        }
    }
}

fn others(others: OtherNames) -> serde_json::Value {
    json!({ "names": others.names, "events": others.events })
}

fn counts(counts: &[NameCount]) -> serde_json::Value {
    counts.iter().map(|count| (count.name.clone(), json!(count.events))).collect::<serde_json::Map<_, _>>().into()
}

fn stats_json(path: &Path, stats: &StoreStats, files: &Files) -> serde_json::Value {
    json!({
        "store": path.display().to_string(),
        "schema_version": stats.schema_version,
        "events": stats.events,
        "streams": stats.streams,
        "first_position": stats.first_position,
        "head_position": stats.head_position,
        "last_assigned_position": stats.last_assigned_position,
        "first_recorded_at": stats.first_recorded_at,
        "last_recorded_at": stats.last_recorded_at,
        "snapshots": stats.snapshots,
        "checkpoints": stats.checkpoints,
        "categories": counts(&stats.categories),
        "other_categories": others(stats.other_categories),
        "event_types": counts(&stats.event_types),
        "other_event_types": others(stats.other_event_types),
        "files": { "database_bytes": files.database, "wal_bytes": files.wal, "shm_bytes": files.shm },
        "pages": { "page_size": stats.page_size, "page_count": stats.page_count, "freelist_count": stats.freelist_count },
        "sync": {
            "replica_id": stats.sync.replica_id,
            "pending": stats.sync.pending,
            "confirmed": stats.sync.confirmed,
            "confirmed_through": stats.sync.confirmed_through,
            "conflicts": stats.sync.conflicts,
            "has_cursor": stats.sync.has_cursor,
            "server_log_id": stats.sync.server_log_id,
        },
    })
}
