//! Hostile and malformed input: the right 4xx with a JSON `{code, message}`, and nothing stored. Request decoding
//! is fuzzed with proptest (random bytes, and valid pushes with random JSON grafted in at random places). The
//! request cases run against both backends (`every_server!` below), those that need no server flags against the
//! Durable Object backend too (`scripts/test-edge.sh`); the fuzzers run against the embedded one.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eventlite::sync::server::Limits;
use eventlite_server::auth::{Tenant, mint_jwt};
use eventlite_server::backend::Backend;
use eventlite_server::backend::sqlite::SqliteBackend;
use eventlite_server::{AppState, Config, app};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::protocol::{Server, Target};
use crate::support::{TOKEN_A, auth};

fn setup(config: Config) -> (axum::Router, Arc<dyn Backend>) {
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_memory());
    (router(&backend, config), backend)
}

fn router(backend: &Arc<dyn Backend>, config: Config) -> axum::Router {
    app(AppState::new(Arc::clone(backend), auth(), config))
}

async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// [`call`] on any server (`crate::protocol::Target`: in-process or over HTTP).
async fn send(target: &Target, method: &str, uri: &str, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let (status, _, bytes) = target.exchange(request.body(Body::from(body)).unwrap(), true).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn valid_event(n: u128) -> Value {
    json!({
        "event_id": uuid::Uuid::from_u128(n), "stream": "todo-1", "type": "Added", "expected": "any",
        "data": {"title": "milk"}, "metadata": {"correlationId": "c"}
    })
}

fn push_body(events: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "replica_id": uuid::Uuid::from_u128(7), "events": events })).unwrap()
}

async fn heads(backend: &Arc<dyn Backend>) -> (u64, u64) {
    (
        backend.head(&Tenant::new("acme").unwrap()).await.unwrap(),
        backend.head(&Tenant::new("globex").unwrap()).await.unwrap(),
    )
}

fn assert_error(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str, case: &str) {
    assert_eq!(status, expected_status, "{case}: {body}");
    assert_eq!(body["code"], code, "{case}: {body}");
    assert!(body["message"].is_string(), "{case}: {body}");
}

fn binary(content_type: &str) -> Value {
    let mut event = valid_event(1);
    event.as_object_mut().unwrap().remove("data");
    event["data_base64"] = json!("AA==");
    event["content_type"] = json!(content_type);
    event
}

/// 17 MiB: over the default body limit (16 MiB).
const OVER_THE_DEFAULT_BODY_LIMIT: usize = 17 * 1024 * 1024;

