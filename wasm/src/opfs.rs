//! OPFS persistence through the sahpool VFS (dedicated workers only).
//!
//! Each store name gets its own pool (VFS `eventlite-<name>`, directory `.eventlite/<name>`), so two stores, or two
//! tabs with different stores, never contend for the same OPFS access handles. Closing a store pauses its pool,
//! which releases the handles; opening it again resumes the pool.
//!
//! Stores open their database through [`commit_writes`] over the pool (VFS `eventlite-commits/<name>`), which
//! writes each commit's WAL frames with one OPFS write; the raw-SQLite baseline of the benchmark uses the pool alone.

use eventlite::ErrorCode;
use sqlite_wasm_rs::WasmOsCallback;
use sqlite_wasm_vfs::sahpool::{OpfsSAHError, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil, install};

use crate::error::JsError;

pub(crate) mod commit_writes;

/// The store names OPFS accepts: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
pub(crate) fn validate_name(name: &str) -> Result<(), JsError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(JsError::invalid("name", "must be 1 to 64 of A-Z a-z 0-9 . _ - and not start with '.'"))
    }
}

/// The VFS name of a store's pool: the sahpool VFS, one OPFS write per SQLite write.
pub(crate) fn pool_vfs_name(name: &str) -> String {
    format!("eventlite-{name}")
}

/// The VFS a store opens its database with: [`commit_writes`] over the pool. `/` is not allowed in store names, so
/// this never names another store's pool.
pub(crate) fn vfs_name(name: &str) -> String {
    format!("eventlite-commits/{name}")
}

/// The database's path inside its pool.
pub(crate) fn database_path(name: &str) -> String {
    format!("/{name}.sqlite3")
}

/// Installs (or resumes) the pool of store `name`, and the commit-writes layer over it ([`vfs_name`]).
pub(crate) async fn open_pool(name: &str) -> Result<OpfsSAHPoolUtil, JsError> {
    let config =
        OpfsSAHPoolCfgBuilder::new().vfs_name(&pool_vfs_name(name)).directory(&format!(".eventlite/{name}")).build();
    let pool = install::<WasmOsCallback>(&config, false).await.map_err(pool_error)?;
    if pool.is_paused() {
        pool.resume().await.map_err(pool_error)?;
    }
    if let Err(message) = commit_writes::install(&vfs_name(name), &pool_vfs_name(name)) {
        let _ = pool.pause();
        return Err(JsError::new(ErrorCode::StorageUnavailable.as_str(), format!("OPFS: {message}")));
    }
    Ok(pool)
}

/// Maps pool failures to store codes: unsupported → `STORAGE_UNAVAILABLE` with `opfsUnsupported: true` (the JS
/// layer may then fall back to memory and say so); handles held elsewhere → `STORAGE_BUSY`; quota → `STORAGE_FULL`.
pub(crate) fn pool_error(error: OpfsSAHError) -> JsError {
    let message = format!("OPFS: {error}");
    match &error {
        OpfsSAHError::NotSupported => {
            JsError::new(ErrorCode::StorageUnavailable.as_str(), message).with("opfsUnsupported", true.into())
        }
        OpfsSAHError::Busy | OpfsSAHError::FileInUse(_) | OpfsSAHError::FilesInUse => {
            JsError::new(ErrorCode::StorageBusy.as_str(), message)
        }
        OpfsSAHError::Opfs { message: browser, .. } if browser.starts_with("NoModificationAllowedError") => {
            JsError::new(ErrorCode::StorageBusy.as_str(), message)
        }
        OpfsSAHError::Opfs { message: browser, .. } if browser.starts_with("QuotaExceededError") => {
            JsError::new(ErrorCode::StorageFull.as_str(), message)
        }
        OpfsSAHError::NoCapacity | OpfsSAHError::OutOfMemory => JsError::new(ErrorCode::StorageFull.as_str(), message),
        OpfsSAHError::NeedsRecovery | OpfsSAHError::InvalidHeader { .. } | OpfsSAHError::DuplicateFilename(_) => {
            JsError::new(ErrorCode::Corrupt.as_str(), message)
        }
        _ => JsError::new(ErrorCode::StorageUnavailable.as_str(), message),
    }
}
