//! Subscriptions delivered to a foreign callback on a library thread.
//!
//! Each subscription runs core's catch-up-then-live cursor ([`eventlite::Subscription::wait`]) on a thread of its
//! own, so the caller's thread (a UI thread, say) never runs a handler. The loop is the binding's rather than core's
//! `spawn` because a foreign handler can throw: the subscription then stops at that event, the named checkpoint
//! stays at the last event the handler accepted (at-least-once: the failed event comes again on resubscribing), and
//! `stop()` reports the failure. Synced subscriptions ([`SyncedHandler`]) run the same way over core's
//! [`eventlite::sync::SyncedSubscription`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use eventlite::Store;
use eventlite::sync::SyncedItem;

use crate::error::EventLiteError;
use crate::types::RecordedEvent;

/// How long one wait for new events lasts before the thread checks whether it was stopped: the longest `stop()`
/// waits for an idle subscription.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Receives a synced subscription's items ([`crate::EventStore::subscribe_synced`]), in order, on the subscription's
/// own thread. Throwing stops the subscription at that item, as for [`EventHandler`].
#[uniffi::export(foreign)]
pub trait SyncedHandler: Send + Sync {
    /// The next event: a confirmed one (`ConfirmedOnly`), or a confirmed or pending one (`IncludePending`).
    fn on_event(&self, event: RecordedEvent) -> Result<(), EventLiteError>;
    /// A sync rewrote the local log after `from_position`: discard what was derived from the events delivered after
    /// it; the log's current events after it follow (with new positions). `IncludePending`: after a rebase or a
    /// rejection; both modes: `from_position` 0 after a server log reset.
    fn on_rewound(&self, from_position: u64) -> Result<(), EventLiteError>;
}

/// Receives a subscription's events, in order, on the subscription's own thread (never the subscriber's).
///
/// Throwing stops the subscription at that event (see [`Subscription::stop`]). Handlers must not block for long:
/// the subscription reads its next events only after the handler returns (writers are never blocked).
#[uniffi::export(foreign)]
pub trait EventHandler: Send + Sync {
    /// Called once per event (at least once across restarts for a named subscription).
    fn on_event(&self, event: RecordedEvent) -> Result<(), EventLiteError>;
}

/// A running subscription. It runs until [`Subscription::stop`] or the store's `close()`; dropping the handle does
/// not stop it (garbage collection timing must not decide when events stop arriving).
#[derive(uniffi::Object)]
pub struct Subscription {
    stopped: Arc<AtomicBool>,
    position: Arc<AtomicU64>,
    name: Option<String>,
    thread_id: ThreadId,
    thread: Mutex<Option<JoinHandle<Result<(), EventLiteError>>>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Subscription {
    /// Starts delivering `subscription`'s events to `handler` on a new thread.
    pub(crate) fn spawn(
        store: Store,
        subscription: eventlite::Subscription,
        handler: Arc<dyn EventHandler>,
    ) -> Result<Arc<Subscription>, EventLiteError> {
        let name = subscription.name().map(str::to_owned);
        Subscription::start(name, subscription.position(), move |stopped, position| {
            deliver(&store, subscription, handler.as_ref(), stopped, position)
        })
    }

    /// Starts delivering a synced subscription's items to `handler` on a new thread.
    pub(crate) fn spawn_synced(
        subscription: eventlite::sync::SyncedSubscription,
        handler: Arc<dyn SyncedHandler>,
    ) -> Result<Arc<Subscription>, EventLiteError> {
        Subscription::start(None, subscription.position(), move |stopped, position| {
            deliver_synced(subscription, handler.as_ref(), stopped, position)
        })
    }

    /// Runs `body` on a thread of its own with the stop flag and the position it publishes.
    pub(crate) fn start(
        name: Option<String>,
        start: u64,
        body: impl FnOnce(&AtomicBool, &AtomicU64) -> Result<(), EventLiteError> + Send + 'static,
    ) -> Result<Arc<Subscription>, EventLiteError> {
        let stopped = Arc::new(AtomicBool::new(false));
        let position = Arc::new(AtomicU64::new(start));
        let (thread_stopped, thread_position) = (Arc::clone(&stopped), Arc::clone(&position));
        let thread = std::thread::Builder::new()
            .name("eventlite-subscription".into())
            .spawn(move || body(&thread_stopped, &thread_position))
            .map_err(|error| EventLiteError::internal(format!("could not start a subscription thread: {error}")))?;
        let thread_id = thread.thread().id();
        Ok(Arc::new(Subscription { stopped, position, name, thread_id, thread: Mutex::new(Some(thread)) }))
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops the subscription and waits until its handler is no longer running (at most one wait interval, 100
    /// ms, plus the handler's current call). Throws the error that had ended it early, if any: a storage error, or
    /// the handler's own exception (`HANDLER_FAILED`, or the `EventLiteError` it threw). Calling it again, or from
    /// inside the handler (which then does not wait), is fine.
    pub fn stop(&self) -> Result<(), EventLiteError> {
        self.stopped.store(true, Ordering::Release);
        if std::thread::current().id() == self.thread_id {
            return Ok(());
        }
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        match thread.map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(error))) => Err(error),
            Some(Err(_)) => Err(EventLiteError::internal("the subscription thread panicked")),
        }
    }

