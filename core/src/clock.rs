//! Time and event ids. Natively from the OS; on `wasm32-unknown-unknown` from SQLite's VFS (which the final
//! wasm binary backs with the host's clock and random source), so core never calls into JS itself.

use rusqlite::Connection;
use uuid::Uuid;

/// Milliseconds since the Unix epoch.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub(crate) fn now_millis(_connection: &Connection) -> rusqlite::Result<i64> {
    let elapsed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Ok(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

/// Milliseconds since the Unix epoch.
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) fn now_millis(connection: &Connection) -> rusqlite::Result<i64> {
    connection.prepare_cached("SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER)")?.query_row([], |row| row.get(0))
}

/// A fresh UUID v7 for an event appended without an id.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub(crate) fn new_event_id(_connection: &Connection, _now_millis: i64) -> rusqlite::Result<Uuid> {
    Ok(Uuid::now_v7())
}

/// A fresh UUID v7 for an event appended without an id.
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) fn new_event_id(connection: &Connection, now_millis: i64) -> rusqlite::Result<Uuid> {
    let random: Vec<u8> = connection.prepare_cached("SELECT randomblob(10)")?.query_row([], |row| row.get(0))?;
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&random[..10]);
    let millis = u64::try_from(now_millis).unwrap_or(0);
    Ok(uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid())
}
