//! A slow subscriber blocks no writer and holds no more than one page of events.

use std::sync::mpsc;
use std::time::Duration;

use eventlite::{ExpectedVersion, NewEvent, Store, SubscriptionOptions};

#[test]
fn a_blocked_subscriber_does_not_block_writers_or_buffer_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("slow.db")).unwrap();
    let (release, released) = mpsc::channel::<()>();
    let (sender, received) = mpsc::channel::<u64>();
    let handle = store.subscribe_to_all(SubscriptionOptions::default().batch_size(50)).unwrap().spawn(move |event| {
        if event.position == 1 {
            // Stuck in the callback until every write below has committed.
            released.recv().unwrap();
        }
        sender.send(event.position).unwrap();
    });
    store.append_to_stream("a-1", &[NewEvent::json("E", &0)], ExpectedVersion::Any).unwrap();
    // If the subscriber could hold up writers, these appends would never finish and the test would hang.
    for batch in 0..100 {
        let events: Vec<NewEvent> = (0..100).map(|n| NewEvent::json("E", &(batch * 100 + n))).collect();
        store.append_to_stream("a-1", &events, ExpectedVersion::Any).unwrap();
    }
    assert_eq!(store.head_position().unwrap(), 10_001);
    release.send(()).unwrap();
    let delivered: Vec<u64> = (0..10_001).map(|_| received.recv_timeout(Duration::from_secs(30)).unwrap()).collect();
    assert_eq!(delivered, (1..=10_001).collect::<Vec<_>>(), "every event once, in order, after the stall");
    handle.stop().unwrap();
}

#[test]
fn a_poll_never_returns_more_than_one_batch() {
    let store = Store::open_in_memory().unwrap();
    let events: Vec<NewEvent> = (0..1_000).map(|n| NewEvent::json("E", &n)).collect();
    store.append_to_stream("a-1", &events, ExpectedVersion::Any).unwrap();
    let mut subscription = store.subscribe_to_all(SubscriptionOptions::default().batch_size(64)).unwrap();
    let mut total = 0;
    loop {
        let batch = subscription.poll().unwrap();
        assert!(batch.len() <= 64, "a poll holds at most one batch in memory");
        if batch.is_empty() {
            break;
        }
        total += batch.len();
    }
    assert_eq!(total, 1_000);
}
