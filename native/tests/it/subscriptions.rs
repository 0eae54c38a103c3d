//! Subscriptions deliver on their own thread, stop on a handler's error at that event, and can stop themselves.

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use eventlite_native::{
    EventHandler, EventLiteError, EventStore, ExpectedVersion, RecordedEvent, StartFrom, SubscriptionOptions,
};

use crate::{event, file_store, wait_until};

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(u64, ThreadId)>>,
    fail_at: Option<u64>,
}

impl EventHandler for Recorder {
    fn on_event(&self, event: RecordedEvent) -> Result<(), EventLiteError> {
        if Some(event.version) == self.fail_at {
            return Err(EventLiteError::HandlerFailed { code: "HANDLER_FAILED".into(), reason: "no".into() });
        }
        self.seen.lock().unwrap().push((event.position, std::thread::current().id()));
        Ok(())
    }
}

fn options(name: Option<&str>) -> SubscriptionOptions {
    SubscriptionOptions { start: None, filter: None, name: name.map(str::to_owned), batch_size: 500 }
}

#[test]
fn history_then_live_on_a_library_thread() {
    let store = EventStore::open_in_memory().unwrap();
    store.append_to_stream("order-1".into(), vec![event("Placed", "{}")], ExpectedVersion::NoStream).unwrap();
    let recorder = Arc::new(Recorder::default());
    let subscription = store.subscribe_to_all(options(None), recorder.clone()).unwrap();
    assert!(wait_until(|| recorder.seen.lock().unwrap().len() == 1));
    store.append_to_stream("order-1".into(), vec![event("Paid", "{}")], ExpectedVersion::Exact { version: 1 }).unwrap();
    assert!(wait_until(|| recorder.seen.lock().unwrap().len() == 2));
    subscription.stop().unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|(position, _)| *position).collect::<Vec<_>>(), vec![1, 2]);
    assert!(seen.iter().all(|(_, thread)| *thread != std::thread::current().id()));
    assert!(!subscription.is_running());
    assert_eq!(subscription.position(), 2);
}

#[test]
fn a_failing_handler_stops_at_that_event_and_the_checkpoint_stays_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, "fail.db");
    let events = (0..3).map(|_| event("T", "{}")).collect();
    store.append_to_stream("s-1".into(), events, ExpectedVersion::NoStream).unwrap();
    let recorder = Arc::new(Recorder { fail_at: Some(2), ..Recorder::default() });
    let subscription = store.subscribe_to_stream("s-1".into(), options(Some("p")), recorder.clone()).unwrap();
    assert!(wait_until(|| !subscription.is_running()));
    assert!(matches!(subscription.stop(), Err(EventLiteError::HandlerFailed { .. })));
    assert_eq!(recorder.seen.lock().unwrap().len(), 1);
    assert_eq!(store.load_checkpoint("p".into()).unwrap(), Some(1));

    // Resubscribing redelivers the failed event (at-least-once).
    let retry = Arc::new(Recorder::default());
    let again = store.subscribe_to_stream("s-1".into(), options(Some("p")), retry.clone()).unwrap();
    assert!(wait_until(|| retry.seen.lock().unwrap().len() == 2));
    again.stop().unwrap();
    assert_eq!(store.load_checkpoint("p".into()).unwrap(), Some(3));
}

/// A handler that stops its own subscription from inside the callback (no deadlock).
struct StopsItself {
    subscription: Mutex<Option<Arc<eventlite_native::Subscription>>>,
    calls: Mutex<u32>,
}

impl EventHandler for StopsItself {
    fn on_event(&self, _event: RecordedEvent) -> Result<(), EventLiteError> {
        *self.calls.lock().unwrap() += 1;
        if let Some(subscription) = self.subscription.lock().unwrap().as_ref() {
            subscription.stop()?;
        }
        Ok(())
    }
}

#[test]
fn a_handler_may_stop_its_own_subscription() {
    let store = EventStore::open_in_memory().unwrap();
    let handler = Arc::new(StopsItself { subscription: Mutex::new(None), calls: Mutex::new(0) });
    let options = SubscriptionOptions { start: Some(StartFrom::End), ..options(None) };
    let subscription = store.subscribe_to_all(options, handler.clone()).unwrap();
    *handler.subscription.lock().unwrap() = Some(subscription.clone());
    let events = vec![event("T", "{}"), event("T", "{}")];
    store.append_to_stream("s-1".into(), events, ExpectedVersion::Any).unwrap();
    assert!(wait_until(|| !subscription.is_running()));
    subscription.stop().unwrap();
    assert_eq!(*handler.calls.lock().unwrap(), 1, "no event after the stop");
    handler.subscription.lock().unwrap().take();
}

/// What a synced handler was given: an event's position, or a rewind's, and the thread it ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Event(u64),
    Rewound(u64),
}

#[derive(Default)]
struct SyncedRecorder {
    seen: Mutex<Vec<(Item, ThreadId)>>,
}

impl eventlite_native::SyncedHandler for SyncedRecorder {
    fn on_event(&self, event: RecordedEvent) -> Result<(), EventLiteError> {
        self.seen.lock().unwrap().push((Item::Event(event.position), std::thread::current().id()));
        Ok(())
    }

    fn on_rewound(&self, from_position: u64) -> Result<(), EventLiteError> {
        self.seen.lock().unwrap().push((Item::Rewound(from_position), std::thread::current().id()));
        Ok(())
    }
}

#[test]
fn a_synced_subscription_including_pending_events_delivers_them_on_a_library_thread() {
    use eventlite_native::SyncMode;
    let store = EventStore::open_in_memory().unwrap();
    let named =
        store.subscribe_synced(SyncMode::ConfirmedOnly, options(Some("view")), Arc::new(SyncedRecorder::default()));
    assert!(matches!(named, Err(EventLiteError::InvalidArgument { argument, .. }) if argument == "name"));
    let recorder = Arc::new(SyncedRecorder::default());
    let subscription = store.subscribe_synced(SyncMode::IncludePending, options(None), recorder.clone()).unwrap();
    store.append_to_stream("order-1".into(), vec![event("Placed", "{}")], ExpectedVersion::NoStream).unwrap();
    assert!(wait_until(|| recorder.seen.lock().unwrap().len() == 1));
    let (item, thread) = recorder.seen.lock().unwrap()[0];
    assert_eq!(item, Item::Event(1));
    assert_ne!(thread, std::thread::current().id());
    assert_eq!(subscription.position(), 1);
    subscription.stop().unwrap();
    assert!(!subscription.is_running());
}
