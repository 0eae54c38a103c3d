//! Subscriptions through the binding: history then live pages, stream subscriptions, unsubscribe, named resume.

use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test as test;

use crate::support::*;

fn page_positions(page: Option<String>) -> Vec<f64> {
    match page {
        Some(json) => {
            let array: js_sys::Array = js(&json).into();
            array.iter().map(|e| num(&e, "position")).collect()
        }
        None => Vec::new(),
    }
}

#[test]
fn history_then_live_in_batches() {
    let mut store = memory();
    append(&store, "a-1", batch("A", 3), "any".into()).unwrap();
    let id = store.subscribe_to_all(js(r#"{"batchSize":2}"#)).unwrap();
    assert_eq!(page_positions(store.poll(id).unwrap()), vec![1.0, 2.0]);
    assert_eq!(page_positions(store.poll(id).unwrap()), vec![3.0]);
    assert!(store.poll(id).unwrap().is_none());
    append(&store, "b-1", batch("B", 1), "any".into()).unwrap();
    assert_eq!(page_positions(store.poll(id).unwrap()), vec![4.0]);
    store.unsubscribe(id);
    store.unsubscribe(id);
    assert_eq!(code(&store.poll(id).unwrap_err()), "INVALID_ARGUMENT");
}

#[test]
fn filters_start_points_and_stream_subscriptions() {
    let mut store = memory();
    append(&store, "order-1", batch("A", 2), "any".into()).unwrap();
    append(&store, "user-1", batch("A", 1), "any".into()).unwrap();
    let orders = store.subscribe_to_all(js(r#"{"filter":{"categories":["order"]}}"#)).unwrap();
    let from_end = store.subscribe_to_all(js(r#"{"from":"end"}"#)).unwrap();
    let after = store.subscribe_to_all(js(r#"{"from":2}"#)).unwrap();
    let stream = store.subscribe_to_stream("order-1".into(), js(r#"{"from":1}"#)).unwrap();
    assert_eq!(page_positions(store.poll(orders).unwrap()), vec![1.0, 2.0]);
    assert!(store.poll(from_end).unwrap().is_none());
    assert_eq!(page_positions(store.poll(after).unwrap()), vec![3.0]);
    assert_eq!(page_positions(store.poll(stream).unwrap()), vec![2.0]);
    append(&store, "order-1", batch("A", 1), "any".into()).unwrap();
    assert_eq!(page_positions(store.poll(from_end).unwrap()), vec![4.0]);
    assert_eq!(page_positions(store.poll(stream).unwrap()), vec![4.0]);
}

#[test]
fn named_subscriptions_resume_after_their_checkpoint() {
    let mut store = memory();
    append(&store, "a-1", batch("A", 3), "any".into()).unwrap();
    let first = store.subscribe_to_all(js(r#"{"name":"projector"}"#)).unwrap();
    assert_eq!(page_positions(store.poll(first).unwrap()).len(), 3);
    store.save_checkpoint("projector".into(), JsValue::from(2)).unwrap();
    store.unsubscribe(first);
    let resumed = store.subscribe_to_all(js(r#"{"name":"projector"}"#)).unwrap();
    assert_eq!(page_positions(store.poll(resumed).unwrap()), vec![3.0]);
}
