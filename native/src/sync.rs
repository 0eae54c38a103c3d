//! Sync through the device sync client (`eventlite-client`) on a runtime the library owns.
//!
//! The client is async (tokio + reqwest); foreign callers are not. The library keeps one small multi-thread tokio
//! runtime (2 workers, started on first use, threads named `eventlite-sync`): `sync_once` runs a round on it and
//! blocks the calling thread until it ends (call it from a background thread, not a UI thread); live sync runs on
//! it as a task until stopped. Stopping is safe at any moment: every step of a round can be repeated, so a stopped
//! sync loses nothing and the next one resumes from the stored cursor with the events still pending.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use eventlite::Store;
use eventlite_client::SyncClient;
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::EventLiteError;
use crate::types::{Conflict, SyncOptions, SyncReport};

/// Told what live sync does, on a library thread. Every method is called from the sync runtime: return quickly.
/// Exceptions thrown here are ignored (they cannot stop sync; call `stop_sync` for that).
#[uniffi::export(foreign)]
pub trait SyncListener: Send + Sync {
    /// An event left its stream for the conflicts list (the server rejected it), as it happens.
    fn on_conflict(&self, conflict: Conflict) -> Result<(), EventLiteError>;
    /// A sync round finished (the server's head moved, or live sync connected).
    fn on_sync(&self, report: SyncReport) -> Result<(), EventLiteError>;
    /// Live sync failed and will retry after a backoff (`NETWORK` while offline, `UNAUTHORIZED`, ...).
    fn on_error(&self, error: EventLiteError) -> Result<(), EventLiteError>;
}

fn runtime() -> Result<&'static Runtime, EventLiteError> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_name("eventlite-sync")
        .enable_all()
        .build()
        .map_err(|error| EventLiteError::internal(format!("could not start the sync runtime: {error}")))?;
    Ok(RUNTIME.get_or_init(|| runtime))
}

/// Runs `future` on the sync runtime and waits for its output on this thread. Works from any thread, the
/// runtime's own included (it then occupies that worker until the future ends).
pub(crate) fn block_on<F>(future: F) -> Result<F::Output, EventLiteError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().map_err(|_| EventLiteError::internal("a sync task panicked"))
}

/// Builds the device client for `store`: HTTPS with the built-in roots plus `root_certificate_pem` when given.
pub(crate) fn client(store: Store, options: &SyncOptions) -> Result<SyncClient, EventLiteError> {
    let mut client = SyncClient::new(&options.url, &options.token, store);
    if let Some(batch) = options.batch_size {
        client = client.with_batch_size(batch as usize);
    }
    if let Some(pem) = &options.root_certificate_pem {
        client = client.with_root_certificate_pem(pem.as_bytes())?;
    }
    Ok(client)
}

/// One round, cut short (`SYNC_STOPPED`) when `closed` turns true.
pub(crate) fn sync_once(client: SyncClient, mut closed: watch::Receiver<bool>) -> Result<SyncReport, EventLiteError> {
    block_on(async move {
        tokio::select! {
            result = client.sync() => result.map(SyncReport::from).map_err(EventLiteError::from),
            _ = closed.wait_for(|closed| *closed) => Err(EventLiteError::sync_stopped()),
        }
    })?
}

/// Live sync running as a task on the runtime.
pub(crate) struct LiveSync {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl LiveSync {
    /// Starts following the server's live notifications with `client`, reporting to `listener`.
    pub(crate) fn start(
        client: SyncClient,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<LiveSync, EventLiteError> {
        let (stop, stopped) = watch::channel(false);
        let client = match &listener {
            Some(listener) => {
                let (conflicts, errors) = (Arc::clone(listener), Arc::clone(listener));
                client
                    .on_conflict(move |conflict| {
                        let _ = conflicts.on_conflict(conflict.clone().into());
                    })
                    .on_live_error(move |error| {
                        let _ = errors.on_error(error.clone().into());
                    })
            }
            None => client,
        };
        let task = runtime()?.spawn(async move {
            client
                .run_live(stopped, move |report| {
                    if let Some(listener) = &listener {
                        let _ = listener.on_sync(report.clone().into());
                    }
                })
                .await;
        });
        Ok(LiveSync { stop, task })
    }

    /// Stops live sync. Waits until the task has ended, unless called from the runtime itself (from a listener
    /// callback), where waiting for the task would wait for the caller: then it only signals.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(true);
        if tokio::runtime::Handle::try_current().is_err() {
            let _ = block_on(self.task);
        }
    }

    /// Whether the task is still running.
    pub(crate) fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}
