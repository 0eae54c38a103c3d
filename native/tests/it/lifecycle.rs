//! Close and reopen; releasing the last handle closes; bad input changes nothing.

use std::sync::Arc;

use eventlite_native::{
    EventLiteError, EventStore, ExpectedVersion, NewEvent, ReadAllOptions, StoreOptions, SubscriptionOptions,
    Synchronous,
};

use crate::{event, file_store, forwards, wait_until};

struct Count(std::sync::atomic::AtomicU64);

impl eventlite_native::EventHandler for Count {
    fn on_event(&self, _event: eventlite_native::RecordedEvent) -> Result<(), EventLiteError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn close_stops_subscriptions_and_reopening_resumes_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, "life.db");
    store.append_to_stream("todo-1".into(), vec![event("Added", "{}")], ExpectedVersion::NoStream).unwrap();
    let count = Arc::new(Count(0.into()));
    let options = SubscriptionOptions { start: None, filter: None, name: Some("ui".into()), batch_size: 10 };
    let subscription = store.subscribe_to_all(options.clone(), count.clone()).unwrap();
    assert!(wait_until(|| count.0.load(std::sync::atomic::Ordering::SeqCst) == 1));
    store.close();
    store.close();
    assert!(store.is_closed() && !subscription.is_running());
    let closed = store.head_position().unwrap_err();
    assert_eq!(closed.code(), "STORE_CLOSED");
    assert!(matches!(store.sync_status(), Err(EventLiteError::StoreClosed { .. })));

    let reopened = file_store(&dir, "life.db");
    reopened
        .append_to_stream("todo-1".into(), vec![event("Done", "{}")], ExpectedVersion::Exact { version: 1 })
        .unwrap();
    let resumed = Arc::new(Count(0.into()));
    let again = reopened.subscribe_to_all(options, resumed.clone()).unwrap();
    assert!(wait_until(|| resumed.0.load(std::sync::atomic::Ordering::SeqCst) == 1));
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(resumed.0.load(std::sync::atomic::Ordering::SeqCst), 1, "only the event after the checkpoint");
    // Releasing the last handle closes the store: its subscription stops.
    drop(reopened);
    assert!(wait_until(|| !again.is_running()));
}

#[test]
fn options_round_trip_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db").display().to_string();
    let options = StoreOptions { synchronous: Some(Synchronous::Full), busy_timeout_ms: 100, max_event_size: 10 };
    let store = EventStore::open(path.clone(), Some(options.clone())).unwrap();
    assert_eq!(store.options().unwrap(), options);
    let error = store.append_to_stream("s-1".into(), vec![event("T", r#""0123456789""#)], ExpectedVersion::Any);
    assert!(matches!(error, Err(EventLiteError::EventTooLarge { limit: 10, .. })));
    let zero = StoreOptions { max_event_size: 0, ..options };
    assert!(matches!(EventStore::open(path, Some(zero)), Err(EventLiteError::InvalidArgument { .. })));
    assert_eq!(EventStore::open(String::new(), None).unwrap_err().code(), "INVALID_ARGUMENT");
}

#[test]
fn bad_input_leaves_the_data_unchanged() {
    let store = EventStore::open_in_memory().unwrap();
    store.append_to_stream("order-1".into(), vec![event("Placed", "{}")], ExpectedVersion::NoStream).unwrap();
    let before = store.read_all(ReadAllOptions { from_position: None, direction: None, max_count: 100, filter: None });
    let bad_id = NewEvent { event_id: Some("not-a-uuid".into()), ..event("T", "{}") };
    let cases: Vec<(&str, Vec<NewEvent>, &str)> = vec![
        ("", vec![event("T", "{}")], "stream"),
        ("order-1", vec![event("", "{}")], "events[0].type"),
        ("order-1", vec![event("T", "{}"), event("T", "{nope")], "events[1].data"),
        ("order-1", vec![bad_id], "events[0].event_id"),
    ];
    for (stream, events, argument) in cases {
        match store.append_to_stream(stream.into(), events, ExpectedVersion::Any) {
            Err(EventLiteError::InvalidArgument { code, argument: got, .. }) => {
                assert_eq!((code.as_str(), got.as_str()), ("INVALID_ARGUMENT", argument));
            }
            other => panic!("{argument}: {other:?}"),
        }
    }
    assert!(matches!(store.dismiss_conflict("x".into()), Err(EventLiteError::InvalidArgument { .. })));
    let after = store.read_all(ReadAllOptions { from_position: None, direction: None, max_count: 100, filter: None });
    assert_eq!(before.unwrap(), after.unwrap());
    assert_eq!(store.read_stream("order-1".into(), forwards()).unwrap().stream_version, 1);
}

#[test]
fn sync_failures_carry_codes_and_keep_events_pending() {
    let store = EventStore::open_in_memory().unwrap();
    store.append_to_stream("todo-1".into(), vec![event("Added", "{}")], ExpectedVersion::NoStream).unwrap();
    let options = eventlite_native::SyncOptions {
        url: "http://127.0.0.1:9".into(),
        token: "t".into(),
        batch_size: None,
        root_certificate_pem: None,
    };
    match store.sync_once(options.clone()) {
        Err(EventLiteError::Sync { code, retryable: true, .. }) => assert_eq!(code, "NETWORK"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.sync_status().unwrap().pending, 1);
    // A private CA's root is checked before anything is sent: malformed PEM is an argument error.
    let bad_root = eventlite_native::SyncOptions { root_certificate_pem: Some("not a certificate".into()), ..options };
    match store.sync_once(bad_root) {
        Err(EventLiteError::InvalidArgument { argument, .. }) => assert_eq!(argument, "root_certificate_pem"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.sync_status().unwrap().pending, 1);
}
