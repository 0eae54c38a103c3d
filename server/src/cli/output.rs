//! Rendering: aligned tables for people at a terminal, JSON Lines for programs (with `--json`, and whenever stdout
//! is not a terminal). The JSON shapes are API, documented in `docs/cli.md`.

use std::io::{IsTerminal, Write};

use eventlite::RecordedEvent;
use eventlite::archive::ArchivedEvent;

use crate::cli::exit::CliError;

/// How a command prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table (or key/value lines) for a person.
    Table,
    /// One JSON value per line.
    Json,
}

impl Format {
    /// JSON when asked for, or when stdout is a pipe or a file.
    pub fn choose(json: bool) -> Format {
        if json || !std::io::stdout().is_terminal() { Format::Json } else { Format::Table }
    }
}

/// Writes one line to stdout; a closed pipe (`| head`) ends the command quietly.
pub fn line(out: &mut impl Write, text: &str) -> Result<(), CliError> {
    match writeln!(out, "{text}") {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => Err(CliError::io("stdout", &error)),
    }
}

/// A table printed in chunks: column widths grow to fit every row seen so far, so a page of rows lines up and a
/// stream of pages needs no more memory than one page.
pub struct Table {
    headers: Vec<&'static str>,
    widths: Vec<usize>,
    rows: Vec<Vec<String>>,
    printed_header: bool,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            widths: headers.iter().map(|h| h.chars().count()).collect(),
            rows: Vec::new(),
            printed_header: false,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        for (width, cell) in self.widths.iter_mut().zip(&cells) {
            *width = (*width).max(cell.chars().count());
        }
        self.rows.push(cells);
    }

    /// Prints the rows collected so far (and the header, the first time).
    pub fn flush(&mut self, out: &mut impl Write) -> Result<(), CliError> {
        if !self.printed_header {
            self.printed_header = true;
            let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
            line(out, &self.format(&header))?;
        }
        for row in std::mem::take(&mut self.rows) {
            line(out, &self.format(&row))?;
        }
        Ok(())
    }

    fn format(&self, cells: &[String]) -> String {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(&self.widths).enumerate() {
            if index == last {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        text
    }
}

/// An event as one JSON line: the archive format (`eventlite export`).
pub fn event_json(event: &RecordedEvent) -> String {
    ArchivedEvent::from_recorded(event).to_line()
}

/// The table columns of an event listing.
pub const EVENT_HEADERS: [&str; 6] = ["POSITION", "STREAM", "VERSION", "TYPE", "RECORDED_AT", "DATA"];

/// An event as a table row; data is cut to keep rows on one screen line.
pub fn event_row(event: &RecordedEvent) -> Vec<String> {
    let data = match &event.data {
        eventlite::EventData::Json(text) => shorten(text.trim(), 60),
        eventlite::EventData::Binary { content_type, bytes } => format!("<{} bytes of {content_type}>", bytes.len()),
    };
    vec![
        event.position.to_string(),
        event.stream.clone(),
        event.version.to_string(),
        event.event_type.clone(),
        timestamp(event.recorded_at),
        data,
    ]
}

fn shorten(text: &str, max: usize) -> String {
    let single: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if single.chars().count() <= max {
        return single;
    }
    let mut cut: String = single.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Milliseconds since the Unix epoch as an RFC 3339 UTC time, `2026-12-01T18:26:06.123Z`.
pub fn timestamp(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        millis.rem_euclid(1000)
    )
}

/// Byte counts for people: `1.5 MiB`.
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{count} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_796_149_761_347), "2026-12-01T18:29:21.347Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn tables_align_their_columns() {
        let mut table = Table::new(&["A", "BB"]);
        table.row(vec!["long".into(), "x".into()]);
        let mut out = Vec::new();
        table.flush(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "A     BB\nlong  x\n");
    }
}
