//! `eventlite import`: NDJSON (the `export` format) into a store, streamed batch by batch: memory stays one batch,
//! each batch is one transaction, and an event already stored (same id, identical) is skipped, so importing a file
//! twice writes nothing the second time. A malformed line stops the import with its line number; the batches before
//! the one holding it are committed, nothing after them is written.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use clap::Args;
use eventlite::Store;
use eventlite::archive::{ArchivedEvent, ImportEvent, ImportMode, ImportOutcome, Importer};
use serde_json::json;

use crate::cli::exit::{CliCode, CliError};
use crate::cli::progress::{Progress, rate};
use crate::cli::target::StoreArgs;

/// The longest line read, without its line terminator (longer ones are refused): memory stays bounded even on a file
/// with no newlines. An event is at most the store's `max_event_size` (1 MiB by default); base64 and JSON escapes make
/// its line longer, never 16 times.
const MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Args)]
#[command(after_help = "The store is created if it does not exist. A summary goes to stderr at the end (one JSON
object with --json); a progress bar while it runs when stderr is a terminal.

Exit codes: 0 imported, 5 a malformed line or an event the store refuses (line number in the message), 2 bad
arguments.

Examples:
  eventlite import --store copy.db --input app.ndjson
  eventlite export --store app.db | eventlite import --store copy.db
  eventlite import --store copy.db --input app.ndjson --dry-run")]
pub struct Import {
    #[command(flatten)]
    pub target: StoreArgs,
    /// Read this file instead of stdin.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Events per transaction.
    #[arg(long, value_name = "N", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// Check every line against the store as a real import would, then roll everything back.
    #[arg(long)]
    pub dry_run: bool,
    /// The summary on stderr as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The running totals.
#[derive(Default)]
struct Totals {
    lines: u64,
    imported: u64,
    skipped: u64,
    batches: u64,
}

pub fn run(args: Import) -> Result<(), CliError> {
    let path = args.target.path()?;
    let store = if args.dry_run && !path.exists() { Store::open_in_memory()? } else { args.target.open()? };
    let (input, total): (Box<dyn Read>, Option<u64>) = match &args.input {
        Some(file) => {
            let opened =
                std::fs::File::open(file).map_err(|error| CliError::io(&file.display().to_string(), &error))?;
            let size = opened.metadata().ok().map(|m| m.len());
            (Box::new(opened), size)
        }
        None => (Box::new(std::io::stdin().lock()), None),
    };
    let mode = if args.dry_run { ImportMode::DryRun } else { ImportMode::Write };
    let mut importer = store.importer(mode)?;
    let progress = Progress::new(total, "bytes");
    let mut totals = Totals::default();
    let result = import_lines(BufReader::with_capacity(1 << 16, input), &mut importer, &args, &progress, &mut totals);
    importer.finish()?;
    let seconds = progress.finish();
    let verb = if args.dry_run { "would import" } else { "imported" };
    if args.json {
        eprintln!(
            "{}",
            json!({
                "dry_run": args.dry_run, "lines": totals.lines, "imported": totals.imported, "skipped": totals.skipped,
                "batches": totals.batches, "seconds": seconds, "complete": result.is_ok(),
            })
        );
    } else {
        eprintln!(
            "{verb} {} events, skipped {} already stored, in {} batches from {} lines, {seconds:.2} s ({:.0} events/s)",
            totals.imported,
            totals.skipped,
            totals.batches,
            totals.lines,
            rate(totals.imported + totals.skipped, seconds)
        );
    }
    result
}

fn import_lines(
    mut input: impl BufRead,
    importer: &mut Importer<'_>,
    args: &Import,
    progress: &Progress,
    totals: &mut Totals,
) -> Result<(), CliError> {
    let batch_size = usize::try_from(args.batch_size).unwrap_or(1_000);
    let mut batch: Vec<ImportEvent> = Vec::with_capacity(batch_size);
    let mut line_numbers: Vec<u64> = Vec::with_capacity(batch_size);
    let mut buffer = String::new();
    let mut line_number = 0u64;
    loop {
        buffer.clear();
        // The limit, its terminator (`\r\n` at most), and one byte more to tell a longer line.
        let read = (&mut input).take(MAX_LINE_BYTES + 3).read_line(&mut buffer).map_err(|error| {
            if error.kind() == std::io::ErrorKind::InvalidData {
                malformed(line_number + 1, "is not UTF-8")
            } else {
                CliError::io("reading the input", &error)
            }
        })?;
        if read == 0 {
            break;
        }
        line_number += 1;
        totals.lines = line_number;
        if buffer.trim_end_matches('\n').trim_end_matches('\r').len() as u64 > MAX_LINE_BYTES {
            return Err(malformed(line_number, &format!("is longer than {MAX_LINE_BYTES} bytes")));
        }
        progress.advance(read as u64);
        if buffer.trim().is_empty() {
            continue;
        }
        let event = ArchivedEvent::parse_line(&buffer)
            .and_then(|archived| archived.into_import(batch.len()))
            .map_err(|error| malformed(line_number, &error.reason))?;
        batch.push(event);
        line_numbers.push(line_number);
        if batch.len() == batch_size {
            commit(importer, &batch, &line_numbers, totals)?;
            batch.clear();
            line_numbers.clear();
        }
    }
    if !batch.is_empty() {
        commit(importer, &batch, &line_numbers, totals)?;
    }
    Ok(())
}

fn commit(
    importer: &mut Importer<'_>,
    batch: &[ImportEvent],
    line_numbers: &[u64],
    totals: &mut Totals,
) -> Result<(), CliError> {
    let ImportOutcome { imported, skipped } = importer.import_batch(batch).map_err(|error| {
        let line = error.index().and_then(|index| line_numbers.get(index));
        let message = match line {
            Some(line) => format!("line {line}: {error}"),
            None => error.to_string(),
        };
        CliError::core(error.code(), message, false)
    })?;
    totals.imported += imported;
    totals.skipped += skipped;
    totals.batches += 1;
    Ok(())
}

fn malformed(line: u64, reason: &str) -> CliError {
    CliError::cli(CliCode::MalformedLine, format!("line {line}: {reason}"))
}
