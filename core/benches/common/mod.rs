//! What the core benchmarks share (`throughput.rs`, `workload.rs`): the payload, a fresh file, and a bare connection
//! with the store's pragmas. Native only, like the benchmarks themselves.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// The same ~80-byte JSON object every benchmark (and the peers' scripts) writes.
pub fn payload(n: usize) -> String {
    format!(r#"{{"orderId":"order-{n}","amount":{},"currency":"EUR","note":"benchmark event"}}"#, n % 977)
}

/// A database path in a directory of its own, removed when dropped.
pub struct Fresh {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn fresh() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    Fresh { _dir: dir, path }
}

/// A bare connection with the pragmas the store sets: WAL, NORMAL, and (so that only the schema and the work
/// differ) its 16 MiB page cache, 256 MiB mmap and checkpoint every 10,000 pages.
pub fn raw_connection(path: &Path) -> Connection {
    let connection = Connection::open(path).unwrap();
    connection.pragma_update(None, "journal_mode", "WAL").unwrap();
    connection.pragma_update(None, "synchronous", "NORMAL").unwrap();
    connection.pragma_update(None, "cache_size", -16_384).unwrap();
    connection.pragma_update(None, "wal_autocheckpoint", 10_000).unwrap();
    connection.pragma_update(None, "mmap_size", 256 * 1024 * 1024).unwrap();
    connection
}
