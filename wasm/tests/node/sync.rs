//! The sync bindings (`SyncDriver`, `LiveFeed`, status, conflicts, synced subscriptions) against core's server side
//! as the hub, with no I/O: what the JS transport does, step by step.

use eventlite::Store;
use eventlite::sync::server::{self, Limits};
use eventlite_wasm::{WasmLiveFeed, WasmStore, WasmSyncDriver};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test as test;

use crate::support::*;

/// The hub's answer to a `send` step: `(status, body)`. Pushes over `max_batch` events are refused with 413.
fn answer(hub: &Store, step: &JsValue, max_batch: usize) -> (u16, Vec<u8>) {
    let path = text(step, "path");
    if text(step, "method") == "POST" {
        assert!(path.starts_with("/v1/push"), "{path}");
        let push: eventlite::sync::PushRequest = serde_json::from_str(&text(step, "body")).expect("a push body");
        if push.events.len() > max_batch {
            return (413, br#"{"code":"BATCH_TOO_LARGE","message":"too many events"}"#.to_vec());
        }
        let response = server::apply_push(hub, &push, &Limits::default()).expect("applied by the hub");
        return (200, serde_json::to_vec(&response).unwrap());
    }
    assert!(prop(step, "body").is_null());
    let query = path.strip_prefix("/v1/pull?").unwrap_or_else(|| panic!("a pull: {path}"));
    let mut after = 0;
    let mut limit = 0;
    for pair in query.split('&') {
        match pair.split_once('=').unwrap() {
            ("after", value) => after = value.parse().unwrap(),
            ("limit", value) => limit = value.parse().unwrap(),
            other => panic!("unexpected query {other:?}"),
        }
    }
    let page = server::read_pull(hub, after, limit).unwrap().into_response(|position| position.to_string());
    (200, serde_json::to_vec(&page).unwrap())
}

/// Runs `driver` until it is done or fails, answering from `hub`; returns the last step and the conflicts taken.
fn drive(driver: &mut WasmSyncDriver, hub: &Store, max_batch: usize) -> (JsValue, Vec<JsValue>) {
    let mut conflicts = Vec::new();
    loop {
        let step = driver.next_step().expect("a step");
        if let Some(json) = driver.take_new_conflicts().unwrap() {
            conflicts.extend(js_sys::Array::from(&js(&json)).iter());
        }
        if text(&step, "kind") != "send" {
            return (step, conflicts);
        }
        let (status, body) = answer(hub, &step, max_batch);
        driver.on_response(status, &body);
        if let Some(json) = driver.take_new_conflicts().unwrap() {
            conflicts.extend(js_sys::Array::from(&js(&json)).iter());
        }
    }
}

fn driver(store: &WasmStore, options: &str) -> WasmSyncDriver {
    WasmSyncDriver::new(store, js(options)).expect("a driver")
}

fn events_of(store: &WasmStore) -> Vec<String> {
    events(&store.read_all(JsValue::UNDEFINED).unwrap()).iter().map(|event| text(event, "eventId")).collect()
}

#[test]
fn two_devices_converge_and_the_loser_of_a_race_gets_a_conflict() {
    let hub = Store::open_in_memory().unwrap();
    let (a, b) = (memory(), memory());
    append(&a, "todo-1", r#"[{"type":"Added","data":{"by":"a"}}]"#.into(), "no_stream".into()).unwrap();
    append(&b, "todo-1", r#"[{"type":"Added","data":{"by":"b"}}]"#.into(), "no_stream".into()).unwrap();
    append(&b, "todo-2", r#"[{"type":"Added","data":null}]"#.into(), "no_stream".into()).unwrap();

    let mut sync_a = driver(&a, "{}");
    let (done, conflicts) = drive(&mut sync_a, &hub, usize::MAX);
    assert_eq!(text(&done, "kind"), "done");
    let report = prop(&done, "report");
    assert_eq!((num(&report, "pushed"), num(&report, "pulled"), num(&report, "conflicts")), (1.0, 1.0, 0.0));
    assert!(prop(&report, "rewoundFrom").is_null());
    assert_eq!(prop(&report, "logReset").as_bool(), Some(false));
    assert!(conflicts.is_empty());
    assert!(sync_a.take_log_changed(), "the push was confirmed by the pull");
    assert_eq!(text(&sync_a.next_step().unwrap(), "kind"), "failed", "a finished sync stays finished");

    let mut sync_b = driver(&b, r#"{"batchSize":1}"#);
    let (done, conflicts) = drive(&mut sync_b, &hub, usize::MAX);
    assert_eq!(num(&prop(&done, "report"), "conflicts"), 1.0);
    assert_eq!(conflicts.len(), 1);
    let conflict = &conflicts[0];
    assert_eq!(text(conflict, "code"), "WRONG_EXPECTED_VERSION");
    assert_eq!((text(conflict, "stream"), text(conflict, "expected")), ("todo-1".into(), "no_stream".into()));
    assert_eq!(text(&prop(conflict, "data"), "by"), "b");
    assert_eq!(num(conflict, "actualVersion"), 1.0);

    drive(&mut driver(&a, "{}"), &hub, usize::MAX);
    assert_eq!(events_of(&a), events_of(&b));
    let status = b.sync_status().unwrap();
    assert_eq!((num(&status, "pending"), num(&status, "conflicts")), (0.0, 1.0));
    assert_eq!(num(&status, "logResets"), 0.0);
    assert_eq!(text(&status, "replicaId"), b.replica_id().unwrap());
    assert!(!text(&status, "cursor").is_empty());
    let listed = js_sys::Array::from(&js(&b.sync_conflicts().unwrap()));
    assert_eq!(listed.length(), 1);
    let id = prop(conflict, "eventId");
    assert!(b.dismiss_conflict(id.clone()).unwrap());
    assert!(!b.dismiss_conflict(id).unwrap());
    assert_eq!(code(&b.dismiss_conflict("not-a-uuid".into()).unwrap_err()), "INVALID_ARGUMENT");
}

#[test]
fn a_push_refused_as_too_large_is_halved_then_the_batch_is_set_aside() {
    let hub = Store::open_in_memory().unwrap();
    let store = memory();
    for n in 0..4 {
        append(&store, &format!("one-{n}"), batch("One", 1), "any".into()).unwrap();
    }
    append(&store, "three-1", batch("Part", 3), "any".into()).unwrap();
    let mut sync = driver(&store, "{}");
    let (done, conflicts) = drive(&mut sync, &hub, 2);
    assert_eq!(text(&done, "kind"), "done");
    assert_eq!(num(&prop(&done, "report"), "pulled"), 4.0, "the single events went in smaller pushes");
    let codes: Vec<String> = conflicts.iter().map(|conflict| text(conflict, "code")).collect();
    assert_eq!(codes, ["BATCH_TOO_LARGE"; 3]);
    assert_eq!(num(&store.sync_status().unwrap(), "pending"), 0.0);
}

#[test]
fn failures_wait_with_core_backoff_and_their_class_decides_the_delay() {
    let hub = Store::open_in_memory().unwrap();
    let store = memory();
    append(&store, "a-1", batch("A", 1), "any".into()).unwrap();
    let mut sync = driver(&store, "{}");
    assert_eq!(text(&sync.next_step().unwrap(), "kind"), "send");
    sync.on_response(503, b"<html>unavailable</html>");
    let wait = sync.next_step().unwrap();
    assert_eq!(text(&wait, "kind"), "wait");
    assert!(num(&wait, "delayMs") <= 100.0, "the first retry is soon");
    let error = prop(&wait, "error");
    assert_eq!((text(&error, "code"), num(&error, "status")), ("HTTP_503".into(), 503.0));
    assert_eq!(prop(&error, "retryable").as_bool(), Some(true));
    assert_eq!(text(&sync.last_error(), "code"), "HTTP_503");

    assert_eq!(text(&sync.next_step().unwrap(), "kind"), "send", "a new round after the wait");
    sync.on_response(401, br#"{"code":"UNAUTHORIZED","message":"bad token"}"#);
    let wait = sync.next_step().unwrap();
    assert!(num(&wait, "delayMs") >= 5000.0, "retrying soon cannot fix a refused token");
    assert_eq!(prop(&prop(&wait, "error"), "retryable").as_bool(), Some(false));
    assert_eq!(text(&prop(&wait, "error"), "code"), "UNAUTHORIZED");

    sync.retry_now();
    assert_eq!(text(&sync.next_step().unwrap(), "kind"), "send");
    sync.on_transport_error("connection refused".into());
    let wait = sync.next_step().unwrap();
    assert!(num(&wait, "delayMs") <= 100.0, "retryNow reset the backoff");
    assert_eq!(text(&prop(&wait, "error"), "code"), "NETWORK");
    let (done, _) = drive(&mut sync, &hub, usize::MAX);
    assert_eq!(text(&done, "kind"), "done");
    assert!(sync.last_error().is_undefined());

    let mut once = driver(&store, r#"{"retries":"never"}"#);
    append(&store, "a-1", batch("A", 1), "any".into()).unwrap();
    once.next_step().unwrap();
    once.on_transport_error("cut".into());
    let failed = once.next_step().unwrap();
    assert_eq!((text(&failed, "kind"), text(&prop(&failed, "error"), "code")), ("failed".into(), "NETWORK".into()));
    assert_eq!(num(&store.sync_status().unwrap(), "pending"), 1.0, "nothing was lost");
}

#[test]
fn driver_options_are_checked_field_by_field() {
    let store = memory();
    for (options, argument) in [
        (r#"{"batchSize":0}"#, "options.batchSize"),
        (r#"{"batch":10}"#, "options.batch"),
        (r#"{"limits":{"maxBytes":0}}"#, "options.limits.maxBytes"),
        (r#"{"limits":{"max":1}}"#, "options.limits.max"),
        (r#"{"limits":[1]}"#, "options.limits"),
        (r#"{"retries":"sometimes"}"#, "options.retries"),
        (r#"{"retries":{"transient":0}}"#, "options.retries"),
        (r#""fast""#, "options"),
    ] {
        let error = WasmSyncDriver::new(&store, js(options)).map(|_| ()).unwrap_err();
        assert_eq!((code(&error), text(&error, "argument")), ("INVALID_ARGUMENT".into(), argument.into()), "{options}");
    }
    let error = WasmSyncDriver::new(&store, js(r#"{"limit":1}"#)).map(|_| ()).unwrap_err();
    assert_eq!(text(&error, "reason"), "is not a known option");
    assert!(WasmSyncDriver::new(&store, JsValue::UNDEFINED).is_ok());
}

#[test]
fn the_live_feed_finds_heads_and_says_how_long_to_wait() {
    let mut feed = WasmLiveFeed::new();
    assert_eq!(WasmLiveFeed::silence_ms(), 45_000.0);
    feed.on_connect();
    assert!(!feed.on_bytes(b"event: head\ndata: {\"position\":1}\n").unwrap());
    assert!(feed.on_bytes(b"\n: keep-alive\n\n").unwrap());
    assert!(!feed.on_bytes(b"event: hea").unwrap());
    assert!(feed.on_bytes(b"d\r\n\r\n").unwrap());

    let retry = feed.on_lost(js(r#"{"message":"the live stream ended"}"#)).unwrap();
    assert!(num(&retry, "delayMs") <= 100.0);
    assert_eq!(text(&prop(&retry, "error"), "code"), "NETWORK");
    let refused = js(r#"{"status":401,"body":"{\"code\":\"UNAUTHORIZED\",\"message\":\"no\"}"}"#);
    let retry = feed.on_lost(refused).unwrap();
    assert!(num(&retry, "delayMs") >= 5000.0);
    assert_eq!(text(&prop(&retry, "error"), "code"), "UNAUTHORIZED");
    feed.on_synced();
    let retry = feed.on_lost(js(r#"{"status":502,"body":"<html>"}"#)).unwrap();
    assert!(num(&retry, "delayMs") <= 100.0, "a sync reset the backoff");
    assert_eq!(text(&prop(&retry, "error"), "code"), "HTTP_502");

    feed.on_connect();
    let error = feed.on_bytes(&vec![b'x'; 70 * 1024]).unwrap_err();
    assert_eq!(code(&error), "SYNC_PROTOCOL");
    let retry = feed.on_lost(js(r#"{"message":"dropped"}"#)).unwrap();
    assert_eq!(text(&prop(&retry, "error"), "code"), "SYNC_PROTOCOL", "the violation is why it was dropped");
    assert!(num(&retry, "delayMs") >= 5000.0);
    assert_eq!(code(&feed.on_lost(js(r#"{"reason":"x"}"#)).unwrap_err()), "INVALID_ARGUMENT");
}

#[test]
fn synced_subscriptions_see_pending_events_at_once_and_confirmed_ones_after_a_sync() {
    let hub = Store::open_in_memory().unwrap();
    let store = memory();
    let mut confirmed = store.subscribe_synced("confirmed".into(), JsValue::UNDEFINED).unwrap();
    let mut pending = store.subscribe_synced("pending".into(), JsValue::UNDEFINED).unwrap();
    append(&store, "todo-1", r#"[{"type":"Added","data":null}]"#.into(), "no_stream".into()).unwrap();
    assert!(confirmed.poll().unwrap().is_undefined());
    let page = pending.poll().unwrap();
    assert!(prop(&page, "rewoundFrom").is_null());
    assert_eq!(events(&page).len(), 1);
    drive(&mut driver(&store, "{}"), &hub, usize::MAX);
    assert_eq!(text(&events(&confirmed.poll().unwrap())[0], "stream"), "todo-1");
    assert_eq!(confirmed.position(), 1.0);
    assert_eq!(code(&store.subscribe_synced("all".into(), JsValue::UNDEFINED).err().unwrap()), "INVALID_ARGUMENT");
    let error = store.subscribe_synced("pending".into(), js(r#"{"name":"x"}"#)).err().unwrap();
    assert_eq!(code(&error), "INVALID_ARGUMENT");
}
