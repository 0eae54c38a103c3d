//! Appends: every expectation mode, idempotent retries, conflicts, and the JS shape of each append error.

use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test as test;

use crate::support::*;

#[test]
fn append_returns_version_and_positions_after_commit() {
    let store = memory();
    let result = append(&store, "order-1", batch("Placed", 2), "no_stream".into()).unwrap();
    assert_eq!(num(&result, "streamVersion"), 2.0);
    let positions: js_sys::Array = prop(&result, "positions").into();
    assert_eq!(positions.iter().map(|p| p.as_f64().unwrap()).collect::<Vec<_>>(), vec![1.0, 2.0]);
    assert_eq!(prop(&result, "alreadyAppended"), JsValue::FALSE);
    assert_eq!(store.head_position().unwrap(), 2.0);
    assert_eq!(store.stream_version("order-1".into()).unwrap(), 2.0);
}

#[test]
fn every_expectation_mode() {
    let store = memory();
    append(&store, "a-1", batch("A", 1), JsValue::UNDEFINED).unwrap(); // undefined means any
    append(&store, "a-1", batch("A", 1), "any".into()).unwrap();
    append(&store, "a-1", batch("A", 1), "stream_exists".into()).unwrap();
    append(&store, "a-1", batch("A", 1), JsValue::from(3)).unwrap();
    append(&store, "a-1", batch("A", 1), js_sys::BigInt::from(4u64).into()).unwrap();
    append(&store, "b-1", batch("B", 1), JsValue::from(0)).unwrap();
    assert_eq!(versions(&store, "a-1"), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(versions(&store, "b-1"), vec![1.0]);
}

#[test]
fn wrong_expected_version_carries_stream_expected_and_actual() {
    let store = memory();
    append(&store, "a-1", batch("A", 2), "no_stream".into()).unwrap();
    let cases: [(JsValue, JsValue); 3] = [
        ("no_stream".into(), "no_stream".into()),
        (JsValue::from(1), JsValue::from(1)),
        (js_sys::BigInt::from(7u64).into(), JsValue::from(7)),
    ];
    for (expected, shown) in cases {
        let error = append(&store, "a-1", batch("A", 1), expected).unwrap_err();
        assert_eq!(code(&error), "WRONG_EXPECTED_VERSION");
        assert_eq!(text(&error, "stream"), "a-1");
        assert_eq!(prop(&error, "expected"), shown);
        assert_eq!(num(&error, "actual"), 2.0);
    }
    let error = append(&store, "new-1", batch("A", 1), "stream_exists".into()).unwrap_err();
    assert_eq!(code(&error), "WRONG_EXPECTED_VERSION");
    assert_eq!(text(&error, "expected"), "stream_exists");
    assert_eq!(num(&error, "actual"), 0.0);
    assert_eq!(store.head_position().unwrap(), 2.0, "nothing was written");
}

#[test]
fn retrying_a_batch_with_ids_returns_the_original_result() {
    let store = memory();
    let events = JsValue::from(
        r#"[{"eventId":"0190b6a8-0000-7000-8000-000000000001","type":"A","data":1},
            {"eventId":"0190b6a8-0000-7000-8000-000000000002","type":"B","data":2}]"#,
    );
    let first = append(&store, "a-1", events.clone(), "no_stream".into()).unwrap();
    let retry = append(&store, "a-1", events, "no_stream".into()).unwrap();
    assert_eq!(prop(&retry, "alreadyAppended"), JsValue::TRUE);
    assert_eq!(num(&retry, "streamVersion"), num(&first, "streamVersion"));
    assert_eq!(store.head_position().unwrap(), 2.0);
    let stored = events_of(&store, "a-1");
    assert_eq!(text(&stored[0], "eventId"), "0190b6a8-0000-7000-8000-000000000001");
}

#[test]
fn reusing_an_id_for_another_event_is_an_idempotency_conflict() {
    let store = memory();
    let id = "0190b6a8-0000-7000-8000-0000000000aa";
    append(&store, "a-1", format!(r#"[{{"eventId":"{id}","type":"A","data":1}}]"#).into(), "any".into()).unwrap();
    let error =
        append(&store, "a-1", format!(r#"[{{"eventId":"{id}","type":"Other","data":1}}]"#).into(), "any".into())
            .unwrap_err();
    assert_eq!(code(&error), "IDEMPOTENCY_CONFLICT");
    assert_eq!(text(&error, "eventId"), id);
    assert!(!text(&error, "reason").is_empty());
    assert_eq!(store.head_position().unwrap(), 1.0);
}

#[test]
fn events_without_ids_get_distinct_v7_ids() {
    let store = memory();
    append(&store, "a-1", batch("A", 2), "any".into()).unwrap();
    let stored = events_of(&store, "a-1");
    let (first, second) = (text(&stored[0], "eventId"), text(&stored[1], "eventId"));
    assert_ne!(first, second);
    assert_eq!(&first[14..15], "7", "{first} is a UUID v7");
    assert!(num(&stored[0], "recordedAt") > 1.6e12);
}

#[test]
fn oversized_events_are_refused_with_their_size() {
    let store = eventlite_wasm::WasmStore::open_memory(js(r#"{"maxEventSize": 64}"#)).unwrap();
    let big = format!(r#"[{{"type":"A","data":1}},{{"type":"A","data":"{}"}}]"#, "x".repeat(100));
    let error = append(&store, "a-1", big.into(), "any".into()).unwrap_err();
    assert_eq!(code(&error), "EVENT_TOO_LARGE");
    assert_eq!(num(&error, "index"), 1.0);
    assert_eq!(num(&error, "limit"), 64.0);
    assert!(num(&error, "size") > 100.0);
    assert_eq!(store.head_position().unwrap(), 0.0);
}

#[test]
fn data_metadata_and_bytes_round_trip() {
    let store = memory();
    let events = r#"[{"type":"Placed","data":{"total":42,"items":["a"]},"metadata":{"correlationId":"c-1"}},
                     {"type":"Photo","contentType":"image/png","dataBase64":"AAH/"},
                     {"type":"Empty","data":null}]"#;
    append(&store, "order-1", events.into(), "any".into()).unwrap();
    let stored = events_of(&store, "order-1");
    assert_eq!(text(&stored[0], "type"), "Placed");
    assert_eq!(text(&stored[0], "stream"), "order-1");
    assert_eq!(num(&prop(&stored[0], "data"), "total"), 42.0);
    assert_eq!(text(&prop(&stored[0], "metadata"), "correlationId"), "c-1");
    assert_eq!(text(&stored[0], "contentType"), "application/json");
    assert_eq!(text(&stored[1], "contentType"), "image/png");
    assert_eq!(text(&stored[1], "dataBase64"), "AAH/");
    assert!(prop(&stored[1], "data").is_undefined());
    assert!(prop(&stored[1], "metadata").is_null());
    assert!(prop(&stored[2], "data").is_null());
}

#[test]
fn a_closed_store_refuses_calls() {
    let mut store = memory();
    store.close().unwrap();
    store.close().unwrap();
    let error = append(&store, "a-1", batch("A", 1), "any".into()).unwrap_err();
    assert_eq!(code(&error), "STORE_CLOSED");
    assert_eq!(code(&store.read_all(JsValue::UNDEFINED).unwrap_err()), "STORE_CLOSED");
}

pub fn events_of(store: &eventlite_wasm::WasmStore, stream: &str) -> Vec<JsValue> {
    events(&store.read_stream(stream.into(), JsValue::UNDEFINED).unwrap())
}
