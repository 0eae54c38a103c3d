//! EventLite vs raw rusqlite, in one run, on one machine: `cargo bench -p eventlite --bench throughput`.
//!
//! Every workload runs on a fresh WAL file with `synchronous=NORMAL`. The baseline writes the same rows into the
//! same schema (tables and indexes created by EventLite, then written through a bare rusqlite connection) with none
//! of the store's work: no expectation check, no idempotency lookup, no validation. Each figure is the best of
//! `ROUNDS` runs, ours and the baseline interleaved so machine noise hits both alike. `EVENTLITE_BENCH_SCALE=0.1`
//! shrinks every workload for a quick look.

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
    use crate::common::{self, Fresh, fresh, payload};
    use std::path::Path;
    use std::time::{Duration, Instant};

    use eventlite::{
        EventData, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, StartFrom, Store, SubscriptionOptions,
    };
    use rusqlite::{Connection, params};

    const ROUNDS: usize = 3;

    fn scaled(n: usize) -> usize {
        let scale: f64 = std::env::var("EVENTLITE_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
        ((n as f64 * scale) as usize).max(10)
    }

    /// A bare connection to a file whose schema EventLite created: the baseline writes the very same table, with
    /// the same pragmas the store sets (WAL, NORMAL, 16 MiB page cache, 256 MiB mmap).
    fn raw_connection(path: &Path) -> Connection {
        drop(Store::open(path).unwrap());
        common::raw_connection(path)
    }

    const RAW_INSERT: &str = "INSERT INTO events (event_id, stream, version, category, event_type, content_type, data, \
                              metadata, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, NULL, ?7)";

    /// Inserts one row. Ids are made before the clock starts, as `NewEvent` values are for the store.
    fn raw_insert(connection: &Connection, id: &eventlite::Uuid, stream: &str, version: usize, data: &str) {
        connection
            .prepare_cached(RAW_INSERT)
            .unwrap()
            .execute(params![id.as_bytes(), stream, version as i64, "order", "Placed", data, 0_i64])
            .unwrap();
    }

    fn best<F: FnMut() -> Duration>(mut f: F) -> Duration {
        (0..ROUNDS).map(|_| f()).min().unwrap()
    }

    struct Comparison {
        name: String,
        events: usize,
        ours: Duration,
        raw: Duration,
        target: &'static str,
    }

    impl Comparison {
        fn print(&self) {
            let rate = |d: Duration| self.events as f64 / d.as_secs_f64();
            println!(
                "| {} | {:.0} | {:.0} | {:.2}x | {} |",
                self.name,
                rate(self.ours),
                rate(self.raw),
                rate(self.ours) / rate(self.raw),
                self.target
            );
        }
    }

    fn single_event_appends(count: usize) -> Comparison {
        let mut ours = Duration::MAX;
        let mut raw = Duration::MAX;
        for _ in 0..ROUNDS {
            let file = fresh();
            let store = Store::open(&file.path).unwrap();
            let events: Vec<NewEvent> = (0..count).map(|n| NewEvent::from_json_text("Placed", payload(n))).collect();
            let start = Instant::now();
            for (n, event) in events.iter().enumerate() {
                store
                    .append_to_stream("order-1", std::slice::from_ref(event), ExpectedVersion::Exact(n as u64))
                    .unwrap();
            }
            ours = ours.min(start.elapsed());

            let file = fresh();
            let connection = raw_connection(&file.path);
            let rows: Vec<(eventlite::Uuid, String)> =
                (0..count).map(|n| (eventlite::Uuid::now_v7(), payload(n))).collect();
            let start = Instant::now();
            for (n, (id, data)) in rows.iter().enumerate() {
                connection.execute_batch("BEGIN").unwrap();
                raw_insert(&connection, id, "order-1", n + 1, data);
                connection.execute_batch("COMMIT").unwrap();
            }
            raw = raw.min(start.elapsed());
        }
        Comparison {
            name: "append, 1 event per call, `Exact` (events/s)".into(),
            events: count,
            ours,
            raw,
            target: ">= 0.8x raw",
        }
    }

    fn batched_appends(batches: usize, batch_size: usize) -> Comparison {
        let mut ours = Duration::MAX;
        let mut raw = Duration::MAX;
        for _ in 0..ROUNDS {
            let file = fresh();
            let store = Store::open(&file.path).unwrap();
            let batches_of_events: Vec<Vec<NewEvent>> = (0..batches)
                .map(|b| {
                    (0..batch_size).map(|n| NewEvent::from_json_text("Placed", payload(b * batch_size + n))).collect()
                })
                .collect();
            let start = Instant::now();
            for (b, batch) in batches_of_events.iter().enumerate() {
                let stream = format!("order-{}", b % 50);
                store.append_to_stream(&stream, batch, ExpectedVersion::Any).unwrap();
            }
            ours = ours.min(start.elapsed());

            let file = fresh();
            let connection = raw_connection(&file.path);
            let rows: Vec<(eventlite::Uuid, String)> =
                (0..batches * batch_size).map(|n| (eventlite::Uuid::now_v7(), payload(n))).collect();
            let mut versions = [0usize; 50];
            let start = Instant::now();
            for b in 0..batches {
                let stream = format!("order-{}", b % 50);
                connection.execute_batch("BEGIN").unwrap();
                for n in 0..batch_size {
                    versions[b % 50] += 1;
                    let (id, data) = &rows[b * batch_size + n];
                    raw_insert(&connection, id, &stream, versions[b % 50], data);
                }
                connection.execute_batch("COMMIT").unwrap();
            }
            raw = raw.min(start.elapsed());
        }
        Comparison {
            name: format!("append, {batch_size} events per call (events/s)"),
            events: batches * batch_size,
            ours,
            raw,
            target: ">= 0.8x raw, >= 250k/s",
        }
    }

    fn populated(count: usize) -> Fresh {
        let file = fresh();
        let store = Store::open(&file.path).unwrap();
        for chunk in (0..count).collect::<Vec<_>>().chunks(1_000) {
            let batch: Vec<NewEvent> = chunk.iter().map(|&n| NewEvent::from_json_text("Placed", payload(n))).collect();
            store.append_to_stream("order-1", &batch, ExpectedVersion::Any).unwrap();
        }
        file
    }

    type RawRow = (i64, Vec<u8>, String, i64, String, Option<String>, rusqlite::types::Value, Option<String>, i64);

    fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
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

    const COLUMNS: &str = "position, event_id, stream, version, event_type, content_type, data, metadata, recorded_at";

    fn reads(count: usize) -> [Comparison; 2] {
        let file = populated(count);
        let store = Store::open(&file.path).unwrap();
        let connection = raw_connection(&file.path);
        let stream_ours = best(|| {
            let start = Instant::now();
            let mut from = 1;
            let mut seen = 0;
            loop {
                let page = store
                    .read_stream("order-1", ReadStreamOptions::forwards().from_version(from).max_count(1_000))
                    .unwrap();
                let Some(last) = page.events.last() else { break };
                from = last.version + 1;
                seen += page.events.iter().filter(|e| matches!(e.data, EventData::Json(_))).count();
            }
            assert_eq!(seen, count);
            start.elapsed()
        });
        let stream_raw = best(|| {
            let start = Instant::now();
            let mut from = 1_i64;
            let mut seen = 0;
            let sql =
                format!("SELECT {COLUMNS} FROM events WHERE stream = ?1 AND version >= ?2 ORDER BY version LIMIT 1000");
            loop {
                let mut statement = connection.prepare_cached(&sql).unwrap();
                let rows: Vec<RawRow> =
                    statement.query_map(params!["order-1", from], raw_row).unwrap().map(Result::unwrap).collect();
                let Some(last) = rows.last() else { break };
                from = last.3 + 1;
                seen += rows.len();
            }
            assert_eq!(seen, count);
            start.elapsed()
        });
        let all_ours = best(|| {
            let start = Instant::now();
            let mut after = 0;
            let mut seen = 0;
            loop {
                let page = store.read_all(&ReadAllOptions::forwards().after(after).max_count(1_000)).unwrap();
                let Some(last) = page.events.last() else { break };
                after = last.position;
                seen += page.events.len();
            }
            assert_eq!(seen, count);
            start.elapsed()
        });
        let all_raw = best(|| {
            let start = Instant::now();
            let mut after = 0_i64;
            let mut seen = 0;
            let sql = format!("SELECT {COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT 1000");
            loop {
                let mut statement = connection.prepare_cached(&sql).unwrap();
                let rows: Vec<RawRow> =
                    statement.query_map(params![after], raw_row).unwrap().map(Result::unwrap).collect();
                let Some(last) = rows.last() else { break };
                after = last.0;
                seen += rows.len();
            }
            assert_eq!(seen, count);
            start.elapsed()
        });
        [
            Comparison {
                name: "read_stream, pages of 1,000 (events/s)".into(),
                events: count,
                ours: stream_ours,
                raw: stream_raw,
                target: ">= 1M/s",
            },
            Comparison {
                name: "read_all, pages of 1,000 (events/s)".into(),
                events: count,
                ours: all_ours,
                raw: all_raw,
                target: ">= 1M/s",
            },
        ]
    }

    fn percentile(sorted: &[Duration], p: f64) -> Duration {
        sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
    }

    /// Commit-to-callback latency of a live subscription on its own thread, one append at a time.
    fn subscription_latency(samples: usize) {
        let file = fresh();
        let store = Store::open(&file.path).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel::<Instant>();
        let handle = store
            .subscribe_to_all(SubscriptionOptions::from(StartFrom::End))
            .unwrap()
            .spawn(move |_| sender.send(Instant::now()).unwrap());
        let mut from_start = Vec::with_capacity(samples);
        let mut from_return = Vec::with_capacity(samples);
        for n in 0..samples {
            let event = NewEvent::from_json_text("Placed", payload(n));
            let started = Instant::now();
            store.append_to_stream("order-1", &[event], ExpectedVersion::Any).unwrap();
            let returned = Instant::now();
            let delivered = receiver.recv_timeout(Duration::from_secs(5)).unwrap();
            from_start.push(delivered - started);
            from_return.push(delivered.saturating_duration_since(returned));
            std::thread::sleep(Duration::from_micros(200));
        }
        handle.stop().unwrap();
        from_start.sort();
        from_return.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| subscription, append returned -> callback (µs) | p50 {:.0} | p99 {:.0} | | p99 <= 1000 |",
            us(percentile(&from_return, 0.5)),
            us(percentile(&from_return, 0.99))
        );
        println!(
            "| subscription, append called -> callback, commit included (µs) | p50 {:.0} | p99 {:.0} | | |",
            us(percentile(&from_start, 0.5)),
            us(percentile(&from_start, 0.99))
        );
    }

    /// A new device's first sync, the apply half: pages of 1,000 pulled events (1,000 streams, made by a server log
    /// in memory before the clock starts) applied to an empty file replica, one `apply_pull` per page. The baseline
    /// inserts the same rows, with their server positions, in one transaction per page.
    fn first_sync_apply(count: usize) -> Comparison {
        use eventlite::sync::server;
        let hub = Store::open_in_memory().unwrap();
        let streams = 1_000;
        let per_stream = count.div_ceil(streams);
        for version in 0..per_stream {
            for stream in 0..streams {
                let event = NewEvent::from_json_text("Placed", payload(version * streams + stream));
                hub.append_to_stream(&format!("order-{stream}"), &[event], ExpectedVersion::Exact(version as u64))
                    .unwrap();
            }
        }
        let mut pages = Vec::new();
        let mut after = 0;
        loop {
            let page = server::read_pull(&hub, after, 1_000).unwrap();
            let more = page.more();
            after = page.through;
            pages.push(page.into_response(|p| p.to_string()));
            if !more {
                break;
            }
        }
        let events: usize = pages.iter().map(|page| page.events.len()).sum();
        let mut ours = Duration::MAX;
        let mut raw = Duration::MAX;
        for _ in 0..ROUNDS {
            let file = fresh();
            let replica = Store::open(&file.path).unwrap();
            let start = Instant::now();
            for page in &pages {
                replica.apply_pull(page).unwrap();
            }
            ours = ours.min(start.elapsed());

            let file = fresh();
            let mut connection = raw_connection(&file.path);
            let start = Instant::now();
            for page in &pages {
                let transaction = connection.transaction().unwrap();
                for event in &page.events {
                    transaction
                        .prepare_cached(
                            "INSERT INTO events (event_id, stream, version, category, event_type, content_type, data, \
                             metadata, recorded_at, server_position) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, NULL, ?7, ?8)",
                        )
                        .unwrap()
                        .execute(params![
                            event.event_id.as_bytes(),
                            event.stream,
                            event.version as i64,
                            eventlite::category_of(&event.stream),
                            event.event_type,
                            event.data.as_ref().map(|raw| raw.get()),
                            event.recorded_at,
                            event.position as i64
                        ])
                        .unwrap();
                }
                transaction.commit().unwrap();
            }
            raw = raw.min(start.elapsed());
        }
        Comparison {
            name: "first sync: apply pulled pages of 1,000 to an empty replica (events/s)".into(),
            events,
            ours,
            raw,
            target: ">= 150k/s with the pull (issue 10)",
        }
    }

    pub fn run() {
        println!("EventLite vs raw rusqlite, WAL + synchronous=NORMAL, best of {ROUNDS} rounds\n");
        println!("| workload | EventLite | raw rusqlite | ratio | target |");
        println!("|---|---|---|---|---|");
        single_event_appends(scaled(5_000)).print();
        batched_appends(scaled(1_000), 100).print();
        for comparison in reads(scaled(100_000)) {
            comparison.print();
        }
        first_sync_apply(scaled(100_000)).print();
        subscription_latency(scaled(2_000));
    }
}
