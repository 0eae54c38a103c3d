//! One handle, several threads: appends with `Exact` expectations racing on one stream, reads alongside.

use std::sync::Arc;

use eventlite_native::{EventLiteError, ExpectedVersion, ReadAllOptions};

use crate::{event, file_store, forwards};

#[test]
fn threads_share_one_handle_without_losing_or_duplicating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, "threads.db");
    let (writers, appends) = (4, 100);
    let conflicts: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|writer| {
                let store = Arc::clone(&store);
                scope.spawn(move || {
                    let mut conflicts = 0;
                    for n in 0..appends {
                        loop {
                            let version = store.stream_version("counter-1".into()).unwrap();
                            let expected = ExpectedVersion::Exact { version };
                            match store.append_to_stream("counter-1".into(), vec![event("Inc", "{}")], expected) {
                                Ok(_) => break,
                                Err(EventLiteError::WrongExpectedVersion { actual, .. }) => {
                                    assert!(actual > version);
                                    conflicts += 1;
                                }
                                Err(other) => panic!("{other:?}"),
                            }
                        }
                        let json = format!(r#"{{"n":{n}}}"#);
                        store
                            .append_to_stream(
                                format!("writer-{writer}"),
                                vec![event("Wrote", &json)],
                                ExpectedVersion::Any,
                            )
                            .unwrap();
                        store
                            .read_all(ReadAllOptions {
                                from_position: None,
                                direction: None,
                                max_count: 10,
                                filter: None,
                            })
                            .unwrap();
                    }
                    conflicts
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).sum()
    });
    let counter = store.read_stream("counter-1".into(), forwards()).unwrap();
    let versions: Vec<u64> = counter.events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=(writers * appends) as u64).collect::<Vec<_>>());
    for writer in 0..writers {
        assert_eq!(store.stream_version(format!("writer-{writer}")).unwrap(), appends as u64);
    }
    assert_eq!(store.head_position().unwrap(), (2 * writers * appends) as u64);
    eprintln!("{conflicts} version conflicts were reported and retried");
}
