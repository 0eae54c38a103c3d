//! Live propagation, measured the same way by every sync benchmark (`sync.rs`, `edge.rs`): device A appends and
//! syncs; device B follows `/v1/live` and pulls on each notification; each sample is the time until B has the
//! event.

use std::time::{Duration, Instant};

use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_client::SyncClient;
use tokio::sync::{mpsc, watch};

/// `samples` propagation times through the server at `url`, sorted.
pub async fn live_latencies(url: &str, token: &str, samples: usize) -> Vec<Duration> {
    let a = SyncClient::new(url, token, Store::open_in_memory().unwrap());
    let b = SyncClient::new(url, token, Store::open_in_memory().unwrap());
    let (stop, stopped) = watch::channel(false);
    let (synced, mut notified) = mpsc::unbounded_channel();
    let follower = b.clone();
    let live = tokio::spawn(async move {
        follower
            .run_live(stopped, move |report| {
                if report.pulled > 0 {
                    let _ = synced.send(Instant::now());
                }
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    while notified.try_recv().is_ok() {}
    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples {
        let started = Instant::now();
        a.store().append_to_stream("live-1", &[NewEvent::json("Ping", &n)], ExpectedVersion::Any).unwrap();
        a.sync().await.unwrap();
        let arrived = tokio::time::timeout(Duration::from_secs(10), notified.recv()).await.unwrap().unwrap();
        latencies.push(arrived - started);
        while notified.try_recv().is_ok() {}
    }
    stop.send_replace(true);
    let _ = live.await;
    latencies.sort();
    latencies
}
