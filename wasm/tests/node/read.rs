//! Reads: a stream forwards and backwards, the log with filters and paging, snapshots, checkpoints.

use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test as test;

use crate::support::*;

fn positions(page: &JsValue) -> Vec<f64> {
    events(page).iter().map(|e| num(e, "position")).collect()
}

fn seeded() -> eventlite_wasm::WasmStore {
    let store = memory();
    for stream in ["order-1", "order-2", "user-1", "orderline-1", "order-1"] {
        append(&store, stream, r#"[{"type":"Created","data":{}},{"type":"Updated","data":{}}]"#.into(), "any".into())
            .unwrap();
    }
    store
}

#[test]
fn read_stream_pages_forwards_and_backwards() {
    let store = memory();
    append(&store, "a-1", batch("E", 10), "no_stream".into()).unwrap();
    let read = |options: &str| {
        let page = store.read_stream("a-1".into(), js(options)).unwrap();
        assert_eq!(num(&page, "version"), 10.0);
        events(&page).iter().map(|e| num(e, "version")).collect::<Vec<_>>()
    };
    assert_eq!(read(r#"{"maxCount":3}"#), vec![1.0, 2.0, 3.0]);
    assert_eq!(read(r#"{"fromVersion":9}"#), vec![9.0, 10.0]);
    assert_eq!(read(r#"{"direction":"backwards","maxCount":3}"#), vec![10.0, 9.0, 8.0]);
    assert_eq!(read(r#"{"direction":"backwards","fromVersion":2}"#), vec![2.0, 1.0]);
    let absent = store.read_stream("none".into(), JsValue::UNDEFINED).unwrap();
    assert_eq!((events(&absent).len(), num(&absent, "version")), (0, 0.0));
}

#[test]
fn read_all_pages_and_filters() {
    let store = seeded();
    let read = |options: &str| positions(&store.read_all(js(options)).unwrap());
    assert_eq!(read(r#"{"maxCount":3}"#), vec![1.0, 2.0, 3.0]);
    assert_eq!(read(r#"{"fromPosition":8}"#), vec![9.0, 10.0]);
    assert_eq!(read(r#"{"direction":"backwards","maxCount":2}"#), vec![10.0, 9.0]);
    assert_eq!(read(r#"{"filter":{"categories":["user"]}}"#), vec![5.0, 6.0]);
    assert_eq!(read(r#"{"filter":{"categories":["order"],"eventTypes":["Updated"]}}"#), vec![2.0, 4.0, 10.0]);
    assert_eq!(read(r#"{"filter":{"streamPrefix":"orderl"}}"#), vec![7.0, 8.0]);
    assert_eq!(read(r#"{"filter":{"eventTypes":["Created"]},"direction":"backwards","maxCount":2}"#), vec![9.0, 7.0]);
    assert_eq!(num(&store.read_all(JsValue::UNDEFINED).unwrap(), "headPosition"), 10.0);
}

#[test]
fn snapshots_save_and_load_by_tag() {
    let store = memory();
    append(&store, "cart-1", batch("Added", 4), "any".into()).unwrap();
    assert!(store.load_snapshot("cart-1".into(), JsValue::UNDEFINED).unwrap().is_none());
    store.save_snapshot("cart-1".into(), JsValue::from(2), r#"{"total":3}"#.into(), "v1".into()).unwrap();
    store.save_snapshot("cart-1".into(), JsValue::from(3), r#"{"sum":6}"#.into(), "v2".into()).unwrap();
    let v1 = js(&store.load_snapshot("cart-1".into(), "v1".into()).unwrap().unwrap());
    assert_eq!((num(&v1, "version"), text(&v1, "schemaTag")), (2.0, "v1".to_owned()));
    assert_eq!(num(&prop(&v1, "state"), "total"), 3.0);
    assert_eq!(text(&v1, "stream"), "cart-1");
    assert!(num(&v1, "recordedAt") > 1.6e12);
    let latest = js(&store.load_snapshot("cart-1".into(), JsValue::NULL).unwrap().unwrap());
    assert_eq!(num(&latest, "version"), 3.0);
    assert!(store.load_snapshot("cart-1".into(), "v3".into()).unwrap().is_none());
    let beyond = store.save_snapshot("cart-1".into(), JsValue::from(9), "1".into(), "v1".into()).unwrap_err();
    assert_eq!(code(&beyond), "INVALID_ARGUMENT");
    assert_eq!(text(&beyond, "argument"), "version");
}

#[test]
fn checkpoints_save_and_load() {
    let store = memory();
    assert!(store.load_checkpoint("projector".into()).unwrap().is_none());
    store.save_checkpoint("projector".into(), JsValue::from(42)).unwrap();
    assert_eq!(store.load_checkpoint("projector".into()).unwrap(), Some(42.0));
}
