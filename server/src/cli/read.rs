//! `eventlite read`: a stream, or the whole log with filters, as a table or as JSON Lines.

use clap::Args;
use eventlite::{Direction, EventFilter, ReadAllOptions, ReadStreamOptions, RecordedEvent};

use crate::cli::exit::CliError;
use crate::cli::output::{self, EVENT_HEADERS, Format, Table};
use crate::cli::target::StoreArgs;

/// Events per page read from the store: output is streamed page by page, memory stays one page.
const PAGE: usize = 1_000;

/// Which events of the log (`read` without a stream, `tail`, `export`).
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only streams whose id starts with this.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Only this category (the stream id before its first '-'); repeatable.
    #[arg(long = "category", value_name = "CATEGORY")]
    pub categories: Vec<String>,
    /// Only this event type; repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    pub event_types: Vec<String>,
}

impl FilterArgs {
    pub fn filter(&self) -> EventFilter {
        EventFilter {
            stream_prefix: self.prefix.clone(),
            categories: self.categories.clone(),
            event_types: self.event_types.clone(),
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  eventlite read --store app.db                      the whole log, oldest first
  eventlite read --store app.db order-42             one stream
  eventlite read --store app.db order-42 --backwards --count 1    its last event
  eventlite read --store app.db --category order --type Placed --after 1000 --json
  eventlite read --data-dir eventlite-data --tenant acme --count 20")]
pub struct Read {
    #[command(flatten)]
    pub target: StoreArgs,
    /// Read this stream only (otherwise the whole log).
    pub stream: Option<String>,
    /// Newest first.
    #[arg(long)]
    pub backwards: bool,
    /// With a stream: start at this version (inclusive).
    #[arg(long, value_name = "VERSION", requires = "stream")]
    pub from_version: Option<u64>,
    /// Without a stream: start after (forwards) or before (backwards) this position, exclusive.
    #[arg(long, value_name = "POSITION", conflicts_with = "stream")]
    pub after: Option<u64>,
    /// At most this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// JSON Lines (the export format), also the default when stdout is not a terminal.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Read) -> Result<(), CliError> {
    let has_filter = args.filter.prefix.is_some() || !args.filter.categories.is_empty();
    if args.stream.is_some() && (has_filter || !args.filter.event_types.is_empty()) {
        return Err(CliError::usage("--prefix, --category and --type filter the log; a stream is read whole"));
    }
    let store = args.target.open_read_only()?;
    let format = Format::choose(args.json);
    let direction = if args.backwards { Direction::Backwards } else { Direction::Forwards };
    let mut remaining = args.count.unwrap_or(u64::MAX);
    let mut printer = Printer::new(format);
    match &args.stream {
        Some(stream) => {
            let mut from = args.from_version;
            while remaining > 0 {
                let page = PAGE.min(usize::try_from(remaining).unwrap_or(PAGE));
                let mut options = ReadStreamOptions { direction, ..ReadStreamOptions::forwards() }.max_count(page);
                if let Some(version) = from {
                    options = options.from_version(version);
                }
                let events = store.read_stream(stream, options)?.events;
                let Some(last) = events.last() else { break };
                from = match direction {
                    Direction::Forwards => Some(last.version + 1),
                    Direction::Backwards if last.version <= 1 => None,
                    Direction::Backwards => Some(last.version - 1),
                };
                remaining -= events.len() as u64;
                let done = from.is_none() || events.len() < page;
                printer.page(&events)?;
                if done {
                    break;
                }
            }
        }
        None => {
            let mut after = args.after;
            while remaining > 0 {
                let page = PAGE.min(usize::try_from(remaining).unwrap_or(PAGE));
                let options =
                    ReadAllOptions { from_position: after, direction, max_count: page, filter: args.filter.filter() };
                let events = store.read_all(&options)?.events;
                let Some(last) = events.last() else { break };
                after = Some(last.position);
                remaining -= events.len() as u64;
                printer.page(&events)?;
                if events.len() < page {
                    break;
                }
            }
        }
    }
    printer.finish()
}

/// Prints events in the chosen format, page by page.
pub struct Printer {
    format: Format,
    table: Table,
    out: std::io::Stdout,
    printed: u64,
}

impl Printer {
    pub fn new(format: Format) -> Printer {
        Printer { format, table: Table::new(&EVENT_HEADERS), out: std::io::stdout(), printed: 0 }
    }

    pub fn page(&mut self, events: &[RecordedEvent]) -> Result<(), CliError> {
        self.printed += events.len() as u64;
        let mut out = self.out.lock();
        match self.format {
            Format::Json => {
                for event in events {
                    output::line(&mut out, &output::event_json(event))?;
                }
                Ok(())
            }
            Format::Table => {
                for event in events {
                    self.table.row(output::event_row(event));
                }
                self.table.flush(&mut out)
            }
        }
    }

    pub fn finish(self) -> Result<(), CliError> {
        if self.format == Format::Table && self.printed == 0 {
            eprintln!("(no events)");
        }
        Ok(())
    }
}
