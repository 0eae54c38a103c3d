//! Helpers shared by the Node and browser suites.
#![allow(dead_code)]

use eventlite_wasm::WasmStore;
use js_sys::{JSON, Reflect};
use wasm_bindgen::JsValue;

/// A JS value from JSON text.
pub fn js(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON is valid")
}

/// A property of a JS object.
pub fn prop(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).expect("an object")
}

/// A numeric property.
pub fn num(value: &JsValue, key: &str) -> f64 {
    prop(value, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number"))
}

/// A string property.
pub fn text(value: &JsValue, key: &str) -> String {
    prop(value, key).as_string().unwrap_or_else(|| panic!("{key} is not a string"))
}

/// The `code` of a thrown error, checking the error's shape on the way.
pub fn code(error: &JsValue) -> String {
    assert_eq!(text(error, "name"), "EventLiteError");
    assert!(!text(error, "message").is_empty());
    text(error, "code")
}

/// A memory store.
pub fn memory() -> WasmStore {
    WasmStore::open_memory(JsValue::UNDEFINED).expect("memory store opens")
}

/// A batch of `count` JSON events of `event_type` with data `{ "n": i }`.
pub fn batch(event_type: &str, count: usize) -> JsValue {
    let events: Vec<String> = (0..count).map(|n| format!(r#"{{"type":"{event_type}","data":{{"n":{n}}}}}"#)).collect();
    JsValue::from(format!("[{}]", events.join(",")))
}

/// Appends with an expectation given as JS (e.g. `"any"`, `3`).
pub fn append(store: &WasmStore, stream: &str, events: JsValue, expected: JsValue) -> Result<JsValue, JsValue> {
    store.append_to_stream(stream.into(), events, expected)
}

/// The events of a page (`{ events: <JSON text> }`) as a JS array.
pub fn events(page: &JsValue) -> Vec<JsValue> {
    let array: js_sys::Array = js(&text(page, "events")).into();
    array.iter().collect()
}

/// The stream's events' versions, read forwards.
pub fn versions(store: &WasmStore, stream: &str) -> Vec<f64> {
    let page = store.read_stream(stream.into(), JsValue::UNDEFINED).unwrap();
    events(&page).iter().map(|e| num(e, "version")).collect()
}

/// A fresh name, so runs never see each other's OPFS files.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e12) as u64)
}
