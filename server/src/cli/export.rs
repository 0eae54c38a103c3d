//! `eventlite export`: the log as NDJSON (one `ArchivedEvent` per line, the format `import` reads), streamed page
//! by page so memory stays flat whatever the store's size.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use eventlite::ReadAllOptions;
use eventlite::archive::ArchivedEvent;
use serde_json::json;

use crate::cli::exit::{CliError, USAGE};
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
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|error| {
                if error.kind() == std::io::ErrorKind::AlreadyExists {
                    CliError::new(USAGE, "OUTPUT_EXISTS", format!("{}: already exists", path.display()))
                } else {
                    CliError::io(&path.display().to_string(), &error)
                }
            })?;
            Box::new(BufWriter::with_capacity(1 << 16, file))
        }
        None => Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout().lock())),
    };
    let unfiltered =
        args.filter.prefix.is_none() && args.filter.categories.is_empty() && args.filter.event_types.is_empty();
    let total = if unfiltered && args.after.is_none() { Some(store.stats()?.events) } else { None };
    let progress = Progress::new(total, "events");
    let mut exported = 0u64;
    let mut after = args.after;
    loop {
        let options = ReadAllOptions {
            from_position: after,
            max_count: PAGE,
            filter: args.filter.filter(),
            ..ReadAllOptions::forwards()
        };
        let events = store.read_all(&options)?.events;
        let Some(last) = events.last() else { break };
        after = Some(last.position);
        for event in &events {
            let written = serde_json::to_writer(&mut out, &ArchivedEvent::from_recorded(event))
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(error) = written {
                if error.kind() == std::io::ErrorKind::BrokenPipe {
                    std::process::exit(0);
                }
                return Err(CliError::io("writing the export", &error));
            }
        }
        exported += events.len() as u64;
        progress.advance(events.len() as u64);
        if events.len() < PAGE {
            break;
        }
    }
    out.flush().map_err(|error| CliError::io("writing the export", &error))?;
    let seconds = progress.finish();
    if args.json {
        eprintln!("{}", json!({ "exported": exported, "head_position": after.unwrap_or(0), "seconds": seconds }));
    } else {
        eprintln!("exported {exported} events in {seconds:.2} s ({:.0} events/s)", rate(exported, seconds));
    }
    Ok(())
}
