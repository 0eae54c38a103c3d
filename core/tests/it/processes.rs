//! Several processes and threads appending to one file with `Exact` expectations; a subscriber noticing another
//! process's commit.

use std::collections::HashSet;
use std::time::Duration;

use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, StartFrom, Store, SubscriptionOptions};

use crate::child;

#[test]
fn concurrent_processes_lose_nothing_and_report_every_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    Store::open(&path).unwrap();
    let per_worker = 60;
    let mut children: Vec<_> =
        (0..4).map(|worker| child::spawn("contender", &path, &format!("{worker} {per_worker}"))).collect();
    // Threads of this process contend too, each through a store of its own.
    let threads: Vec<_> = (0..2)
        .map(|worker| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                let mut acknowledged = Vec::new();
                for n in 0..per_worker {
                    let stream = format!("shared-{}", n % 3);
                    let event = NewEvent::json("Contended", &serde_json::json!({ "thread": worker, "n": n }));
                    loop {
                        let version = store.stream_version(&stream).unwrap();
                        match store.append_to_stream(
                            &stream,
                            std::slice::from_ref(&event),
                            ExpectedVersion::Exact(version),
                        ) {
                            Ok(_) => break,
                            Err(error) => assert_eq!(error.code().as_str(), "WRONG_EXPECTED_VERSION"),
                        }
                    }
                    acknowledged.push(event.event_id.unwrap().to_string());
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut conflicts = 0_u64;
    for child in &mut children {
        let lines = child::lines_with(child, "");
        assert!(child.wait().unwrap().success(), "a contender failed");
        for line in lines {
            if let Some(id) = line.strip_prefix("ok ") {
                acknowledged.push(id.to_owned());
            } else if let Some(count) = line.strip_prefix("conflicts ") {
                conflicts += count.parse::<u64>().unwrap();
            }
        }
    }
    for thread in threads {
        acknowledged.extend(thread.join().unwrap());
    }
    let store = Store::open(&path).unwrap();
    let events = store.read_all(&ReadAllOptions::forwards().max_count(10_000)).unwrap().events;
    let stored: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "no event is stored twice");
    assert_eq!(stored.len(), 6 * per_worker, "nothing lost, nothing extra");
    assert_eq!(acknowledged.iter().collect::<HashSet<_>>(), unique);
    for stream in ["shared-0", "shared-1", "shared-2"] {
        let versions: Vec<u64> = events.iter().filter(|e| e.stream == stream).map(|e| e.version).collect();
        assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    }
    eprintln!(
        "{} appends from 4 processes and 2 threads, {conflicts} conflicts reported by the processes",
        stored.len()
    );
}

#[test]
fn a_subscriber_notices_an_append_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.db");
    let store = Store::open(&path).unwrap();
    let mut subscription = store.subscribe_to_all(SubscriptionOptions::from(StartFrom::End)).unwrap();
    assert!(subscription.wait(Duration::from_millis(20)).unwrap().is_empty());
    let mut writer = child::spawn("single-append", &path, "remote-1");
    assert!(writer.wait().unwrap().success());
    let events = subscription.wait(Duration::from_secs(10)).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].stream.as_str(), events[0].event_type.as_str()), ("remote-1", "FromChild"));
}

/// Desktop apps with several processes open a store that does not exist yet, all at the first launch.
#[test]
fn processes_opening_a_new_file_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..12 {
        let path = dir.path().join(format!("first-{round}.db"));
        let go = dir.path().join(format!("go-{round}"));
        let arg = go.to_str().unwrap();
        let mut children: Vec<_> = (0..8).map(|_| child::spawn("first-open", &path, arg)).collect();
        std::thread::sleep(Duration::from_millis(150));
        std::fs::write(&go, b"").unwrap();
        for child in &mut children {
            let lines = child::lines_with(child, "open ");
            assert!(child.wait().unwrap().success());
            assert_eq!(lines, ["ok"], "round {round}: a concurrent first open failed");
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.stream_version("opened-1").unwrap(), 8, "every process appended once");
    }
}

#[test]
fn threads_opening_a_new_file_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..30 {
        let path = dir.path().join(format!("threads-{round}.db"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open(&path).map(drop).map_err(|error| format!("{} {error}", error.code()))
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), Ok(()), "round {round}");
        }
    }
}
