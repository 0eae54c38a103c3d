//! The workload of DESIGN.md §6 on EventLite and two raw-SQLite baselines, in one run:
//! `cargo bench -p eventlite --bench workload` (`scripts/bench-workload.sh` runs it with the peers, eventsourcing and
//! Emmett, and prints all five side by side).
//!
//! The workload: 100 streams; single-event appends with an exact expected version, round-robin over the streams
//! (50 per stream); then 50 batches of 100 events, each to one of the streams with its exact version; then every
//! stream read back in pages of 1,000 (and, for EventLite and the baselines, the whole log in pages of 1,000). Each
//! round runs on a fresh file in WAL mode with `synchronous=NORMAL`. The read passes are repeated `READ_PASSES`
//! times so that they last long enough to time.
//!
//! The three implementations:
//! - EventLite through its public API (`append_to_stream` with `ExpectedVersion::Exact`, `read_stream`, `read_all`);
//! - raw SQLite, minimal schema: one table `events(position INTEGER PRIMARY KEY, stream, version, type, data,
//!   UNIQUE (stream, version))`, one transaction per append doing the exact-version check a real store would do
//!   (`max(version)` for the stream, then the inserts);
//! - raw SQLite, EventLite's schema: a file created by `Store::open`, written through a bare connection with the
//!   store's columns, precomputed ids and versions and no check at all (the floor for that schema).
//!
//! Environment: `EVENTLITE_BENCH_SCALE=0.1` shrinks the single appends (the batches stay 50 x 100);
//! `EVENTLITE_BENCH_ROUNDS` (default 3; each figure is the best round, the implementations interleaved);
//! `EVENTLITE_BENCH_JSON=1` prints one JSON line per implementation per round instead of the table.

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn main() {
    native::run();
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn main() {}

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod common;

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod native {
    use crate::common::{fresh, payload, raw_connection};
    use std::time::{Duration, Instant};

    use eventlite::{EventData, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, Store, Uuid};
    use rusqlite::{Connection, TransactionBehavior, params};

    const STREAMS: usize = 100;
    const BATCHES: usize = 50;
    const BATCH_SIZE: usize = 100;
    const PAGE: usize = 1_000;
    const READ_PASSES: usize = 10;
    const EVENT_TYPE: &str = "Placed";

    fn env_f64(name: &str) -> Option<f64> {
        std::env::var(name).ok().and_then(|s| s.parse().ok())
    }

    /// The shape of one round: how many single appends each stream gets (50 at scale 1).
    #[derive(Clone, Copy)]
    struct Workload {
        singles_per_stream: usize,
    }

    impl Workload {
        fn from_env() -> Self {
            let scale = env_f64("EVENTLITE_BENCH_SCALE").unwrap_or(1.0);
            Workload { singles_per_stream: ((50.0 * scale) as usize).max(1) }
        }

        fn singles(self) -> usize {
            self.singles_per_stream * STREAMS
        }

        fn batched(self) -> usize {
            BATCHES * BATCH_SIZE
        }

        fn total(self) -> usize {
            self.singles() + self.batched()
        }

        /// The single appends in order: (stream index, the stream's version before the append).
        fn single_appends(self) -> impl Iterator<Item = (usize, u64)> {
            (0..self.singles_per_stream).flat_map(|round| (0..STREAMS).map(move |s| (s, round as u64)))
        }

        /// The batches in order: (stream index, the stream's version before the batch).
        fn batch_appends(self) -> impl Iterator<Item = (usize, u64)> {
            (0..BATCHES).map(move |b| {
                let earlier_batches = (b / STREAMS) * BATCH_SIZE;
                (b % STREAMS, (self.singles_per_stream + earlier_batches) as u64)
            })
        }
    }

    fn stream_name(s: usize) -> String {
        format!("order-{s}")
    }

    /// One round's timings; a rate is events over time.
    #[derive(Clone, Copy)]
    struct Figures {
        single: Duration,
        batch: Duration,
        read: Duration,
        read_all: Duration,
    }

    impl Figures {
        fn best(self, other: Figures) -> Figures {
            Figures {
                single: self.single.min(other.single),
                batch: self.batch.min(other.batch),
                read: self.read.min(other.read),
                read_all: self.read_all.min(other.read_all),
            }
        }
    }

    struct Rates {
        single: f64,
        batch: f64,
        read: f64,
        read_all: f64,
    }

    fn rates(workload: Workload, figures: Figures) -> Rates {
        let rate = |events: usize, d: Duration| events as f64 / d.as_secs_f64();
        Rates {
            single: rate(workload.singles(), figures.single),
            batch: rate(workload.batched(), figures.batch),
            read: rate(workload.total() * READ_PASSES, figures.read),
            read_all: rate(workload.total() * READ_PASSES, figures.read_all),
        }
    }

    fn timed(f: impl FnOnce()) -> Duration {
        let start = Instant::now();
        f();
        start.elapsed()
    }

    fn eventlite_round(workload: Workload) -> Figures {
        let file = fresh();
        let store = Store::open(&file.path).unwrap();
        let names: Vec<String> = (0..STREAMS).map(stream_name).collect();
        let singles: Vec<(usize, u64, NewEvent)> = workload
            .single_appends()
            .enumerate()
            .map(|(n, (s, version))| (s, version, NewEvent::from_json_text(EVENT_TYPE, payload(n))))
            .collect();
        let batches: Vec<(usize, u64, Vec<NewEvent>)> = workload
            .batch_appends()
            .enumerate()
            .map(|(b, (s, version))| {
                let events = (0..BATCH_SIZE)
                    .map(|n| NewEvent::from_json_text(EVENT_TYPE, payload(workload.singles() + b * BATCH_SIZE + n)))
                    .collect();
                (s, version, events)
            })
            .collect();

        let single = timed(|| {
            for (s, version, event) in &singles {
                store
                    .append_to_stream(&names[*s], std::slice::from_ref(event), ExpectedVersion::Exact(*version))
                    .unwrap();
            }
        });
        let batch = timed(|| {
            for (s, version, events) in &batches {
                store.append_to_stream(&names[*s], events, ExpectedVersion::Exact(*version)).unwrap();
            }
        });
        let read = timed(|| {
            let mut seen = 0;
            for _ in 0..READ_PASSES {
                for name in &names {
                    let mut from = 1;
                    loop {
                        let page = store
                            .read_stream(name, ReadStreamOptions::forwards().from_version(from).max_count(PAGE))
                            .unwrap();
                        seen += page.events.iter().filter(|e| matches!(e.data, EventData::Json(_))).count();
                        match page.events.last() {
                            Some(last) if page.events.len() == PAGE => from = last.version + 1,
                            _ => break,
                        }
                    }
                }
            }
            assert_eq!(seen, workload.total() * READ_PASSES);
        });
        let read_all = timed(|| {
            let mut seen = 0;
            for _ in 0..READ_PASSES {
                let mut after = 0;
                loop {
                    let page = store.read_all(&ReadAllOptions::forwards().after(after).max_count(PAGE)).unwrap();
                    seen += page.events.iter().filter(|e| matches!(e.data, EventData::Json(_))).count();
                    match page.events.last() {
                        Some(last) if page.events.len() == PAGE => after = last.position,
                        _ => break,
                    }
                }
            }
            assert_eq!(seen, workload.total() * READ_PASSES);
        });
        Figures { single, batch, read, read_all }
    }

    const MINIMAL_SCHEMA: &str = "CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT, version INTEGER, \
                                  type TEXT, data TEXT, UNIQUE (stream, version))";

    /// One append as a small store without EventLite would do it: in one write transaction, the stream's version,
    /// the exact-version check, then the rows.
    fn minimal_append(connection: &mut Connection, stream: &str, expected: u64, data: &[String]) {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        let actual: i64 = transaction
            .prepare_cached("SELECT coalesce(max(version), 0) FROM events WHERE stream = ?1")
            .unwrap()
            .query_row(params![stream], |row| row.get(0))
            .unwrap();
        assert_eq!(actual as u64, expected, "wrong expected version on {stream}");
        {
            let mut insert = transaction
                .prepare_cached("INSERT INTO events (stream, version, type, data) VALUES (?1, ?2, ?3, ?4)")
                .unwrap();
            for (index, data) in data.iter().enumerate() {
                insert.execute(params![stream, actual + index as i64 + 1, EVENT_TYPE, data]).unwrap();
            }
        }
        transaction.commit().unwrap();
    }

    type MinimalRow = (i64, String, i64, String, String);

    fn minimal_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MinimalRow> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
    }

    fn raw_minimal_round(workload: Workload) -> Figures {
        let file = fresh();
        let mut connection = raw_connection(&file.path);
        connection.execute_batch(MINIMAL_SCHEMA).unwrap();
        let names: Vec<String> = (0..STREAMS).map(stream_name).collect();
        let singles: Vec<(usize, u64, [String; 1])> =
            workload.single_appends().enumerate().map(|(n, (s, version))| (s, version, [payload(n)])).collect();
        let batches: Vec<(usize, u64, Vec<String>)> = workload
            .batch_appends()
            .enumerate()
            .map(|(b, (s, version))| {
                (s, version, (0..BATCH_SIZE).map(|n| payload(workload.singles() + b * BATCH_SIZE + n)).collect())
            })
            .collect();

        let single = timed(|| {
            for (s, version, data) in &singles {
                minimal_append(&mut connection, &names[*s], *version, data);
            }
        });
        let batch = timed(|| {
            for (s, version, data) in &batches {
                minimal_append(&mut connection, &names[*s], *version, data);
            }
        });
        let read = timed(|| {
            let mut seen = 0;
            let mut statement = connection
                .prepare_cached(
                    "SELECT position, stream, version, type, data FROM events WHERE stream = ?1 AND version >= ?2 \
                     ORDER BY version LIMIT ?3",
                )
                .unwrap();
            for _ in 0..READ_PASSES {
                for name in &names {
                    let mut from = 1_i64;
                    loop {
                        let rows: Vec<MinimalRow> = statement
                            .query_map(params![name, from, PAGE as i64], minimal_row)
                            .unwrap()
                            .map(Result::unwrap)
                            .collect();
                        seen += rows.len();
                        match rows.last() {
                            Some(last) if rows.len() == PAGE => from = last.2 + 1,
                            _ => break,
                        }
                    }
                }
            }
            assert_eq!(seen, workload.total() * READ_PASSES);
        });
        let read_all = timed(|| {
            let mut seen = 0;
            let mut statement = connection
                .prepare_cached(
                    "SELECT position, stream, version, type, data FROM events WHERE position > ?1 \
                     ORDER BY position LIMIT ?2",
                )
                .unwrap();
            for _ in 0..READ_PASSES {
                let mut after = 0_i64;
                loop {
                    let rows: Vec<MinimalRow> = statement
                        .query_map(params![after, PAGE as i64], minimal_row)
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    seen += rows.len();
                    match rows.last() {
                        Some(last) if rows.len() == PAGE => after = last.0,
                        _ => break,
                    }
                }
            }
            assert_eq!(seen, workload.total() * READ_PASSES);
        });
        Figures { single, batch, read, read_all }
    }

    /// How the store's `events` table takes its rows, read from the file so that the baseline follows the schema
    /// (whatever its version) instead of restating it.
    struct SchemaShape {
        version: u32,
        /// `position` is `INTEGER PRIMARY KEY` of a rowid table (with or without `AUTOINCREMENT`): SQLite assigns it,
        /// as it does for the store's INSERT. Otherwise the baseline sets it.
        position_assigned: bool,
        /// The store's INSERT also writes `sync_expected` where the column exists.
        sync_expected: bool,
    }

    fn schema_shape(connection: &Connection) -> SchemaShape {
        let version: u32 = connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        let table_sql: String = connection
            .query_row("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'events'", [], |row| row.get(0))
            .unwrap();
        let columns: Vec<(String, String, i64)> = connection
            .prepare("SELECT name, type, pk FROM pragma_table_info('events')")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let keys = columns.iter().filter(|(_, _, pk)| *pk > 0).count();
        let position_assigned = !table_sql.to_ascii_uppercase().contains("WITHOUT ROWID")
            && keys == 1
            && columns
                .iter()
                .any(|(name, ty, pk)| name == "position" && ty.eq_ignore_ascii_case("INTEGER") && *pk == 1);
        let sync_expected = columns.iter().any(|(name, _, _)| name == "sync_expected");
        SchemaShape { version, position_assigned, sync_expected }
    }

    /// The columns of the store's INSERT (core/src/store.rs, `insert_events`), and `position` only when SQLite does
    /// not assign it.
    fn schema_insert(shape: &SchemaShape) -> String {
        let mut columns = vec![
            "event_id",
            "stream",
            "version",
            "category",
            "event_type",
            "content_type",
            "data",
            "metadata",
            "recorded_at",
        ];
        if shape.sync_expected {
            columns.push("sync_expected");
        }
        if !shape.position_assigned {
            columns.push("position");
        }
        let placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("?{n}")).collect();
        format!("INSERT INTO events ({}) VALUES ({})", columns.join(", "), placeholders.join(", "))
    }

    /// One precomputed row: what the store would compute inside the transaction, made before the clock starts.
    struct SchemaRow {
        id: Uuid,
        version: i64,
        data: String,
        sync_expected: i64,
        position: i64,
    }

    fn schema_append(connection: &mut Connection, insert: &str, shape: &SchemaShape, stream: &str, rows: &[SchemaRow]) {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        {
            let mut statement = transaction.prepare_cached(insert).unwrap();
            for row in rows {
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![
                    row.id.as_bytes(),
                    &stream,
                    &row.version,
                    &"order",
                    &EVENT_TYPE,
                    &rusqlite::types::Null,
                    &row.data,
                    &rusqlite::types::Null,
                    &0_i64,
                ];
                if shape.sync_expected {
                    values.push(&row.sync_expected);
                }
                if !shape.position_assigned {
                    values.push(&row.position);
                }
                statement.execute(values.as_slice()).unwrap();
            }
        }
        transaction.commit().unwrap();
    }

    type SchemaReadRow =
        (i64, Vec<u8>, String, i64, String, Option<String>, rusqlite::types::Value, Option<String>, i64);

    fn schema_read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SchemaReadRow> {
        Ok((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
        ))
    }

    const SCHEMA_COLUMNS: &str =
        "position, event_id, stream, version, event_type, content_type, data, metadata, recorded_at";

    fn raw_schema_round(workload: Workload) -> (Figures, u32) {
        let file = fresh();
        drop(Store::open(&file.path).unwrap());
        let mut connection = raw_connection(&file.path);
        let shape = schema_shape(&connection);
        let insert = schema_insert(&shape);
        let names: Vec<String> = (0..STREAMS).map(stream_name).collect();
        let mut position = 0;
        let mut row = |n: usize, version: u64, index: usize| {
            position += 1;
            SchemaRow {
                id: Uuid::now_v7(),
                version: version as i64 + index as i64 + 1,
                data: payload(n),
                // What `sync::replica::encode_expected` stores for `Exact(version)`: the version, then "continues".
                sync_expected: if index == 0 { version as i64 } else { -4 },
                position,
            }
        };
        let singles: Vec<(usize, [SchemaRow; 1])> =
            workload.single_appends().enumerate().map(|(n, (s, version))| (s, [row(n, version, 0)])).collect();
        let batches: Vec<(usize, Vec<SchemaRow>)> = workload
            .batch_appends()
            .enumerate()
            .map(|(b, (s, version))| {
                (s, (0..BATCH_SIZE).map(|n| row(workload.singles() + b * BATCH_SIZE + n, version, n)).collect())
            })
            .collect();

        let single = timed(|| {
            for (s, rows) in &singles {
                schema_append(&mut connection, &insert, &shape, &names[*s], rows);
            }
        });
        let batch = timed(|| {
            for (s, rows) in &batches {
                schema_append(&mut connection, &insert, &shape, &names[*s], rows);
            }
        });
        let read = timed(|| {
            let mut seen = 0;
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT {SCHEMA_COLUMNS} FROM events WHERE stream = ?1 AND version >= ?2 ORDER BY version LIMIT ?3"
                ))
                .unwrap();
            for _ in 0..READ_PASSES {
                for name in &names {
                    let mut from = 1_i64;
                    loop {
                        let rows: Vec<SchemaReadRow> = statement
                            .query_map(params![name, from, PAGE as i64], schema_read_row)
                            .unwrap()
                            .map(Result::unwrap)
                            .collect();
                        seen += rows.len();
                        match rows.last() {
                            Some(last) if rows.len() == PAGE => from = last.3 + 1,
                            _ => break,
                        }
                    }
                }
            }
            assert_eq!(seen, workload.total() * READ_PASSES);
        });
        let read_all = timed(|| {
            let mut seen = 0;
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT {SCHEMA_COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
                ))
                .unwrap();
            for _ in 0..READ_PASSES {
                let mut after = 0_i64;
                loop {
                    let rows: Vec<SchemaReadRow> = statement
                        .query_map(params![after, PAGE as i64], schema_read_row)
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    seen += rows.len();
                    match rows.last() {
                        Some(last) if rows.len() == PAGE => after = last.0,
                        _ => break,
                    }
                }
            }
            assert_eq!(seen, workload.total() * READ_PASSES);
        });
        (Figures { single, batch, read, read_all }, shape.version)
    }

    fn json_line(implementation: &str, label: &str, round: usize, workload: Workload, figures: Figures) {
        let r = rates(workload, figures);
        println!(
            "{{\"impl\":\"{implementation}\",\"label\":\"{label}\",\"round\":{round},\"single\":{:.0},\"batch\":{:.0},\
             \"read\":{:.0},\"read_all\":{:.0},\"singles\":{},\"batched\":{},\"read_events\":{}}}",
            r.single,
            r.batch,
            r.read,
            r.read_all,
            workload.singles(),
            workload.batched(),
            workload.total() * READ_PASSES
        );
    }

    fn table_row(label: &str, r: &Rates) {
        println!("| {label} | {:.0} | {:.0} | {:.0} | {:.0} |", r.single, r.batch, r.read, r.read_all);
    }

    fn verdict(met: bool) -> &'static str {
        if met { "met" } else { "**not met**" }
    }

    pub fn run() {
        let workload = Workload::from_env();
        let rounds = env_f64("EVENTLITE_BENCH_ROUNDS").map_or(3, |r| (r as usize).max(1));
        let json = std::env::var("EVENTLITE_BENCH_JSON").is_ok_and(|v| v == "1");
        let mut best: Option<[Figures; 3]> = None;
        let mut schema_version = 0;
        for round in 1..=rounds {
            let ours = eventlite_round(workload);
            let minimal = raw_minimal_round(workload);
            let (schema, version) = raw_schema_round(workload);
            schema_version = version;
            if json {
                json_line("eventlite", "EventLite", round, workload, ours);
                json_line("raw-minimal", "raw SQLite, minimal schema", round, workload, minimal);
                json_line(
                    "raw-schema",
                    &format!("raw SQLite, EventLite's schema (v{version})"),
                    round,
                    workload,
                    schema,
                );
            }
            best = Some(match best {
                None => [ours, minimal, schema],
                Some([a, b, c]) => [a.best(ours), b.best(minimal), c.best(schema)],
            });
        }
        if json {
            return;
        }
        let [ours, minimal, schema] = best.unwrap().map(|figures| rates(workload, figures));
        println!(
            "DESIGN.md §6 workload: {STREAMS} streams x {} single appends (`Exact`), {BATCHES} batches of {BATCH_SIZE}, \
             reads in pages of {PAGE} ({READ_PASSES} passes); WAL + synchronous=NORMAL; best of {rounds} rounds\n",
            workload.singles_per_stream
        );
        println!(
            "| implementation | single appends/s | batch(100) events/s | read_stream events/s | read_all events/s |"
        );
        println!("|---|---|---|---|---|");
        table_row("EventLite", &ours);
        table_row("raw SQLite, minimal schema", &minimal);
        table_row(&format!("raw SQLite, EventLite's schema (v{schema_version})"), &schema);
        println!();
        let single = ours.single / minimal.single;
        let read = ours.read / minimal.read;
        let read_all = ours.read_all / minimal.read_all;
        println!("| ratio | value | target |");
        println!("|---|---|---|");
        println!("| EventLite single / raw minimal single | {single:.2}x | >= 0.7x: {} |", verdict(single >= 0.7));
        println!("| EventLite read_stream / raw minimal | {read:.2}x | >= 0.8x: {} |", verdict(read >= 0.8));
        println!("| EventLite read_all / raw minimal | {read_all:.2}x | >= 0.8x: {} |", verdict(read_all >= 0.8));
        println!(
            "| EventLite reads, pages of 1,000 | {:.0} / {:.0} events/s | >= 1M/s: {} |",
            ours.read,
            ours.read_all,
            verdict(ours.read.min(ours.read_all) >= 1e6)
        );
    }
}
