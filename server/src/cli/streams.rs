//! `eventlite streams`: the streams of a store with their version, event count, first and last position and time.

use clap::Args;
use eventlite::inspect::{StreamInfo, StreamQuery};
use serde_json::json;

use crate::cli::exit::CliError;
use crate::cli::output::{self, Format, Table, timestamp};
use crate::cli::target::StoreArgs;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  eventlite streams --store app.db
  eventlite streams --store app.db --category order --json
  eventlite streams --data-dir eventlite-data --tenant acme --prefix order-4")]
pub struct Streams {
    #[command(flatten)]
    pub target: StoreArgs,
    /// Only streams whose id starts with this.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Only streams of this category.
    #[arg(long, value_name = "CATEGORY")]
    pub category: Option<String>,
    /// JSON Lines, also the default when stdout is not a terminal.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Streams) -> Result<(), CliError> {
    let store = args.target.open_read_only()?;
    let format = Format::choose(args.json);
    let mut table = Table::new(&[
        "STREAM",
        "VERSION",
        "EVENTS",
        "FIRST_POSITION",
        "LAST_POSITION",
        "FIRST_RECORDED",
        "LAST_RECORDED",
    ]);
    let mut out = std::io::stdout().lock();
    let mut query = StreamQuery { prefix: args.prefix, category: args.category, ..StreamQuery::default() };
    loop {
        let page = store.list_streams(&query)?;
        for info in &page {
            match format {
                Format::Json => output::line(&mut out, &stream_json(info).to_string())?,
                Format::Table => table.row(vec![
                    info.stream.clone(),
                    info.version.to_string(),
                    info.event_count.to_string(),
                    info.first_position.to_string(),
                    info.last_position.to_string(),
                    timestamp(info.first_recorded_at),
                    timestamp(info.last_recorded_at),
                ]),
            }
        }
        if format == Format::Table {
            table.flush(&mut out)?;
        }
        match page.last() {
            Some(last) if page.len() == StreamQuery::DEFAULT_LIMIT => query.after = Some(last.stream.clone()),
            _ => break,
        }
    }
    Ok(())
}

fn stream_json(info: &StreamInfo) -> serde_json::Value {
    json!({
        "stream": info.stream,
        "version": info.version,
        "event_count": info.event_count,
        "first_position": info.first_position,
        "last_position": info.last_position,
        "first_recorded_at": info.first_recorded_at,
        "last_recorded_at": info.last_recorded_at,
    })
}
