//! A slow subscriber blocks no writer and holds no more than one page of events; subscriptions across connections
//! and across a sync rebase.

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

#[test]
fn a_commit_by_another_connection_right_after_a_poll_wakes_the_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wake.db");
    let subscriber = Store::open(&path).unwrap();
    // A second store on the same file is, for the first one, as good as another process: no shared commit signal.
    let other = Store::open(&path).unwrap();
    let mut subscription = subscriber.subscribe_to_all(SubscriptionOptions::from(eventlite::StartFrom::End)).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        other.append_to_stream("a-1", &[NewEvent::json("E", &1)], ExpectedVersion::Any).unwrap();
    });
    // The commit lands inside the first polling interval; it must be noticed, not slept through until the deadline.
    let events = subscription.wait(Duration::from_secs(20)).unwrap();
    writer.join().unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn a_stream_subscription_delivers_events_pulled_in_before_its_cursor_by_a_rebase() {
    use eventlite::sync::server::{self, Limits};
    let hub = Store::open_in_memory().unwrap();
    let first = Store::open_in_memory().unwrap();
    let second = Store::open_in_memory().unwrap();
    second
        .append_to_stream("s-1", &[NewEvent::json("B1", &1), NewEvent::json("B2", &2)], ExpectedVersion::Any)
        .unwrap();
    let mut subscription = second.subscribe_to_stream("s-1", SubscriptionOptions::default()).unwrap();
    assert_eq!(subscription.poll().unwrap().len(), 2);
    // The first replica's event reaches the server first; the second pulls it and rebases B1, B2 after it.
    first.append_to_stream("s-1", &[NewEvent::json("A1", &0)], ExpectedVersion::Any).unwrap();
    let push = first.next_push(100).unwrap().unwrap();
    server::apply_push(&hub, &push, &Limits::default()).unwrap();
    let page = server::read_pull(&hub, 0, 100).unwrap();
    second.apply_pull(&page.into_response(|position| position.to_string())).unwrap();
    let delivered: Vec<(String, u64)> =
        subscription.poll().unwrap().iter().map(|e| (e.event_type.clone(), e.version)).collect();
    assert_eq!(delivered, vec![("A1".to_owned(), 1), ("B1".to_owned(), 2), ("B2".to_owned(), 3)]);
}
