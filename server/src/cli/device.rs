//! The device tools: `append` one event to a local store, `sync` it with a server, print its `log`.

use std::path::PathBuf;

use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, Store};
use eventlite_client::SyncClient;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Appends one event and prints `{"position":…,"stream_version":…}`.
pub fn append(store: PathBuf, stream: &str, event_type: String, data: String, expected: &str) -> Result<(), Failure> {
    let expected = match expected {
        "any" => ExpectedVersion::Any,
        "no_stream" => ExpectedVersion::NoStream,
        "stream_exists" => ExpectedVersion::StreamExists,
        version => ExpectedVersion::Exact(version.parse().map_err(|_| format!("bad --expected {version:?}"))?),
    };
    let store = Store::open(store)?;
    let result = store.append_to_stream(stream, &[NewEvent::from_json_text(event_type, data)], expected)?;
    let position = result.positions.first().copied().unwrap_or_default();
    println!("{}", serde_json::json!({ "stream_version": result.stream_version, "position": position }));
    Ok(())
}

/// Syncs once (or follows live notifications until Ctrl-C) and prints each round's report.
pub async fn sync(store: PathBuf, server: &str, token: &str, live: bool) -> Result<(), Failure> {
    let client = SyncClient::new(server, token, Store::open(store)?)
        .on_conflict(|conflict| eprintln!("conflict: {} {} {}", conflict.stream, conflict.event_id, conflict.message));
    if !live {
        let report = client.sync_with_retry(5).await?;
        println!(
            "{}",
            serde_json::json!({ "pushed": report.pushed, "pulled": report.pulled, "conflicts": report.conflicts.len() })
        );
        return Ok(());
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.send_replace(true);
    });
    client
        .run_live(stopped, |report| {
            println!("{}", serde_json::json!({ "pushed": report.pushed, "pulled": report.pulled, "conflicts": report.conflicts.len() }));
        })
        .await;
    Ok(())
}

/// Prints the log, one JSON line per event, and the sync status on stderr.
pub fn log(store: PathBuf) -> Result<(), Failure> {
    let store = Store::open(store)?;
    let mut after = 0;
    loop {
        let page = store.read_all(&ReadAllOptions::forwards().after(after))?;
        let Some(last) = page.events.last() else { break };
        after = last.position;
        for event in &page.events {
            let data = match &event.data {
                eventlite::EventData::Json(text) => text.clone(),
                eventlite::EventData::Binary { content_type, bytes } => {
                    format!("\"<{} bytes of {content_type}>\"", bytes.len())
                }
            };
            println!(
                "{{\"position\":{},\"stream\":{:?},\"version\":{},\"type\":{:?},\"data\":{data}}}",
                event.position, event.stream, event.version, event.event_type
            );
        }
    }
    let status = store.sync_status()?;
    eprintln!(
        "replica {}: {} pending, confirmed through {}, {} conflicts",
        status.replica_id, status.pending, status.confirmed_through, status.conflicts
    );
    Ok(())
}
