//! The binding in headless Chromium, in a dedicated worker, with OPFS (sahpool VFS, WAL, exclusive locking):
//! events survive closing and reopening the store, stores are independent, and OPFS failures map to codes.
//! Run with `cargo test -p eventlite-wasm --target wasm32-unknown-unknown --test browser` (needs chromedriver).
#![cfg(all(target_family = "wasm", target_os = "unknown"))]

#[path = "../support/mod.rs"]
mod support;

use eventlite_wasm::WasmStore;
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

async fn open(name: &str) -> WasmStore {
    WasmStore::open_opfs(name.into(), JsValue::UNDEFINED).await.expect("OPFS store opens")
}

#[test]
async fn an_opfs_store_keeps_its_events_across_reopen() {
    let name = unique("reopen");
    let mut store = open(&name).await;
    assert_eq!(store.storage_mode(), "opfs");
    append(&store, "order-1", batch("Placed", 3), "no_stream".into()).unwrap();
    append(&store, "order-2", batch("Placed", 1), "no_stream".into()).unwrap();
    store.save_snapshot("order-1".into(), JsValue::from(3), r#"{"n":3}"#.into(), "v1".into()).unwrap();
    store.save_checkpoint("projector".into(), JsValue::from(2)).unwrap();
    store.close().unwrap();

    // Closing paused the pool (OPFS handles released); reopening reacquires them and reads the files back.
    let mut reopened = open(&name).await;
    assert_eq!(reopened.head_position().unwrap(), 4.0);
    assert_eq!(versions(&reopened, "order-1"), vec![1.0, 2.0, 3.0]);
    assert_eq!(reopened.load_checkpoint("projector".into()).unwrap(), Some(2.0));
    assert!(reopened.load_snapshot("order-1".into(), "v1".into()).unwrap().is_some());
    let error = append(&reopened, "order-1", batch("Placed", 1), "no_stream".into()).unwrap_err();
    assert_eq!(code(&error), "WRONG_EXPECTED_VERSION");
    append(&reopened, "order-1", batch("Shipped", 1), JsValue::from(3)).unwrap();
    reopened.close().unwrap();

    let again = open(&name).await;
    assert_eq!(versions(&again, "order-1"), vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
async fn many_appends_then_reopen_find_every_event() {
    let name = unique("many");
    let mut store = open(&name).await;
    for _ in 0..50 {
        append(&store, "counter-1", batch("Incremented", 1), "any".into()).unwrap();
    }
    append(&store, "bulk-1", batch("Loaded", 500), "no_stream".into()).unwrap();
    store.close().unwrap();
    let reopened = open(&name).await;
    assert_eq!(reopened.stream_version("counter-1".into()).unwrap(), 50.0);
    assert_eq!(reopened.stream_version("bulk-1".into()).unwrap(), 500.0);
    let page = reopened.read_all(js(r#"{"direction":"backwards","maxCount":1}"#)).unwrap();
    assert_eq!(num(&page, "headPosition"), 550.0);
}

#[test]
async fn stores_with_different_names_are_independent() {
    let (a, b) = (unique("a"), unique("b"));
    let first = open(&a).await;
    let second = open(&b).await;
    append(&first, "x-1", batch("A", 2), "any".into()).unwrap();
    append(&second, "x-1", batch("B", 1), "any".into()).unwrap();
    assert_eq!(first.stream_version("x-1".into()).unwrap(), 2.0);
    assert_eq!(second.stream_version("x-1".into()).unwrap(), 1.0);
}

#[test]
async fn subscriptions_poll_in_the_worker() {
    let mut store = open(&unique("sub")).await;
    append(&store, "a-1", batch("A", 2), "any".into()).unwrap();
    let id = store.subscribe_to_all(JsValue::UNDEFINED).unwrap();
    let first: js_sys::Array = js(&store.poll(id).unwrap().unwrap()).into();
    assert_eq!(first.length(), 2);
    append(&store, "a-1", batch("A", 1), "any".into()).unwrap();
    let live: js_sys::Array = js(&store.poll(id).unwrap().unwrap()).into();
    assert_eq!(num(&live.get(0), "position"), 3.0);
}

#[test]
async fn bad_names_are_invalid_arguments() {
    for name in [JsValue::from(""), "../escape".into(), ".hidden".into(), "a/b".into(), JsValue::from(3)] {
        let error = WasmStore::open_opfs(name.clone(), JsValue::UNDEFINED).await.map(|_| ()).unwrap_err();
        assert_eq!(code(&error), "INVALID_ARGUMENT", "{name:?}");
        assert_eq!(text(&error, "argument"), "name");
    }
    let error = WasmStore::open_opfs("ok".into(), js(r#"{"maxEventSize":0}"#)).await.map(|_| ()).unwrap_err();
    assert_eq!(code(&error), "INVALID_ARGUMENT");
}
