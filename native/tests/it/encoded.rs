//! The one-buffer fast path (`append_encoded`) gives exactly the generated path's results, errors and data.

use eventlite_native::encoded::{decode_result, encode_append, unpack_result};
use eventlite_native::{
    EventData, EventLiteError, EventStore, ExpectedVersion, NewEvent, ReadAllOptions, StoreOptions, append_encoded,
    take_append_result,
};

use crate::event;

/// Appends through the fast path, decoding the answer as the language packages do.
fn append_fast(
    store: &EventStore,
    stream: &str,
    events: &[NewEvent],
    expected: ExpectedVersion,
) -> Result<eventlite_native::AppendResult, EventLiteError> {
    let packed = append_encoded(store.append_handle(), &encode_append(stream, events, expected))?;
    Ok(match unpack_result(packed, events.len()) {
        Some(result) => result,
        None => decode_result(&take_append_result()).expect("a full result"),
    })
}

fn binary(id: Option<&str>) -> NewEvent {
    NewEvent {
        event_type: "Scanned".into(),
        data: EventData::Binary { content_type: "image/png".into(), bytes: vec![0, 1, 254, 255] },
        metadata: Some(r#"{"correlationId":"c-1"}"#.into()),
        event_id: id.map(str::to_owned),
    }
}

/// Everything but the store-made parts (recorded_at; ids the store generated).
fn log(store: &EventStore) -> Vec<(u64, String, u64, String, EventData, Option<String>)> {
    let options = ReadAllOptions { from_position: None, direction: None, max_count: 10_000, filter: None };
    let events = store.read_all(options).unwrap().events;
    events.into_iter().map(|e| (e.position, e.stream, e.version, e.event_type, e.data, e.metadata)).collect()
}

type Step = (&'static str, Vec<NewEvent>, ExpectedVersion);

fn steps() -> Vec<Step> {
    let fixed = event("Placed", r#"{"total":42}"#);
    let batch: Vec<NewEvent> = (0..100).map(|n| event("Line", &format!(r#"{{"n":{n}}}"#))).collect();
    vec![
        ("order-1", vec![fixed.clone()], ExpectedVersion::NoStream),
        ("order-1", vec![fixed.clone()], ExpectedVersion::NoStream), // an idempotent retry
        ("order-1", vec![event("Paid", "{}")], ExpectedVersion::StreamExists),
        ("order-1", vec![binary(None), binary(Some("0190b1a2-7c4e-7d1a-9f3e-1c2d3e4f5a6b"))], ExpectedVersion::Any),
        ("order-1", vec![event("Shipped", "{}")], ExpectedVersion::Exact { version: 4 }),
        ("order-1", vec![event("Late", "{}")], ExpectedVersion::Exact { version: 1 }), // WRONG_EXPECTED_VERSION
        ("order-1", vec![fixed.clone()], ExpectedVersion::Any),                        // a retry: already appended
        ("cart-1", batch.clone(), ExpectedVersion::NoStream),
        ("cart-1", batch, ExpectedVersion::Exact { version: 0 }), // a retried batch
        ("cart-2", vec![], ExpectedVersion::Any),
        ("", vec![event("T", "{}")], ExpectedVersion::Any),
        ("$system", vec![event("T", "{}")], ExpectedVersion::Any),
        ("a\nb", vec![event("T", "{}")], ExpectedVersion::Any),
        ("order-1", vec![event("", "{}")], ExpectedVersion::Any),
        ("order-1", vec![event("T", "{}"), event("T", "{not json")], ExpectedVersion::Any),
        ("order-1", vec![NewEvent { metadata: Some("[1]".into()), ..event("T", "{}") }], ExpectedVersion::Any),
        ("order-1", vec![NewEvent { event_id: Some("not-a-uuid".into()), ..event("T", "{}") }], ExpectedVersion::Any),
        ("order-1", vec![fixed.clone(), fixed], ExpectedVersion::Any), // the same id twice in a batch
        ("order-1", vec![event("T", &format!("\"{}\"", "x".repeat(300)))], ExpectedVersion::Any), // EVENT_TOO_LARGE
        ("order-1", vec![NewEvent { event_id: Some(String::new()), ..binary(None) }], ExpectedVersion::Any),
    ]
}

#[test]
fn the_fast_path_gives_the_generated_paths_results_errors_and_log() {
    let options = || Some(StoreOptions { max_event_size: 256, ..StoreOptions::default() });
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| EventStore::open(dir.path().join(name).display().to_string(), options()).unwrap();
    let (generated, fast) = (open("generated.db"), open("fast.db"));
    let mut codes = Vec::new();
    for (stream, events, expected) in steps() {
        let reference = generated.append_to_stream(stream.into(), events.clone(), expected);
        let answer = append_fast(&fast, stream, &events, expected);
        assert_eq!(answer, reference, "{stream:?} {events:?} {expected:?}");
        codes.push(reference.err().map(|error| error.code().to_owned()));
        assert_eq!(log(&fast), log(&generated));
    }
    // The sequence covers successes, retries and each kind of refusal.
    let refused = codes.iter().flatten().collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        refused.into_iter().cloned().collect::<Vec<_>>(),
        ["EVENT_TOO_LARGE", "INVALID_ARGUMENT", "WRONG_EXPECTED_VERSION"]
    );
    assert_eq!(codes.iter().filter(|code| code.is_none()).count(), 9);
}

#[test]
fn a_malformed_buffer_or_a_closed_store_is_refused_and_nothing_is_written() {
    let store = EventStore::open_in_memory().unwrap();
    let mut payload = encode_append("order-1", &[event("Placed", "{}")], ExpectedVersion::Any);
    payload.push(0);
    for bad in [&payload[..], &payload[..payload.len() - 2], &[], &[9]] {
        let error = append_encoded(store.append_handle(), bad).unwrap_err();
        assert!(
            matches!(&error, EventLiteError::InvalidArgument { argument, .. } if argument == "payload"),
            "{error:?}"
        );
    }
    assert_eq!(store.head_position().unwrap(), 0);
    store.close();
    let payload = encode_append("order-1", &[event("Placed", "{}")], ExpectedVersion::Any);
    assert_eq!(append_encoded(store.append_handle(), &payload).unwrap_err().code(), "STORE_CLOSED");
}

#[test]
fn an_append_handle_names_one_store_and_goes_stale_when_it_is_released() {
    let (first, second) = (EventStore::open_in_memory().unwrap(), EventStore::open_in_memory().unwrap());
    assert_ne!(first.append_handle(), second.append_handle());
    let payload = encode_append("order-1", &[event("Placed", "{}")], ExpectedVersion::NoStream);
    append_encoded(second.append_handle(), &payload).unwrap();
    assert_eq!((first.head_position().unwrap(), second.head_position().unwrap()), (0, 1));
    let released = first.append_handle();
    drop(first);
    assert_eq!(append_encoded(released, &payload).unwrap_err().code(), "STORE_CLOSED");
    assert_eq!(append_encoded(0, &payload).unwrap_err().code(), "STORE_CLOSED");
}

#[test]
fn a_packed_answer_leaves_no_full_result_behind() {
    let store = EventStore::open_in_memory().unwrap();
    let payload = encode_append("order-1", &[event("Placed", "{}"), event("Paid", "{}")], ExpectedVersion::NoStream);
    let packed = append_encoded(store.append_handle(), &payload).unwrap();
    let result = unpack_result(packed, 2).unwrap();
    assert_eq!((result.stream_version, result.positions, result.already_appended), (2, vec![1, 2], false));
    assert!(take_append_result().is_empty());
}
