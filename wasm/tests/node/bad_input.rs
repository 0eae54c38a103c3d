//! Bad input from JS: wrong types, missing fields, malformed JSON, out-of-range numbers. Each is a typed
//! `INVALID_ARGUMENT` naming the argument, and the stored data is unchanged.

use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test as test;

use crate::support::*;

fn seeded() -> eventlite_wasm::WasmStore {
    let store = memory();
    append(&store, "a-1", batch("A", 2), "any".into()).unwrap();
    store
}

fn assert_unchanged(store: &eventlite_wasm::WasmStore) {
    assert_eq!(store.head_position().unwrap(), 2.0);
    assert_eq!(versions(store, "a-1"), vec![1.0, 2.0]);
}

#[test]
fn bad_appends_are_invalid_arguments_and_write_nothing() {
    let store = seeded();
    let good = batch("A", 1);
    let cases: Vec<(JsValue, JsValue, JsValue, &str)> = vec![
        (JsValue::from(5), good.clone(), "any".into(), "stream"),
        (JsValue::UNDEFINED, good.clone(), "any".into(), "stream"),
        ("".into(), good.clone(), "any".into(), "stream"),
        ("$all".into(), good.clone(), "any".into(), "stream"),
        ("a\u{7}".into(), good.clone(), "any".into(), "stream"),
        ("a-1".into(), js("[]"), "any".into(), "events"),
        ("a-1".into(), "{not json".into(), "any".into(), "events"),
        ("a-1".into(), r#"{"type":"A","data":1}"#.into(), "any".into(), "events"),
        ("a-1".into(), r#"[{"type":5,"data":1}]"#.into(), "any".into(), "events"),
        ("a-1".into(), r#"[{"data":1}]"#.into(), "any".into(), "events"),
        ("a-1".into(), r#"[{"type":"A","data":1,"extra":true}]"#.into(), "any".into(), "events"),
        ("a-1".into(), r#"[{"type":"A"}]"#.into(), "any".into(), "events[0].data"),
        ("a-1".into(), r#"[{"type":"","data":1}]"#.into(), "any".into(), "events[0].type"),
        ("a-1".into(), r#"[{"type":"A","data":1,"eventId":"nope"}]"#.into(), "any".into(), "events[0].eventId"),
        ("a-1".into(), r#"[{"type":"A","data":1,"metadata":[1]}]"#.into(), "any".into(), "events[0].metadata"),
        (
            "a-1".into(),
            r#"[{"type":"A","contentType":"x/y","dataBase64":"!!"}]"#.into(),
            "any".into(),
            "events[0].data",
        ),
        ("a-1".into(), r#"[{"type":"A","contentType":"x/y","data":1}]"#.into(), "any".into(), "events[0].data"),
        ("a-1".into(), good.clone(), "sometimes".into(), "expectedVersion"),
        ("a-1".into(), good.clone(), JsValue::from(-1), "expectedVersion"),
        ("a-1".into(), good.clone(), JsValue::from(1.5), "expectedVersion"),
        ("a-1".into(), good.clone(), JsValue::from(f64::NAN), "expectedVersion"),
        ("a-1".into(), good.clone(), JsValue::from(9_007_199_254_740_992_f64), "expectedVersion"),
        ("a-1".into(), good.clone(), js_sys::BigInt::from(u64::MAX).into(), "expectedVersion"),
        ("a-1".into(), good.clone(), JsValue::TRUE, "expectedVersion"),
    ];
    for (stream, events, expected, argument) in cases {
        let error = store.append_to_stream(stream.clone(), events.clone(), expected.clone()).unwrap_err();
        assert_eq!(code(&error), "INVALID_ARGUMENT", "{stream:?} {events:?} {expected:?}");
        assert_eq!(text(&error, "argument"), argument, "{stream:?} {events:?} {expected:?}");
        assert_unchanged(&store);
    }
}

#[test]
fn bad_read_and_subscription_options_are_invalid_arguments() {
    let mut store = seeded();
    let stream_cases = [
        (r#""forwards""#, "options"),
        (r#"[1]"#, "options"),
        (r#"{"direction":"sideways"}"#, "options.direction"),
        (r#"{"maxCount":0}"#, "options.maxCount"),
        (r#"{"maxCount":"10"}"#, "options.maxCount"),
        (r#"{"fromVersion":-3}"#, "options.fromVersion"),
    ];
    for (options, argument) in stream_cases {
        let error = store.read_stream("a-1".into(), js(options)).unwrap_err();
        assert_eq!((code(&error), text(&error, "argument")), ("INVALID_ARGUMENT".into(), argument.into()), "{options}");
    }
    let all_cases = [
        (r#"{"fromPosition":1e300}"#, "options.fromPosition"),
        (r#"{"filter":5}"#, "options.filter"),
        (r#"{"filter":{"categories":"order"}}"#, "options.filter.categories"),
        (r#"{"filter":{"eventTypes":[1]}}"#, "options.filter.eventTypes[0]"),
        (r#"{"filter":{"eventTypes":[""]}}"#, "filter.event_types"),
        (r#"{"filter":{"category":["a"]}}"#, "options.filter.category"),
        (r#"{"filter":["a"]}"#, "options.filter"),
        (r#"{"from":1}"#, "options.from"),
        (r#"{"maxCount":1.5}"#, "options.maxCount"),
    ];
    for (options, argument) in all_cases {
        let error = store.read_all(js(options)).unwrap_err();
        assert_eq!((code(&error), text(&error, "argument")), ("INVALID_ARGUMENT".into(), argument.into()), "{options}");
    }
    let subscription_cases = [
        (r#"{"from":"middle"}"#, "options.from"),
        (r#"{"from":-1}"#, "options.from"),
        (r#"{"batchSize":0}"#, "options.batchSize"),
        (r#"{"name":""}"#, "subscription name"),
        (r#"{"name":7}"#, "options.name"),
    ];
    for (options, argument) in subscription_cases {
        let error = store.subscribe_to_all(js(options)).unwrap_err();
        assert_eq!((code(&error), text(&error, "argument")), ("INVALID_ARGUMENT".into(), argument.into()), "{options}");
    }
    let error = store.subscribe_to_stream("a-1".into(), js(r#"{"filter":{"categories":["a"]}}"#)).unwrap_err();
    assert_eq!(code(&error), "INVALID_ARGUMENT");
    assert_eq!(code(&store.read_stream(JsValue::NULL, JsValue::UNDEFINED).unwrap_err()), "INVALID_ARGUMENT");
    assert_unchanged(&store);
}

#[test]
fn bad_snapshots_checkpoints_and_options_are_invalid_arguments() {
    let store = seeded();
    let snapshot = |version: JsValue, state: &str, tag: JsValue| {
        let error = store.save_snapshot("a-1".into(), version, state.into(), tag).unwrap_err();
        (code(&error), text(&error, "argument"))
    };
    assert_eq!(snapshot(JsValue::from(1), "{oops", "v1".into()).1, "state");
    assert_eq!(snapshot(JsValue::from(-1), "1", "v1".into()).1, "version");
    assert_eq!(snapshot(JsValue::from(0), "1", "v1".into()).1, "version");
    assert_eq!(snapshot(JsValue::from(1), "1", JsValue::UNDEFINED).1, "schemaTag");
    assert_eq!(snapshot(JsValue::from(1), "1", "".into()).1, "schema_tag");
    assert!(store.load_snapshot("a-1".into(), JsValue::NULL).unwrap().is_none());
    let error = store.save_checkpoint("p".into(), JsValue::from(-5)).unwrap_err();
    assert_eq!(text(&error, "argument"), "position");
    let error = store.save_checkpoint(JsValue::from(3), JsValue::from(5)).unwrap_err();
    assert_eq!(text(&error, "argument"), "name");
    for (options, argument) in [
        (r#"{"synchronous":"sometimes"}"#, "options.synchronous"),
        (r#"{"maxEventSize":0}"#, "options.maxEventSize"),
        (r#"{"busyTimeoutMs":-1}"#, "options.busyTimeoutMs"),
        ("3", "options"),
        (r#"{"cache":true}"#, "options.cache"),
    ] {
        let error = eventlite_wasm::WasmStore::open_memory(js(options)).map(|_| ()).unwrap_err();
        assert_eq!((code(&error), text(&error, "argument")), ("INVALID_ARGUMENT".into(), argument.into()), "{options}");
    }
    assert_unchanged(&store);
}
