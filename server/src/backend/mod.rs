//! Storage backends behind one trait. Both decide pushes with core's `eventlite::sync::server::PushRules` (the
//! embedded one through `apply_push`), do only their own storage I/O, and pass the same shared test suite
//! (`tests/it/backend_suite.rs`).

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use eventlite::sync::server::{Limits, PullPage};
use eventlite::sync::{PushRequest, PushResponse, SyncError};
use uuid::Uuid;

use crate::auth::Tenant;
use crate::cursor::{Cursor, EventMark, LogReset};
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
    /// The push's cursor came from another log than the tenant's (410 `LOG_RESET`); nothing was stored.
    #[error(transparent)]
    LogReset(#[from] LogReset),
}

/// A pull page, and what the request's cursor is checked against ([`Cursor::verify`]).
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The page.
    pub page: PullPage,
    /// The identity of the tenant's log, created with it (on first use).
    pub log_id: Uuid,
    /// The event at the requested position, if the log has one there.
    pub event_at_after: Option<EventMark>,
}

/// A tenant-partitioned event log the server syncs against.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A short name for logs and metrics: `sqlite` or `postgres`.
    fn name(&self) -> &'static str;

    /// Validates the whole push (nothing stored if invalid), then checks `after` (the pushing replica's pull cursor,
    /// if it has one) against the tenant's log ([`Cursor::verify`]: [`BackendError::LogReset`], nothing stored),
    /// then applies its events in order in one transaction. Returns one outcome per event and the tenant's head
    /// position after the push. Creates the tenant's log, with its identity, if it has none yet.
    async fn push(
        &self,
        tenant: &Tenant,
        request: PushRequest,
        limits: Limits,
        after: Option<&Cursor>,
    ) -> Result<(PushResponse, u64), BackendError>;

    /// Up to `limit` events after position `after`, in position order, and the head, with the log's identity and
    /// the id of the event at `after`. The page stops before the event that would take its events' sizes (type +
    /// data + metadata + content type) over `max_bytes`, but always holds at least one event; only that much is
    /// read into memory. Creates the tenant's log identity if it has none yet.
    async fn pull(&self, tenant: &Tenant, after: u64, limit: usize, max_bytes: usize) -> Result<Pulled, BackendError>;

    /// The tenant's head position (0 when empty).
    async fn head(&self, tenant: &Tenant) -> Result<u64, BackendError>;

    /// Runs until the process ends, publishing to `hub` the heads that other server processes move (PostgreSQL
    /// `LISTEN`). Backends with a single process return at once.
    async fn listen(&self, hub: Hub) -> Result<(), BackendError>;

    /// Whether the storage answers (for `/health`).
    async fn ping(&self) -> Result<(), BackendError>;
}