    /// Whether events are still being delivered (false once stopped, or ended by an error).
    pub fn is_running(&self) -> bool {
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        !self.stopped.load(Ordering::Acquire) && thread.as_ref().is_some_and(|thread| !thread.is_finished())
    }

    /// The global position of the last event the handler accepted (or the start cursor; for a synced subscription,
    /// the position of its last rewind notice when that came later).
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// The subscription's name, if it is named (its checkpoint is stored under it).
    pub fn name(&self) -> Option<String> {
        self.name.clone()
    }
}

/// The subscription thread: waits for events, hands them to the handler one by one, and stores a named
/// subscription's checkpoint after each batch (or after the last accepted event when stopped or failed mid-batch).
fn deliver(
    store: &Store,
    mut subscription: eventlite::Subscription,
    handler: &dyn EventHandler,
    stopped: &AtomicBool,
    position: &AtomicU64,
) -> Result<(), EventLiteError> {
    let name = subscription.name().map(str::to_owned);
    let mut checkpointed = subscription.position();
    let save = |delivered: u64, checkpointed: &mut u64| -> Result<(), EventLiteError> {
        if let Some(name) = &name
            && delivered != *checkpointed
        {
            store.save_checkpoint(name, delivered)?;
            *checkpointed = delivered;
        }
        Ok(())
    };
    while !stopped.load(Ordering::Acquire) {
        let events = subscription.wait(STOP_CHECK)?;
        for event in events {
            if stopped.load(Ordering::Acquire) {
                break;
            }
            let at = event.position;
            if let Err(error) = handler.on_event(event.into()) {
                save(position.load(Ordering::Acquire), &mut checkpointed)?;
                return Err(error);
            }
            position.store(at, Ordering::Release);
        }
        save(position.load(Ordering::Acquire), &mut checkpointed)?;
    }
    Ok(())
}

/// The synced subscription thread: waits for items and hands them to the handler one by one (no checkpoint: synced
/// subscriptions are not named).
fn deliver_synced(
    mut subscription: eventlite::sync::SyncedSubscription,
    handler: &dyn SyncedHandler,
    stopped: &AtomicBool,
    position: &AtomicU64,
) -> Result<(), EventLiteError> {
    while !stopped.load(Ordering::Acquire) {
        for item in subscription.wait(STOP_CHECK)? {
            if stopped.load(Ordering::Acquire) {
                break;
            }
            let at = match item {
                SyncedItem::Event(event) => {
                    let at = event.position;
                    handler.on_event(event.into())?;
                    at
                }
                SyncedItem::Rewound { from_position } => {
                    handler.on_rewound(from_position)?;
                    from_position
                }
            };
            position.store(at, Ordering::Release);
        }
    }
    Ok(())
}
