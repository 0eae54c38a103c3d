//! The embedded backend: one core [`Store`] per tenant, `<data dir>/<tenant>.db`, opened on first use.
//!
//! Tenants are isolated by file; every push is fsynced before it is acknowledged (`synchronous=FULL`). Opening a
//! store, pushes and pulls run on the blocking pool: core is synchronous. The store's single writer assigns positions
//! in commit order, so pulls never skip an event.
//!
//! The log's identity is kept in the tenant's database (core's `eventlite::sync::server::log_id`), created with it,
//! and read once when the store is opened. A push's cursor is checked before the push's transaction: what the check
//! reads (the identity, the event at a position) only ever changes when the database is replaced, which this
//! process never does while it has the store open.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use eventlite::sync::server::{self, Limits};
use eventlite::sync::{PushRequest, PushResponse, SyncError};
use eventlite::{Location, Store, StoreOptions, Synchronous};
use uuid::Uuid;

use crate::auth::Tenant;
use crate::backend::{Backend, BackendError, Pulled};
use crate::cursor::{Cursor, EventMark};
use crate::live::Hub;

/// The embedded SQLite backend.
pub struct SqliteBackend {
    stores: Arc<Stores>,
}

struct Stores {
    dir: Option<PathBuf>,
    open: Mutex<HashMap<String, TenantLog>>,
}

/// A tenant's open store and its log's identity.
#[derive(Clone)]
struct TenantLog {
    store: Store,
    id: Uuid,
}

impl SqliteBackend {
    /// Stores tenants' databases in `dir` (created if missing).
    pub fn new(dir: PathBuf) -> Result<SqliteBackend, BackendError> {
        std::fs::create_dir_all(&dir)
            .map_err(|error| BackendError::Unavailable(format!("{}: {error}", dir.display())))?;
        Ok(SqliteBackend { stores: Arc::new(Stores { dir: Some(dir), open: Mutex::new(HashMap::new()) }) })
    }

    /// Keeps every tenant in memory (tests).
    pub fn in_memory() -> SqliteBackend {
        SqliteBackend { stores: Arc::new(Stores { dir: None, open: Mutex::new(HashMap::new()) }) }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        tenant: &Tenant,
        f: impl FnOnce(TenantLog) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let stores = Arc::clone(&self.stores);
        let tenant = tenant.clone();
        tokio::task::spawn_blocking(move || f(stores.get(&tenant)?))
            .await
            .map_err(|error| BackendError::Internal(format!("the storage task failed: {error}")))?
    }
}

impl Stores {
    /// The tenant's store, opened (and migrated) on first use, and its log's identity (created then if new).
    fn get(&self, tenant: &Tenant) -> Result<TenantLog, BackendError> {
        let mut stores = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(log) = stores.get(tenant.as_str()) {
            return Ok(log.clone());
        }
        let location = match &self.dir {
            Some(dir) => Location::File(dir.join(format!("{}.db", tenant.as_str()))),
            None => Location::Memory,
        };
        // A push is acknowledged only once it is on disk: `synchronous=FULL` (an fsync per push, not per event).
        // Event size is bounded by the server's `Limits` when a push is validated, before the store sees it.
        let options = StoreOptions { synchronous: Synchronous::Full, ..StoreOptions::default() };
        let store = Store::open_with(location, options)
            .map_err(|error| BackendError::Unavailable(format!("opening the tenant's store: {error}")))?;
        let log = TenantLog { id: server::log_id(&store)?, store };
        stores.insert(tenant.as_str().to_owned(), log.clone());
        Ok(log)
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn push(
        &self,
        tenant: &Tenant,
        request: PushRequest,
        limits: Limits,
        after: Option<&Cursor>,
    ) -> Result<(PushResponse, u64), BackendError> {
        let (name, after) = (tenant.as_str().to_owned(), after.cloned());
        self.blocking(tenant, move |log| {
            if let Some(after) = after {
                let event_at = server::event_at(&log.store, after.position())?.map(EventMark::from);
                if let Err(reset) = after.verify(&name, log.id, event_at) {
                    // A malformed push is refused as such first, as `apply_push` (and every backend) would.
                    server::validate_push(&request, &limits)?;
                    return Err(reset.into());
                }
            }
            let response = server::apply_push(&log.store, &request, &limits)?;
            let head = log.store.head_position().map_err(SyncError::from)?;
            Ok((response, head))
        })
        .await
    }

    async fn pull(&self, tenant: &Tenant, after: u64, limit: usize, max_bytes: usize) -> Result<Pulled, BackendError> {
        self.blocking(tenant, move |log| {
            // Read before the page: an event, once stored, stays at its position.
            let event_at_after = server::event_at(&log.store, after)?.map(EventMark::from);
            let page = server::read_pull_within(&log.store, after, limit, max_bytes)?;
            Ok(Pulled { page, log_id: log.id, event_at_after })
        })
        .await
    }

    async fn head(&self, tenant: &Tenant) -> Result<u64, BackendError> {
        self.blocking(tenant, |log| Ok(log.store.head_position().map_err(SyncError::from)?)).await
    }

    async fn listen(&self, _hub: Hub) -> Result<(), BackendError> {
        Ok(())
    }

    async fn ping(&self) -> Result<(), BackendError> {
        Ok(())
    }
}
