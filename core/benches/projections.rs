//! What projections cost, in one run: `cargo bench -p eventlite --bench projections` (`EVENTLITE_BENCH_SCALE=0.1`
//! for a quick look).
//!
//! - appends (1 event per call, and 100) with 0, 1 and 5 simple projections on a fresh WAL file, synchronous
//!   NORMAL: the ratio to the plain append (target: one projection at most 1.5x);
//! - rebuild: registering a projection over a stored log, events/s;
//! - rebase: 100 pending events rewound and refolded after a pull, on logs of two sizes (target: independent of
//!   the log's size).
//!
//! Each figure is the best of `ROUNDS` runs, the variants interleaved so machine noise hits them alike.

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn main() {
    native::run();
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn main() {}

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod native {
    use std::time::{Duration, Instant};

    use eventlite::sync::server::{self, Limits};
    use eventlite::{ExpectedVersion, NewEvent, Projection, Store};

    const ROUNDS: usize = 3;

    fn scaled(n: usize) -> usize {
        let scale: f64 = std::env::var("EVENTLITE_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
        ((n as f64 * scale) as usize).max(10)
    }

    fn event(n: usize) -> NewEvent {
        NewEvent::json("Placed", &serde_json::json!({ "amount": n % 977, "currency": "EUR" }))
    }

    /// A projection like an app's: one row per stream, upserted per event.
    fn projection(index: usize) -> Projection {
        let table = format!("totals_{index}");
        Projection::new(format!("totals_{index}"), 1)
            .setup(format!(
                "CREATE TABLE {table} (stream TEXT PRIMARY KEY, n INTEGER NOT NULL, amount INTEGER NOT NULL)"
            ))
            .on_type(
                "Placed",
                [format!(
                    "INSERT INTO {table} (stream, n, amount) VALUES (:stream, 1, :data ->> '$.amount')
                     ON CONFLICT (stream) DO UPDATE SET n = n + 1, amount = amount + excluded.amount"
                )],
            )
    }

    fn store_with(projections: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("bench.db")).unwrap();
        for index in 0..projections {
            store.register_projection(&projection(index)).unwrap();
        }
        (dir, store)
    }

    /// Appends `events` events in batches of `batch` to 100 streams with exact expectations; the time taken.
    fn appends(projections: usize, events: usize, batch: usize) -> Duration {
        let (_dir, store) = store_with(projections);
        let batches: Vec<Vec<NewEvent>> =
            (0..events / batch).map(|b| (0..batch).map(|i| event(b * batch + i)).collect()).collect();
        let mut versions = [0u64; 100];
        let start = Instant::now();
        for (index, batch) in batches.iter().enumerate() {
            let stream = index % 100;
            store
                .append_to_stream(&format!("order-{stream}"), batch, ExpectedVersion::Exact(versions[stream]))
                .unwrap();
            versions[stream] += batch.len() as u64;
        }
        start.elapsed()
    }

    fn rate(events: usize, time: Duration) -> f64 {
        events as f64 / time.as_secs_f64()
    }

    fn append_costs(label: &str, events: usize, batch: usize) {
        let mut best = [Duration::MAX; 3];
        for _ in 0..ROUNDS {
            for (slot, projections) in [0, 1, 5].into_iter().enumerate() {
                best[slot] = best[slot].min(appends(projections, events, batch));
            }
        }
        println!(
            "{label:<28} {:>10.0} events/s | 1 projection {:>10.0} ({:.2}x the cost) | 5 projections {:>10.0} ({:.2}x)",
            rate(events, best[0]),
            rate(events, best[1]),
            best[1].as_secs_f64() / best[0].as_secs_f64(),
            rate(events, best[2]),
            best[2].as_secs_f64() / best[0].as_secs_f64(),
        );
    }

    /// The same work through a bare rusqlite connection on a file EventLite created: the event row, and with
    /// `project` the projection's upsert bound by hand; what SQLite itself needs.
    fn raw_appends(project: bool, events: usize, batch: usize) -> Duration {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.db");
        drop(Store::open(&path).unwrap());
        let mut connection = rusqlite::Connection::open(&path).unwrap();
        connection.pragma_update(None, "journal_mode", "WAL").unwrap();
        connection.pragma_update(None, "synchronous", "NORMAL").unwrap();
        connection.pragma_update(None, "cache_size", -16_384).unwrap();
        connection.pragma_update(None, "wal_autocheckpoint", 10_000).unwrap();
        connection.pragma_update(None, "mmap_size", 256 * 1024 * 1024).unwrap();
        connection
            .execute_batch("CREATE TABLE totals (stream TEXT PRIMARY KEY, n INTEGER NOT NULL, amount INTEGER NOT NULL)")
            .unwrap();
        let datas: Vec<String> =
            (0..events).map(|n| String::from_utf8(event(n).data.as_bytes().to_vec()).unwrap()).collect();
        let ids: Vec<eventlite::Uuid> = (0..events).map(|_| eventlite::Uuid::now_v7()).collect();
        let mut versions = [0i64; 100];
        let start = Instant::now();
        for b in 0..events / batch {
            let stream = format!("order-{}", b % 100);
            let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
            for i in b * batch..(b + 1) * batch {
                versions[b % 100] += 1;
                transaction
                    .prepare_cached(
                        "INSERT INTO events (event_id, stream, version, category, event_type, data, recorded_at)
                         VALUES (?1, ?2, ?3, 'order', 'Placed', ?4, 0)",
                    )
                    .unwrap()
                    .execute(rusqlite::params![ids[i].as_bytes(), stream, versions[b % 100], datas[i]])
                    .unwrap();
                if project {
                    transaction
                        .prepare_cached(
                            "INSERT INTO totals (stream, n, amount) VALUES (?1, 1, ?2 ->> '$.amount')
                             ON CONFLICT (stream) DO UPDATE SET n = n + 1, amount = amount + excluded.amount",
                        )
                        .unwrap()
                        .execute(rusqlite::params![stream, datas[i]])
                        .unwrap();
                }
            }
            transaction.commit().unwrap();
        }
        start.elapsed()
    }

    fn raw_costs(label: &str, events: usize, batch: usize) {
        let mut best = [Duration::MAX; 2];
        for _ in 0..ROUNDS {
            best[0] = best[0].min(raw_appends(false, events, batch));
            best[1] = best[1].min(raw_appends(true, events, batch));
        }
        println!(
            "{label:<28} {:>10.0} events/s | + the upsert {:>10.0} ({:.2}x the cost): SQLite's own share",
            rate(events, best[0]),
            rate(events, best[1]),
            best[1].as_secs_f64() / best[0].as_secs_f64(),
        );
    }

    fn rebuild(events: usize) {
        let mut best = Duration::MAX;
        for _ in 0..ROUNDS {
            let (_dir, store) = store_with(0);
            for chunk in 0..events / 1000 {
                let batch: Vec<NewEvent> = (0..1000).map(event).collect();
                store.append_to_stream(&format!("order-{}", chunk % 100), &batch, ExpectedVersion::Any).unwrap();
            }
            let start = Instant::now();
            store.register_projection(&projection(0)).unwrap();
            best = best.min(start.elapsed());
        }
        println!("{:<28} {:>10.0} events/s ({events} events)", "rebuild (register)", rate(events, best));
    }

    /// A replica with `confirmed` events pulled from a hub and 100 pending ones; the hub gets another replica's
    /// event, so the next pull rebases the 100. The time of that pull (rewind, reinsert, refold).
    fn rebase(confirmed: usize) -> Duration {
        let hub = Store::open_in_memory().unwrap();
        for chunk in 0..confirmed / 1000 {
            let batch: Vec<NewEvent> = (0..1000).map(event).collect();
            hub.append_to_stream(&format!("order-{}", chunk % 100), &batch, ExpectedVersion::Any).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let replica = Store::open(dir.path().join("replica.db")).unwrap();
        replica.replica_id().unwrap();
        replica.register_projection(&projection(0)).unwrap();
        let pull = |replica: &Store| loop {
            let after = replica.pull_cursor().unwrap().map_or(0, |cursor| cursor.parse().unwrap());
            let page = server::read_pull(&hub, after, 5000).unwrap();
            let more = page.more();
            replica.apply_pull(&page.into_response(|p| p.to_string())).unwrap();
            if !more {
                break;
            }
        };
        pull(&replica);
        for n in 0..100 {
            replica.append_to_stream(&format!("order-{}", n % 10), &[event(n)], ExpectedVersion::Any).unwrap();
        }
        let other = Store::open_in_memory().unwrap();
        other.append_to_stream("order-1", &[event(1)], ExpectedVersion::Any).unwrap();
        let push = other.next_push(10).unwrap().unwrap();
        server::apply_push(&hub, &push, &Limits::default()).unwrap();
        let start = Instant::now();
        pull(&replica);
        start.elapsed()
    }

    pub fn run() {
        println!("projections (file store, WAL, synchronous NORMAL), best of {ROUNDS}");
        append_costs("append, 1 event per call", scaled(5_000), 1);
        append_costs("append, 100 events per call", scaled(100_000), 100);
        raw_costs("raw SQLite, 1 per commit", scaled(5_000), 1);
        raw_costs("raw SQLite, 100 per commit", scaled(100_000), 100);
        rebuild(scaled(200_000).max(1000) / 1000 * 1000);
        let (small, large) = (scaled(10_000).max(1000) / 1000 * 1000, scaled(100_000).max(1000) / 1000 * 1000);
        let mut best = [Duration::MAX; 2];
        for _ in 0..ROUNDS {
            best[0] = best[0].min(rebase(small));
            best[1] = best[1].min(rebase(large));
        }
        println!(
            "{:<28} {:>8.2} ms on {small} events | {:>8.2} ms on {large} events ({:.2}x)",
            "rebase of 100 pending",
            best[0].as_secs_f64() * 1e3,
            best[1].as_secs_f64() * 1e3,
            best[1].as_secs_f64() / best[0].as_secs_f64()
        );
    }
}
