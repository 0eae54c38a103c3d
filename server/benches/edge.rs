//! The Durable Object backend (`server/edge/`, under `wrangler dev`) against the axum server on embedded SQLite, in
//! one run: push and pull throughput (events/s) and live propagation latency (one client's append to another
//! client's live notification and pull, p50/p99), and the edge's ratio to the axum server for each. Asserts
//! nothing about time.
//!
//! `bash server/edge/bench/run.sh` starts wrangler dev and runs this with `EVENTLITE_BENCH_EDGE_URL` and
//! `EVENTLITE_BENCH_EDGE_JWT_SECRET` set (`cargo bench -p eventlite-server --bench edge`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventlite::Store;
use eventlite::sync::{PushRequest, WireEvent};
use eventlite_client::SyncClient;
use eventlite_server::backend::sqlite::SqliteBackend;
use eventlite_server::{AppState, Auth, Config};
use serde_json::json;
use uuid::Uuid;

#[path = "common/live.rs"]
mod live;

const EVENTS: usize = 20_000;
const BATCH: usize = 1_000;
const LIVE_SAMPLES: usize = 100;
const ROUNDS: usize = 3;
const TOKEN: &str = "bench-token";

/// What one server measured.
struct Figures {
    push: f64,
    pull: f64,
    live_p50: Duration,
    live_p99: Duration,
}

fn batches() -> Vec<PushRequest> {
    (0..EVENTS / BATCH)
        .map(|b| PushRequest {
            replica_id: Uuid::from_u128(1),
            events: (0..BATCH)
                .map(|i| {
                    let n = b * BATCH + i;
                    serde_json::from_value::<WireEvent>(json!({
                        "event_id": Uuid::now_v7(), "stream": format!("order-{}", n % 1_000), "type": "OrderLineAdded",
                        "expected": "any", "data": {"sku": format!("sku-{n}"), "quantity": n % 7, "price": 1999},
                        "metadata": {"correlationId": "bench"}
                    }))
                    .unwrap()
                })
                .collect(),
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Measures the server at `url` as the tenant of `token`, whose log starts empty: live propagation first (on the
/// empty log), then the best of [`ROUNDS`] rounds of pushes of fresh events, then the best of [`ROUNDS`] pulls of
/// the first [`EVENTS`].
async fn measure(url: &str, token: &str) -> Figures {
    let latencies = live::live_latencies(url, token, LIVE_SAMPLES).await;

    let client = SyncClient::new(url, token, Store::open_in_memory().unwrap()).with_batch_size(BATCH);
    let mut push: f64 = 0.0;
    for _ in 0..ROUNDS {
        let requests = batches();
        let started = Instant::now();
        for request in &requests {
            client.post_push(request).await.unwrap();
        }
        push = push.max(EVENTS as f64 / started.elapsed().as_secs_f64());
    }
    let mut pull: f64 = 0.0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let (mut cursor, mut pulled): (Option<String>, usize) = (None, 0);
        while pulled < EVENTS {
            let page = client.get_pull(cursor.as_deref()).await.unwrap();
            pulled += page.events.len();
            cursor = Some(page.cursor);
        }
        pull = pull.max(EVENTS as f64 / started.elapsed().as_secs_f64());
    }
    Figures { push, pull, live_p50: percentile(&latencies, 0.50), live_p99: percentile(&latencies, 0.99) }
}

async fn axum_sqlite(dir: &std::path::Path) -> String {
    let backend = Arc::new(SqliteBackend::new(dir.to_path_buf()).unwrap());
    let auth = Auth::from_tokens([(TOKEN.to_owned(), "bench".to_owned())]).unwrap();
    let state = AppState::new(backend, auth, Config::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { eventlite_server::serve(listener, state, std::future::pending()).await });
    url
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn main() {
    let Ok(edge_url) = std::env::var("EVENTLITE_BENCH_EDGE_URL") else {
        println!("EVENTLITE_BENCH_EDGE_URL is not set: run `bash server/edge/bench/run.sh`, which starts wrangler dev");
        return;
    };
    let secret = std::env::var("EVENTLITE_BENCH_EDGE_JWT_SECRET").expect("EVENTLITE_BENCH_EDGE_JWT_SECRET");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        println!("Durable Object (wrangler dev, local) vs axum + embedded SQLite, loopback, same machine, one run:");
        println!("best of {ROUNDS} rounds of {EVENTS} events of ~150 bytes, pushes and pages of {BATCH}");
        let dir = tempfile::tempdir().unwrap();
        let axum_url = axum_sqlite(dir.path()).await;
        let axum = measure(&axum_url, TOKEN).await;
        let tenant = format!("bench-{}", Uuid::new_v4().simple());
        let token = eventlite_server::auth::mint_jwt(secret.as_bytes(), &tenant, None);
        let edge = measure(edge_url.trim_end_matches('/'), &token).await;
        println!("| workload | axum + SQLite | Durable Object | edge / axum |");
        println!("|---|---|---|---|");
        println!("| push (events/s) | {:.0} | {:.0} | {:.2}x |", axum.push, edge.push, edge.push / axum.push);
        println!("| pull (events/s) | {:.0} | {:.0} | {:.2}x |", axum.pull, edge.pull, edge.pull / axum.pull);
        println!(
            "| live p50 (ms) | {:.2} | {:.2} | {:.2}x |",
            ms(axum.live_p50),
            ms(edge.live_p50),
            ms(edge.live_p50) / ms(axum.live_p50)
        );
        println!(
            "| live p99 (ms) | {:.2} | {:.2} | {:.2}x |",
            ms(axum.live_p99),
            ms(edge.live_p99),
            ms(edge.live_p99) / ms(axum.live_p99)
        );
    });
}