/// Every malformed push body with the server's default limits, on every server: its code, and nothing stored.
pub async fn malformed_push_bodies_get_their_code_and_store_nothing(server: Server) {
    let router = server.target();
    let token = router.token();
    let mut unknown_event_field = valid_event(1);
    unknown_event_field["color"] = json!("red");
    let mut wrong_type = valid_event(1);
    wrong_type["expected"] = json!({"exact": "three"});
    let mut missing = valid_event(1);
    missing.as_object_mut().unwrap().remove("stream");
    let mut bad_stream = valid_event(1);
    bad_stream["stream"] = json!("$all");
    let mut empty_type = valid_event(1);
    empty_type["type"] = json!("");
    let mut bad_base64 = valid_event(1);
    bad_base64.as_object_mut().unwrap().remove("data");
    bad_base64["data_base64"] = json!("@@@");
    bad_base64["content_type"] = json!("image/png");
    let mut array_metadata = valid_event(1);
    array_metadata["metadata"] = json!([1]);
    let mut huge_event = valid_event(1);
    huge_event["data"] = json!("x".repeat(OVER_THE_DEFAULT_BODY_LIMIT));
    let mut big_event = valid_event(9);
    big_event["data"] = json!("x".repeat(2 * 1024 * 1024));
    let huge_batch: Vec<Value> = (0..1_001).map(valid_event).collect();
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("not JSON", b"{".to_vec(), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("empty body", Vec::new(), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        (
            "wrong top-level types",
            br#"{"replica_id": 5, "events": "x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "unknown top-level field",
            serde_json::to_vec(&json!({"replica_id": uuid::Uuid::nil(), "events": [], "admin": true})).unwrap(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "unknown event field",
            push_body(vec![valid_event(2), unknown_event_field]),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        ("wrong expectation type", push_body(vec![wrong_type]), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("missing stream", push_body(vec![missing]), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("reserved stream", push_body(vec![valid_event(2), bad_stream]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("empty type", push_body(vec![valid_event(2), empty_type]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("bad base64", push_body(vec![bad_base64]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("array metadata", push_body(vec![array_metadata]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("empty content type", push_body(vec![binary("")]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("NUL in the content type", push_body(vec![binary("a\u{0}b")]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("newline in the content type", push_body(vec![binary("a\nb")]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("long content type", push_body(vec![binary(&"x".repeat(257))]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("duplicate ids", push_body(vec![valid_event(3), valid_event(3)]), StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        ("body over the limit", push_body(vec![huge_event]), StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE"),
        // Over the event limits, with a body the body limit lets through.
        ("huge batch", push_body(huge_batch), StatusCode::PAYLOAD_TOO_LARGE, "BATCH_TOO_LARGE"),
        ("big event", push_body(vec![valid_event(8), big_event]), StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE"),
    ];
    for (case, body, status, code) in cases {
        let (got, response) = send(&router, "POST", "/v1/push", Some(&token), body).await;
        assert_error(got, &response, status, code, case);
    }
    assert_eq!(router.heads().await, (0, 0));
}

/// A body without a `Content-Length` is counted as it arrives: one byte over the default limit is refused
/// (`413 REQUEST_TOO_LARGE`, the connection closed) and nothing is stored; so is a declared 17 MiB.
pub async fn an_oversized_push_is_refused_as_it_arrives_and_stores_nothing(server: Server) {
    let router = server.target();
    let token = router.token();
    let max = Config::default().max_body_bytes;
    let request = || {
        Request::post("/v1/push")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
    };
    // A valid push, padded with whitespace (JSON allows it) to exactly the limit, is stored; one byte more is not.
    let mut body = push_body(vec![valid_event(1)]);
    body.resize(max, b' ');
    let (status, _, answer) = router.exchange_streamed(request(), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer));
    let mut over = push_body(vec![valid_event(2)]);
    over.resize(max + 1, b' ');
    let (status, headers, answer) = router.exchange_streamed(request(), over).await;
    let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    assert_error(status, &answer, StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE", "chunked, max + 1 bytes");
    if router.is_local() {
        assert_eq!(headers["connection"], "close");
    }
    let mut declared = push_body(vec![valid_event(3)]);
    declared.resize(OVER_THE_DEFAULT_BODY_LIMIT, b' ');
    let (status, answer) = send(&router, "POST", "/v1/push", Some(&token), declared).await;
    assert_error(status, &answer, StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE", "declared 17 MiB");
    assert_eq!(router.heads().await, (1, 0), "only the push within the limit is stored");
}

/// A push failing several checks at once gets the first failure in the documented order (docs/sync-protocol.md
/// §3.1): the token, the query (`after`), the `Content-Type`, the body's size, then the body itself. The same
/// whether the body's length is declared or only found by reading it.
pub async fn the_first_failing_push_check_in_the_documented_order_wins(server: Server) {
    let router = server.target();
    let token = router.token();
    let mut oversized = push_body(vec![valid_event(1)]);
    oversized.resize(OVER_THE_DEFAULT_BODY_LIMIT, b' ');
    // (target, token, Content-Type, body, the answer's status and code)
    type Case<'a> = (&'a str, Option<&'a str>, &'a str, &'a [u8], StatusCode, &'a str);
    let cases: [Case; 5] = [
        ("/v1/push?after=garbage", None, "text/plain", &oversized, StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
        ("/v1/push?after=garbage", Some(&token), "text/plain", &oversized, StatusCode::BAD_REQUEST, "INVALID_CURSOR"),
        ("/v1/push?since=1", Some(&token), "text/plain", &oversized, StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        (
            "/v1/push",
            Some(&token),
            "text/plain",
            &oversized,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        ("/v1/push", Some(&token), "application/json", &oversized, StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE"),
    ];
    for (uri, token, content_type, body, status, code) in cases {
        let request = || {
            let request = Request::post(uri).header("content-type", content_type);
            match token {
                Some(token) => request.header("authorization", format!("Bearer {token}")),
                None => request,
            }
        };
        let (got, _, answer) = router.exchange(request().body(Body::from(body.to_vec())).unwrap(), true).await;
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        assert_error(got, &answer, status, code, &format!("{uri} {content_type}, declared length"));
        let (got, _, answer) = router.exchange_streamed(request(), body.to_vec()).await;
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        assert_error(got, &answer, status, code, &format!("{uri} {content_type}, chunked"));
    }
    // Within the size limit, a malformed body comes last: after the Content-Type.
    let (got, _, answer) = router
        .exchange(
            Request::post("/v1/push")
                .header("content-type", "text/plain")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from("{"))
                .unwrap(),
            true,
        )
        .await;
    let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    assert_error(got, &answer, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", "text/plain and not JSON");
    assert_eq!(router.heads().await, (0, 0));
}

/// The cases of a lowered body limit and event limits (server flags the edge is not started with per case).
pub async fn malformed_pushes_get_their_code_and_store_nothing(server: Server) {
    let backend = server.backend();
    let config = Config { max_body_bytes: 64 * 1024, ..Config::default() };
    let router = router(&backend, config);
    let mut big_event = valid_event(1);
    big_event["data"] = json!("x".repeat(2 * 1024 * 1024));
    let (got, response) = call(&router, "POST", "/v1/push", Some(TOKEN_A), push_body(vec![big_event])).await;
    assert_error(got, &response, StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE", "body over a lowered limit");
    // The content type counts in the event's size.
    let small = Config { limits: Limits { max_batch: 10, max_event_size: 256 }, ..Config::default() };
    let router = crate::hostile::router(&backend, small);
    let (got, response) =
        call(&router, "POST", "/v1/push", Some(TOKEN_A), push_body(vec![binary(&"x".repeat(255))])).await;
    assert_error(got, &response, StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE", "content type over the event size");
    let (got, response) =
        call(&router, "POST", "/v1/push", Some(TOKEN_A), push_body((0..11).map(valid_event).collect())).await;
    assert_error(got, &response, StatusCode::PAYLOAD_TOO_LARGE, "BATCH_TOO_LARGE", "batch over a lowered limit");
    assert_eq!(heads(&backend).await, (0, 0));
}

pub async fn missing_and_wrong_tokens_are_refused(server: Server) {
    let router = server.target();
    let forged = mint_jwt(b"not-the-secret-not-the-secret-not-the-secret", &router.tenant(), None);
    let expired = mint_jwt(&router.secret(), &router.tenant(), Some(1));
    for (case, token) in [
        ("missing", None),
        ("wrong", Some("nope")),
        ("forged JWT", Some(forged.as_str())),
        ("expired JWT", Some(expired.as_str())),
    ] {
        let (status, body) = send(&router, "POST", "/v1/push", token, push_body(vec![valid_event(1)])).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", case);
        let (status, body) = send(&router, "GET", "/v1/pull", token, Vec::new()).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", case);
        let (status, body) = send(&router, "GET", "/v1/live", token, Vec::new()).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", case);
    }
    assert_eq!(router.heads().await, (0, 0));
}

pub async fn tenants_never_see_or_write_each_others_events(server: Server) {
    let router = server.target();
    let (token_a, token_b) = (router.token(), router.other_token());
    let (status, body) = send(&router, "POST", "/v1/push", Some(&token_a), push_body(vec![valid_event(1)])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The same event id is a different event in another tenant: stored there, not a duplicate of acme's.
    let jwt = router.other_jwt();
    let (status, body) = send(&router, "POST", "/v1/push", Some(&jwt), push_body(vec![valid_event(1)])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcomes"][0]["duplicate"], false);
    assert_eq!(router.heads().await, (1, 1));
    let (_, acme) = send(&router, "GET", "/v1/pull", Some(&token_a), Vec::new()).await;
    let (_, globex) = send(&router, "GET", "/v1/pull", Some(&token_b), Vec::new()).await;
    assert_eq!(acme["events"].as_array().unwrap().len(), 1);
    assert_eq!(globex["events"].as_array().unwrap().len(), 1);
    // Another tenant's cursor is refused, not reinterpreted.
    let acme_cursor = acme["cursor"].as_str().unwrap();
    let (status, body) =
        send(&router, "GET", &format!("/v1/pull?after={acme_cursor}"), Some(&token_b), Vec::new()).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_CURSOR", "another tenant's cursor");
    assert_eq!(router.heads().await, (1, 1));
}

pub async fn malformed_pulls_and_unknown_routes_are_refused_with_json(server: Server) {
    let router = server.target();
    let token = router.token();
    // A cursor beyond the head of an empty tenant, and of one with events: no event at its position, so the data
    // was reset (`LOG_RESET`).
    let mark = eventlite_server::cursor::EventMark { event_id: uuid::Uuid::from_u128(99), recorded_at: 0 };
    let cursor_ahead = eventlite_server::cursor::encode(&router.tenant(), uuid::Uuid::from_u128(1), Some((99, mark)));
    let (got, body) = send(&router, "GET", &format!("/v1/pull?after={cursor_ahead}"), Some(&token), Vec::new()).await;
    assert_error(got, &body, StatusCode::GONE, "LOG_RESET", "a cursor beyond an empty tenant's head");
    // A push carrying it stores nothing (its cursor is checked before anything is written).
    let uri = format!("/v1/push?after={cursor_ahead}");
    let (got, body) = send(&router, "POST", &uri, Some(&token), push_body(vec![valid_event(1)])).await;
    assert_error(got, &body, StatusCode::GONE, "LOG_RESET", "a push with a cursor beyond the head");
    assert_eq!(router.heads().await, (0, 0), "a push refused with LOG_RESET stores nothing");
    let (status, body) = send(&router, "POST", "/v1/push", Some(&token), push_body(vec![valid_event(1)])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = send(&router, "GET", "/v1/pull", Some(&token), Vec::new()).await;
    let at_head = page["cursor"].as_str().unwrap();
    let (got, body) = send(&router, "GET", &format!("/v1/pull?after={at_head}"), Some(&token), Vec::new()).await;
    assert_eq!((got, body["events"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{body}");
    assert_eq!(body["cursor"], at_head, "an empty page answers with the cursor sent");
    let cases = [
        ("/v1/pull?limit=0", StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("/v1/pull?limit=abc", StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("/v1/pull?limit=100000", StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("/v1/pull?since=3", StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ("/v1/pull?after=garbage", StatusCode::BAD_REQUEST, "INVALID_CURSOR"),
        (&format!("/v1/pull?after={cursor_ahead}"), StatusCode::GONE, "LOG_RESET"),
        ("/v2/everything", StatusCode::NOT_FOUND, "NOT_FOUND"),
    ];
    for (uri, status, code) in cases {
        let (got, body) = send(&router, "GET", uri, Some(&token), Vec::new()).await;
        assert_error(got, &body, status, code, uri);
    }
    let (got, body) = send(&router, "DELETE", "/v1/push", Some(&token), Vec::new()).await;
    assert_error(got, &body, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "DELETE /v1/push");
}

pub async fn health_and_metrics_answer(server: Server) {
    let router = server.target();
    let token = router.token();
    send(&router, "POST", "/v1/push", Some(&token), push_body(vec![valid_event(1)])).await;
    send(&router, "POST", "/v1/push", Some(&token), b"{".to_vec()).await;
    let (status, body) = send(&router, "GET", "/health", None, Vec::new()).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    if !router.is_local() {
        // The edge has no /metrics (docs/edge.md): no process-wide counters across tenants' Durable Objects.
        return;
    }
    let (_, _, text) = router.exchange(Request::get("/metrics").body(Body::empty()).unwrap(), true).await;
    let text = String::from_utf8(text).unwrap();
    for line in [
        "eventlite_push_requests_total{backend=\"sqlite\"} 1",
        "eventlite_pushed_events_total{backend=\"sqlite\",outcome=\"accepted\"} 1",
        "eventlite_conflicts_total{backend=\"sqlite\"} 0",
        "eventlite_live_clients{backend=\"sqlite\"} 0",
        "eventlite_errors_total{backend=\"sqlite\",code=\"INVALID_REQUEST\"} 1",
    ] {
        let line = line.replace("sqlite", router.backend_name());
        assert!(text.contains(&line), "{line} missing from\n{text}");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        Just(json!("$all")),
        Just(json!({"exact": 1})),
        Just(json!(uuid::Uuid::from_u128(5))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 10] = [
    "event_id",
    "stream",
    "type",
    "expected",
    "data",
    "data_base64",
    "content_type",
    "metadata",
    "extra",
    "replica_id",
];

/// Cases per fuzz test: 200 in CI; `EVENTLITE_FUZZ_CASES=20000` for a longer run.
fn fuzz_cases() -> u32 {
    std::env::var("EVENTLITE_FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

    /// Random bytes never crash the server or store anything: 4xx with a JSON error.
    #[test]
    fn fuzzed_bytes_are_refused_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (router, backend) = setup(Config::default());
            let (status, body) = call(&router, "POST", "/v1/push", Some(TOKEN_A), bytes).await;
            assert!(status.is_client_error(), "{status} {body}");
            assert!(body["code"].is_string() && body["message"].is_string());
            assert_eq!(heads(&backend).await, (0, 0));
        });
    }

    /// A valid push with one field replaced (or added) by random JSON: either accepted whole (200, every event
    /// answered) or refused whole (4xx with a code, nothing stored). Never a 5xx.
    #[test]
    fn fuzzed_pushes_are_accepted_or_refused_whole(
        field in 0..FIELDS.len(),
        target in 0..3usize,
        value in json_value(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (router, backend) = setup(Config::default());
            let mut request = json!({ "replica_id": uuid::Uuid::from_u128(7), "events": [valid_event(1), valid_event(2)] });
            let name = FIELDS[field];
            match target {
                0 if name == "replica_id" || name == "extra" => request[name] = value,
                0 | 1 => request["events"][target][name] = value,
                _ => request["events"] = value,
            }
            let body = serde_json::to_vec(&request).unwrap();
            let (status, response) = call(&router, "POST", "/v1/push", Some(TOKEN_A), body).await;
            let (acme, globex) = heads(&backend).await;
            assert_eq!(globex, 0);
            if status == StatusCode::OK {
                let outcomes = response["outcomes"].as_array().unwrap();
                assert_eq!(outcomes.len() as u64, request["events"].as_array().map_or(0, |e| e.len() as u64));
                assert!(acme <= outcomes.len() as u64);
            } else {
                assert!(status.is_client_error(), "{status} {response} for {request}");
                assert!(response["code"].is_string(), "{response}");
                assert_eq!(acme, 0, "a refused push stored something: {request}");
            }
        });
    }
}

pub async fn only_configured_origins_may_call_from_a_browser(server: Server) {
    let backend = server.backend();
    let config = Config { allowed_origins: vec!["http://localhost:5173".into()], ..Config::default() };
    let router = router(&backend, config);
    for (origin, allowed) in [("http://localhost:5173", true), ("https://evil.example", false)] {
        let preflight = Request::builder()
            .method("OPTIONS")
            .uri("/v1/push")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(preflight).await.unwrap();
        let header = response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header.as_deref() == Some(origin), allowed, "{origin}: {header:?}");
    }
}

pub async fn the_live_stream_takes_its_token_from_the_query_for_browsers(server: Server) {
    let router = router(&server.backend(), Config::default());
    let request = Request::get(format!("/v1/live?access_token={TOKEN_A}")).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let text = String::from_utf8(first.to_vec()).unwrap();
    assert!(text.starts_with("event: head\ndata: {\"position\":0}"), "{text}");
    let (status, body) = call(&router, "GET", "/v1/live?access_token=nope", None, Vec::new()).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "wrong query token");
}

every_server!(
    everywhere: [
        missing_and_wrong_tokens_are_refused,
        tenants_never_see_or_write_each_others_events,
        malformed_pulls_and_unknown_routes_are_refused_with_json,
        health_and_metrics_answer,
        malformed_push_bodies_get_their_code_and_store_nothing,
        an_oversized_push_is_refused_as_it_arrives_and_stores_nothing,
        the_first_failing_push_check_in_the_documented_order_wins,
    ],
    // These set the body limit (`--max-body-bytes`), the event limits or origins for the case, or read the live
    // stream's first frame from the in-process body; the query token itself is held on the edge by
    // `protocol::pull_queries_are_parsed_as_documented`.
    axum_only: [
        malformed_pushes_get_their_code_and_store_nothing,
        only_configured_origins_may_call_from_a_browser,
        the_live_stream_takes_its_token_from_the_query_for_browsers,
    ],
);

/// A push body that never ends, without a `Content-Length`, to the server at `url` whose body limit is `max`: the
/// server answers `413 REQUEST_TOO_LARGE` having taken at most a few times `max` bytes, without waiting for the
/// end (a server that reads the whole body before checking it never answers). `under_wrangler_dev`: the local
/// runtime's proxy may answer for the Worker (see `server/edge/src/index.ts`, `readAtMost`).
pub async fn an_endless_push_body_is_refused_after_the_limit(
    url: &str,
    token: &str,
    max: usize,
    under_wrangler_dev: bool,
) {
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&sent);
    let chunk = axum::body::Bytes::from(vec![b' '; 16 * 1024]);
    let endless = futures_util::stream::repeat_with(move || {
        counted.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk.clone())
    });
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        crate::support::http()
            .post(format!("{url}/v1/push"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(endless))
            .send(),
    )
    .await
    .expect("an endless body is answered once it passes the limit");
    let response = match answer {
        Ok(response) => Some(response),
        // The server closed the connection while the body was still being written: it stopped reading too (its
        // answer raced the reset). What it took is checked below.
        Err(error) if error.is_request() => {
            let text = format!("{error:?}");
            assert!(
                ["BodyWrite", "IncompleteMessage", "ConnectionReset"].iter().any(|kind| text.contains(kind)),
                "{text}"
            );
            None
        }
        Err(error) => panic!("{error:?}"),
    };
    if let Some(response) = response {
        check_endless_answer(response, under_wrangler_dev).await;
    }
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 64 * max + 4 * 1024 * 1024, "{sent} bytes were taken for a limit of {max}");
}

async fn check_endless_answer(response: reqwest::Response, under_wrangler_dev: bool) {
    let status = response.status();
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        // `wrangler dev`'s local proxy may reset the connection while the answer's body is in flight (the Worker
        // cancelled the request's body): the status, already read, is the answer.
        Err(error) if under_wrangler_dev && format!("{error:?}").contains("ConnectionReset") => {
            assert!(
                matches!(status, StatusCode::PAYLOAD_TOO_LARGE | StatusCode::SERVICE_UNAVAILABLE),
                "{status}: {error:?}"
            );
            return;
        }
        Err(error) => panic!("{error:?}"),
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if under_wrangler_dev && status == StatusCode::SERVICE_UNAVAILABLE {
        // `wrangler dev`'s local proxy, not the Worker: it answers a request whose body the Worker cancelled so.
        assert!(text.contains("restarted mid-request"), "{text}");
    } else {
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["code"], "REQUEST_TOO_LARGE", "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_push_body_is_refused_after_the_limit_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let max = 64 * 1024;
    let config = Config { max_body_bytes: max, ..Config::default() };
    let server = crate::support::TestServer::start_with(crate::support::sqlite_backend(dir.path()), config).await;
    an_endless_push_body_is_refused_after_the_limit(&server.url(), TOKEN_A, max, false).await;
    server.stop().await;
}
