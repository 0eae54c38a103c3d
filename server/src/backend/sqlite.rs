//! The embedded backend: one core [`Store`] per tenant, `<data dir>/<tenant>.db`, opened on first use.
//!
//! Tenants are isolated by file; every push is fsynced before it is acknowledged (`synchronous=FULL`). Opening a
//! store, pushes and pulls run on the blocking pool: core is synchronous. The store's single writer assigns positions
//! in commit order, so pulls never skip an event.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use eventlite::sync::server::{self, Limits, PullPage};
use eventlite::sync::{PushRequest, PushResponse};
use eventlite::{Location, Store, StoreOptions, Synchronous};

use crate::auth::Tenant;
use crate::backend::{Backend, BackendError};
use crate::live::Hub;

/// The embedded SQLite backend.
pub struct SqliteBackend {
    stores: Arc<Stores>,
}

struct Stores {
    dir: Option<PathBuf>,
    open: Mutex<HashMap<String, Store>>,
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
        f: impl FnOnce(Store) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let stores = Arc::clone(&self.stores);
        let tenant = tenant.clone();
        tokio::task::spawn_blocking(move || f(stores.get(&tenant)?))
            .await
            .map_err(|error| BackendError::Internal(format!("the storage task failed: {error}")))?
    }
}

impl Stores {
    /// The tenant's store, opened (and migrated) on first use.
    fn get(&self, tenant: &Tenant) -> Result<Store, BackendError> {
        let mut stores = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(store) = stores.get(tenant.as_str()) {
            return Ok(store.clone());
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
        stores.insert(tenant.as_str().to_owned(), store.clone());
        Ok(store)
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
    ) -> Result<(PushResponse, u64), BackendError> {
        self.blocking(tenant, move |store| {
            let response = server::apply_push(&store, &request, &limits)?;
            let head = store.head_position().map_err(eventlite::sync::SyncError::from)?;
            Ok((response, head))
        })
        .await
    }

    async fn pull(
        &self,
        tenant: &Tenant,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<PullPage, BackendError> {
        self.blocking(tenant, move |store| Ok(server::read_pull_within(&store, after, limit, max_bytes)?)).await
    }

    async fn head(&self, tenant: &Tenant) -> Result<u64, BackendError> {
        self.blocking(tenant, |store| Ok(store.head_position().map_err(eventlite::sync::SyncError::from)?)).await
    }

    async fn listen(&self, _hub: Hub) -> Result<(), BackendError> {
        Ok(())
    }

    async fn ping(&self) -> Result<(), BackendError> {
        Ok(())
    }
}
