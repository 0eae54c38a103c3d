//! `eventlite export`: the log as NDJSON (one `ArchivedEvent` per line, the format `import` reads), streamed page
//! by page so memory stays flat whatever the store's size, all pages from one snapshot (one read transaction).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use eventlite::ReadAllOptions;
use eventlite::archive::ArchivedEvent;
use serde_json::json;

use crate::cli::exit::{CliCode, CliError};
use crate::cli::progress::{Progress, rate};
use crate::cli::read::FilterArgs;
use crate::cli::target::StoreArgs;

const PAGE: usize = 1_000;

#[derive(Debug, Args)]
#[command(after_help = "A summary goes to stderr at the end (one JSON object with --json); a progress bar while it
runs when stderr is a terminal.

Examples:
  eventlite export --store app.db > app.ndjson
  eventlite export --store app.db --output orders.ndjson --category order
  eventlite export --data-dir eventlite-data --tenant acme --output acme.ndjson")]
pub struct Export {
    #[command(flatten)]
    pub target: StoreArgs,
    /// Write to this file (must not exist) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only events after this position.
    #[arg(long, value_name = "POSITION")]
    pub after: Option<u64>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The summary on stderr as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Export) -> Result<(), CliError> {
    let store = args.target.open_read_only()?;
    let Some(path) = &args.output else {
        let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        return export(&store, &args, &mut out);
    };
    // Written to a temporary file beside it, then linked into place: the name only ever holds a whole export, and
    // an existing entry (a dangling link included) is never followed or replaced.
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(exists(path));
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = directory.join(format!(".{name}.{}.export-tmp", eventlite::Uuid::now_v7().simple()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(|error| CliError::io(&path.display().to_string(), &error))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let result = export(&store, &args, &mut out)
        .and_then(|()| {
            let file = out.into_inner().map_err(|error| CliError::io("writing the export", error.error()))?;
            file.sync_all().map_err(|error| CliError::io("writing the export", &error))
        })
        .and_then(|()| {
            eventlite::inspect::link_new(&temporary, path).map_err(|error| {
                if error.kind() == std::io::ErrorKind::AlreadyExists {
                    exists(path)
                } else {
                    CliError::io(&path.display().to_string(), &error)
                }
            })
        });
    // Only the temporary name is removed: whatever is at `path` is never touched.
    let _ = std::fs::remove_file(&temporary);
    result
}

fn exists(path: &std::path::Path) -> CliError {
    CliError::cli(CliCode::OutputExists, format!("{}: already exists", path.display()))
}

/// Writes the export to `out`: one snapshot of the log (one read transaction, see `Store::export_pages`).
fn export(store: &eventlite::Store, args: &Export, out: &mut impl Write) -> Result<(), CliError> {
    let unfiltered =
        args.filter.prefix.is_none() && args.filter.categories.is_empty() && args.filter.event_types.is_empty();
    let total = if unfiltered && args.after.is_none() { Some(store.stats()?.events) } else { None };
    let progress = Progress::new(total, "events");
    let mut last_position = None;
    let options = ReadAllOptions {
        from_position: args.after,
        max_count: PAGE,
        filter: args.filter.filter(),
        ..ReadAllOptions::forwards()
    };
    let exported = store.export_pages(&options, |events| -> Result<(), CliError> {
        for event in events {
            let written = serde_json::to_writer(&mut *out, &ArchivedEvent::from_recorded(event))
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(error) = written {
                if error.kind() == std::io::ErrorKind::BrokenPipe {
                    std::process::exit(0);
                }
                return Err(CliError::io("writing the export", &error));
            }
        }
        last_position = events.last().map(|event| event.position);
        progress.advance(events.len() as u64);
        Ok(())
    })?;
    out.flush().map_err(|error| CliError::io("writing the export", &error))?;
    let seconds = progress.finish();
    if args.json {
        // `head_position` is the older name of the same figure (kept: the summary's keys are API); `last_position`
        // is null when nothing was exported.
        let head_position = last_position.or(args.after).unwrap_or(0);
        eprintln!(
            "{}",
            json!({
                "exported": exported, "last_position": last_position, "head_position": head_position,
                "seconds": seconds,
            })
        );
    } else {
        eprintln!("exported {exported} events in {seconds:.2} s ({:.0} events/s)", rate(exported, seconds));
    }
    Ok(())
}
