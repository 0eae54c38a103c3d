//! Storage backends behind one trait. Both decide pushes with core's `eventlite::sync::server::PushRules` (the
//! embedded one through `apply_push`), do only their own storage I/O, and pass the same shared test suite
//! (`tests/it/backend_suite.rs`).

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use eventlite::sync::server::{Limits, PullPage};
use eventlite::sync::{PushRequest, PushResponse, SyncError};

use crate::auth::Tenant;
use crate::live::Hub;

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A sync rule or validation failure (bad input: 4xx), or a storage failure classified by core.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The database is unreachable or overloaded: retry later (503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected database error (500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// A tenant-partitioned event log the server syncs against.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A short name for logs and metrics: `sqlite` or `postgres`.
    fn name(&self) -> &'static str;

    /// Validates the whole push (nothing stored if invalid), then applies its events in order in one transaction.
    /// Returns one outcome per event and the tenant's head position after the push.
    async fn push(
        &self,
        tenant: &Tenant,
        request: PushRequest,
        limits: Limits,
    ) -> Result<(PushResponse, u64), BackendError>;

    /// Up to `limit` events after position `after`, in position order, and the head. The page stops before the
    /// event that would take its events' sizes (type + data + metadata + content type) over `max_bytes`, but always
    /// holds at least one event; only that much is read into memory.
    async fn pull(&self, tenant: &Tenant, after: u64, limit: usize, max_bytes: usize)
    -> Result<PullPage, BackendError>;

    /// The tenant's head position (0 when empty).
    async fn head(&self, tenant: &Tenant) -> Result<u64, BackendError>;

    /// Runs until the process ends, publishing to `hub` the heads that other server processes move (PostgreSQL
    /// `LISTEN`). Backends with a single process return at once.
    async fn listen(&self, hub: Hub) -> Result<(), BackendError>;

    /// Whether the storage answers (for `/health`).
    async fn ping(&self) -> Result<(), BackendError>;
}
