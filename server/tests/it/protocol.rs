//! The rules `docs/sync-protocol.md` states, one test each where the hostile suite does not already hold them: the
//! push's Content-Type, query parsing, the shape of pushes and pulled events, UUID spellings, stream-id characters,
//! what counts in an event's size, JSON error bodies on every non-200 answer, CORS, and the static directory.
//! Cases that touch storage run against every server (`every_server!`): the axum server on both backends,
//! in-process, and the Durable Object backend (`server/edge/`) over HTTP when `scripts/test-edge.sh` runs it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eventlite::sync::server::Limits;
use eventlite_server::backend::Backend;
use eventlite_server::backend::sqlite::SqliteBackend;
use eventlite_server::{AppState, Config, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::support::{EdgeServer, JWT_SECRET, TOKEN_A, TOKEN_B, TestServer, auth, sqlite_backend};

/// What a case runs against: the axum app in-process over a backend, or a server already running elsewhere (the
/// Durable Object backend under `wrangler dev`), called over HTTP with a tenant of the case's own.
#[cfg_attr(not(feature = "edge-tests"), allow(dead_code))]
pub enum Target {
    Local { router: axum::Router, backend: Arc<dyn Backend> },
    Remote { edge: EdgeServer },
}

/// Where a case runs: one of the axum server's backends (the case picks the server's settings), or the edge
/// (which runs with its default settings: cases that need others are not run against it).
#[cfg_attr(not(feature = "edge-tests"), allow(dead_code))]
pub enum Server {
    Backend(Arc<dyn Backend>),
    Edge(EdgeServer),
}

impl Server {
    /// The server with its default settings.
    pub fn target(self) -> Target {
        match self {
            Server::Backend(backend) => router(&backend, Config::default()),
            Server::Edge(edge) => Target::Remote { edge },
        }
    }

    /// The axum server with `config` (cases that need settings other than the defaults run only there).
    pub fn backend(self) -> Arc<dyn Backend> {
        match self {
            Server::Backend(backend) => backend,
            Server::Edge(_) => panic!("this case needs server settings the edge is not started with"),
        }
    }
}

fn router(backend: &Arc<dyn Backend>, config: Config) -> Target {
    Target::Local { router: app(AppState::new(Arc::clone(backend), auth(), config)), backend: Arc::clone(backend) }
}

impl Target {
    /// A token of the case's tenant (`acme` locally).
    pub fn token(&self) -> String {
        match self {
            Target::Local { .. } => TOKEN_A.to_owned(),
            Target::Remote { edge } => edge.token.clone(),
        }
    }

    /// The case's tenant.
    pub fn tenant(&self) -> String {
        match self {
            Target::Local { .. } => "acme".to_owned(),
            Target::Remote { edge } => edge.tenant.clone(),
        }
    }

    /// A static token of a second tenant where there is one (`globex` locally), else a JWT for it.
    pub fn other_token(&self) -> String {
        match self {
            Target::Local { .. } => TOKEN_B.to_owned(),
            Target::Remote { edge } => edge.other_token.clone(),
        }
    }

    /// A JWT for the second tenant.
    pub fn other_jwt(&self) -> String {
        match self {
            Target::Local { .. } => eventlite_server::auth::mint_jwt(JWT_SECRET, "globex", None),
            Target::Remote { edge } => edge.other_token.clone(),
        }
    }

    /// The server's HS256 secret.
    pub fn secret(&self) -> Vec<u8> {
        match self {
            Target::Local { .. } => JWT_SECRET.to_vec(),
            Target::Remote { edge } => edge.secret.clone(),
        }
    }

    /// The heads of the case's two tenants.
    pub async fn heads(&self) -> (u64, u64) {
        match self {
            Target::Local { backend, .. } => (
                backend.head(&eventlite_server::Tenant::new("acme").unwrap()).await.unwrap(),
                backend.head(&eventlite_server::Tenant::new("globex").unwrap()).await.unwrap(),
            ),
            Target::Remote { edge } => {
                let head = |events: Vec<eventlite::sync::ServerEvent>| events.last().map_or(0, |event| event.position);
                (
                    head(crate::support::server_log_at(&edge.url, &edge.token).await),
                    head(crate::support::server_log_at(&edge.url, &edge.other_token).await),
                )
            }
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Target::Local { .. })
    }

    /// The backend's name as `/health` gives it.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Target::Local { backend, .. } => backend.name(),
            Target::Remote { .. } => "durable-object",
        }
    }

    /// Sends `request` and returns the answer's status and headers, and its body unless `read_body` is false (a
    /// live stream's body never ends).
    pub async fn exchange(
        &self,
        request: Request<Body>,
        read_body: bool,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        match self {
            Target::Local { router, .. } => {
                let response = router.clone().oneshot(request).await.unwrap();
                let (parts, body) = response.into_parts();
                let body = if read_body { body.collect().await.unwrap().to_bytes().to_vec() } else { Vec::new() };
                (parts.status, parts.headers, body)
            }
            Target::Remote { edge } => {
                let (parts, body) = request.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let target = parts.uri.path_and_query().map_or("/", |target| target.as_str());
                let response = crate::support::http()
                    .request(parts.method, format!("{}{target}", edge.url))
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let (status, headers) = (response.status(), response.headers().clone());
                let body = if read_body { response.bytes().await.unwrap().to_vec() } else { Vec::new() };
                (status, headers, body)
            }
        }
    }

    /// Sends `request` with `body` in 64 KiB chunks and no `Content-Length` (chunked over HTTP), so the server learns
    /// the body's size only by reading it. Returns the answer's status, headers and body.
    pub async fn exchange_streamed(
        &self,
        request: axum::http::request::Builder,
        body: Vec<u8>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> =
            body.chunks(64 * 1024).map(|chunk| Ok(axum::body::Bytes::copy_from_slice(chunk))).collect();
        match self {
            Target::Local { .. } => {
                let request = request.body(Body::from_stream(futures_util::stream::iter(chunks))).unwrap();
                assert!(!request.headers().contains_key("content-length"));
                self.exchange(request, true).await
            }
            Target::Remote { edge } => {
                let (parts, ()) = request.body(()).unwrap().into_parts();
                let target = parts.uri.path_and_query().map_or("/", |target| target.as_str());
                let response = crate::support::http()
                    .request(parts.method, format!("{}{target}", edge.url))
                    .headers(parts.headers)
                    .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
                    .send()
                    .await
                    .unwrap();
                let (status, headers) = (response.status(), response.headers().clone());
                (status, headers, response.bytes().await.unwrap().to_vec())
            }
        }
    }

    /// The tenant's head: the last position its log holds.
    pub async fn head(&self) -> u64 {
        match self {
            Target::Local { backend, .. } => {
                backend.head(&eventlite_server::Tenant::new("acme").unwrap()).await.unwrap()
            }
            Target::Remote { edge } => {
                crate::support::server_log_at(&edge.url, &edge.token).await.last().map_or(0, |event| event.position)
            }
        }
    }
}

async fn send(target: &Target, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    target.exchange(request, true).await
}

async fn get(target: &Target, uri: &str) -> (StatusCode, Value) {
    let request =
        Request::get(uri).header("authorization", format!("Bearer {}", target.token())).body(Body::empty()).unwrap();
    let (status, _, body) = send(target, request).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn push_raw(target: &Target, content_type: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = Request::post("/v1/push").header("authorization", format!("Bearer {}", target.token()));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let (status, _, body) = send(target, request.body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn push(router: &Target, events: Vec<Value>) -> (StatusCode, Value) {
    push_raw(router, Some("application/json"), &json!({"replica_id": uuid::Uuid::from_u128(7), "events": events})).await
}

fn event(n: u128, stream: &str) -> Value {
    json!({"event_id": uuid::Uuid::from_u128(n), "stream": stream, "type": "T", "expected": "any", "data": {"n": 1}})
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str, case: &str) {
    assert_eq!(status, expected, "{case}: {body}");
    assert_eq!(body["code"], code, "{case}: {body}");
    assert!(body["message"].is_string(), "{case}: {body}");
}

pub async fn the_push_content_type_must_be_json_when_given(server: Server) {
    let router = server.target();
    let body = json!({"replica_id": uuid::Uuid::from_u128(7), "events": [event(1, "s-1")]});
    for refused in ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "json"] {
        let (status, response) = push_raw(&router, Some(refused), &body).await;
        assert_error(status, &response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", refused);
    }
    assert_eq!(router.head().await, 0, "a refused push stores nothing");
    for accepted in [None, Some("application/json"), Some("Application/JSON; charset=UTF-8")] {
        let (status, response) = push_raw(&router, accepted, &body).await;
        assert_eq!(status, StatusCode::OK, "{accepted:?}: {response}");
    }
    assert_eq!(router.head().await, 1);
}

pub async fn pull_queries_are_parsed_as_documented(server: Server) {
    let router = server.target();
    let events = (1..=3).map(|n| event(n, "s-1")).collect();
    assert_eq!(push(&router, events).await.0, StatusCode::OK);
    let (_, first) = get(&router, "/v1/pull?limit=1").await;
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    let encoded = cursor.replace('.', "%2E");
    let count = |body: &Value| body["events"].as_array().map_or(usize::MAX, Vec::len);
    for (uri, events) in [
        ("/v1/pull".to_owned(), 3),
        ("/v1/pull?after=".to_owned(), 3),
        ("/v1/pull?&&limit=2&".to_owned(), 2),
        ("/v1/pull?limit=%32".to_owned(), 2),
        (format!("/v1/pull?after={cursor}"), 2),
        (format!("/v1/pull?after={encoded}&limit=1"), 1),
        ("/v1/pull?access_token=ignored-here".to_owned(), 3),
    ] {
        let (status, body) = get(&router, &uri).await;
        assert_eq!((status, count(&body)), (StatusCode::OK, events), "{uri}: {body}");
    }
    for (uri, code) in [
        ("/v1/pull?after=0", "INVALID_CURSOR"),
        ("/v1/pull?after=1", "INVALID_CURSOR"),
        ("/v1/pull?limit=0", "INVALID_REQUEST"),
        ("/v1/pull?limit=1001", "INVALID_REQUEST"),
        ("/v1/pull?limit=+5", "INVALID_REQUEST"),
        ("/v1/pull?limit=5.0", "INVALID_REQUEST"),
        ("/v1/pull?limit=", "INVALID_REQUEST"),
        ("/v1/pull?limit=1&limit=2", "INVALID_REQUEST"),
        ("/v1/pull?after=&after=", "INVALID_REQUEST"),
        ("/v1/pull?Limit=1", "INVALID_REQUEST"),
        ("/v1/pull?limit=%zz", "INVALID_REQUEST"),
        ("/v1/pull?limit=%FF", "INVALID_REQUEST"),
    ] {
        let (status, body) = get(&router, uri).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, code, uri);
    }
    let (status, body) = get(&router, "/v1/live?since=1").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST", "unknown live parameter");
    // On /v1/live the header wins over ?access_token=; the query token is percent-decoded.
    let request = Request::get("/v1/live?access_token=wrong")
        .header("authorization", format!("Bearer {}", router.token()))
        .body(Body::empty())
        .unwrap();
    assert_eq!(router.exchange(request, false).await.0, StatusCode::OK, "the header's token is used");
    let encoded = router.token().replace('-', "%2D");
    let request = Request::get(format!("/v1/live?access_token={encoded}")).body(Body::empty()).unwrap();
    assert_eq!(router.exchange(request, false).await.0, StatusCode::OK);
}

pub async fn pushes_take_the_documented_shape(server: Server) {
    let router = server.target();
    for (case, body) in [
        ("no replica_id", json!({"events": []})),
        ("replica_id not a UUID", json!({"replica_id": "phone-1", "events": []})),
        ("replica_id a number", json!({"replica_id": 7, "events": []})),
        ("no events", json!({"replica_id": uuid::Uuid::nil()})),
    ] {
        let (status, response) = push_raw(&router, Some("application/json"), &body).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, "INVALID_REQUEST", case);
    }
    let (status, response) = push(&router, Vec::new()).await;
    assert_eq!((status, &response), (StatusCode::OK, &json!({"outcomes": []})), "an empty push");
    // {"exact": 0} holds for a stream that does not exist (like no_stream), and not once it does.
    let mut exact_zero = event(1, "new-1");
    exact_zero["expected"] = json!({"exact": 0});
    let (_, response) = push(&router, vec![exact_zero.clone()]).await;
    assert_eq!(response["outcomes"][0]["status"], "accepted", "{response}");
    exact_zero["event_id"] = json!(uuid::Uuid::from_u128(2));
    let (_, response) = push(&router, vec![exact_zero]).await;
    assert_eq!(response["outcomes"][0]["code"], "WRONG_EXPECTED_VERSION", "{response}");
    assert_eq!(response["outcomes"][0]["actual_version"], 1, "{response}");
    // Every spelling `uuid` parses is the same id; answers use the lowercase hyphenated form.
    let id = "0192f6c1-6000-7000-8000-00000000abcd";
    let spellings =
        [id.to_uppercase(), id.replace('-', ""), format!("{{{id}}}"), format!("urn:uuid:{id}"), id.to_owned()];
    for (index, spelling) in spellings.iter().enumerate() {
        let mut event = event(0, "ids-1");
        event["event_id"] = json!(spelling);
        let (status, response) = push(&router, vec![event]).await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {response}");
        assert_eq!(response["outcomes"][0]["event_id"], id, "{spelling}");
        assert_eq!(response["outcomes"][0]["duplicate"], index > 0, "{spelling}: {response}");
    }
    // With `data`, a content type may only be `application/json` exactly.
    for content_type in ["text/plain", "APPLICATION/JSON"] {
        let mut event = event(50, "s-1");
        event["content_type"] = json!(content_type);
        let (status, response) = push(&router, vec![event]).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", content_type);
    }
    for bad in ["0192f6c1-6000-7000-8000", "not-a-uuid", "0192f6c1_6000_7000_8000_00000000abcd"] {
        let mut event = event(0, "ids-1");
        event["event_id"] = json!(bad);
        let (status, response) = push(&router, vec![event]).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, "INVALID_REQUEST", bad);
    }
}

pub async fn pulled_events_have_the_documented_shape(server: Server) {
    let router = server.target();
    let id = |n: u128| uuid::Uuid::from_u128(n);
    let events = vec![
        json!({"event_id": id(1), "stream": "s-1", "type": "NoData", "expected": "any"}),
        json!({"event_id": id(2), "stream": "s-1", "type": "NullData", "expected": "any", "data": null, "metadata": null}),
        json!({"event_id": id(3), "stream": "s-1", "type": "Meta", "expected": "any", "data": [1], "metadata": {}}),
        json!({"event_id": id(4), "stream": "s-1", "type": "Bin", "expected": "any", "data_base64": "AAE=",
               "content_type": "image/png"}),
        json!({"event_id": id(5), "stream": "s-1", "type": "Json", "expected": "any", "data": {"a": 1},
               "content_type": "application/json"}),
    ];
    assert_eq!(push(&router, events).await.0, StatusCode::OK);
    let (_, page) = get(&router, "/v1/pull").await;
    let pulled = page["events"].as_array().unwrap();
    let keys = |event: &Value| {
        let mut keys: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys.join(",")
    };
    let json_keys = "data,event_id,position,recorded_at,stream,type,version";
    assert_eq!(keys(&pulled[0]), json_keys);
    assert_eq!(pulled[0]["data"], Value::Null, "absent data is the JSON value null");
    assert_eq!((keys(&pulled[1]), &pulled[1]["data"]), (json_keys.to_owned(), &Value::Null));
    assert_eq!(keys(&pulled[2]), "data,event_id,metadata,position,recorded_at,stream,type,version");
    assert_eq!(pulled[2]["metadata"], json!({}));
    assert_eq!(keys(&pulled[3]), "content_type,data_base64,event_id,position,recorded_at,stream,type,version");
    assert_eq!((&pulled[3]["data_base64"], &pulled[3]["content_type"]), (&json!("AAE="), &json!("image/png")));
    assert_eq!((keys(&pulled[4]), &pulled[4]["data"]), (json_keys.to_owned(), &json!({"a": 1})));
    assert_eq!(pulled[0]["event_id"], "00000000-0000-0000-0000-000000000001");
    assert!(pulled.iter().all(|event| event["recorded_at"].as_i64().is_some_and(|ms| ms > 1_600_000_000_000)));
}

pub async fn stream_ids_allow_what_the_protocol_says(server: Server) {
    let router = server.target();
    for (n, control) in ['\u{0}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}'].into_iter().enumerate() {
        let (status, body) = push(&router, vec![event(n as u128 + 1, &format!("a{control}b"))]).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", &format!("{control:?}"));
        let mut typed = event(n as u128 + 1, "s-1");
        typed["type"] = json!(format!("T{control}"));
        let (status, body) = push(&router, vec![typed]).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", &format!("type {control:?}"));
    }
    for reserved in ["$all", "$", "$x-1"] {
        let (status, body) = push(&router, vec![event(9, reserved)]).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", reserved);
    }
    let (status, body) = push(&router, vec![event(9, &"x".repeat(257))]).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "257 bytes");
    assert_eq!(router.head().await, 0);
    // Format characters (zero-width space, right-to-left override, byte-order mark) and look-alikes of `$` are
    // allowed, and come back byte for byte.
    let allowed = ["a\u{200b}b", "\u{202e}evil", "\u{feff}bom", "\u{ff04}all", "\u{fe69}all", "x$", &"é".repeat(128)];
    let events = allowed.iter().enumerate().map(|(n, stream)| event(n as u128 + 100, stream)).collect();
    let (status, body) = push(&router, events).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = get(&router, "/v1/pull").await;
    let streams: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["stream"].as_str().unwrap()).collect();
    assert_eq!(streams, allowed);
    // No Unicode normalisation: NFC and NFD spellings of "café" are two streams.
    let (_, body) = push(&router, vec![event(200, "caf\u{e9}"), event(201, "cafe\u{301}")]).await;
    let versions: Vec<&Value> = body["outcomes"].as_array().unwrap().iter().map(|o| &o["version"]).collect();
    assert_eq!(versions, [&json!(1), &json!(1)], "{body}");
}

pub async fn event_size_counts_type_data_metadata_and_content_type_bytes(server: Server) {
    let backend = server.backend();
    let config = Config { limits: Limits { max_batch: 10, max_event_size: 20 }, ..Config::default() };
    let router = router(&backend, config);
    let with = |n: u128, data: Value, metadata: Option<Value>| {
        let mut event = json!({"event_id": uuid::Uuid::from_u128(n), "stream": "s-1", "type": "T", "expected": "any",
                               "data": data});
        if let Some(metadata) = metadata {
            event["metadata"] = metadata;
        }
        event
    };
    // Type "T" (1) + data text as sent: `"` + 18 characters + `"` = 21 bytes.
    let (status, body) = push(&router, vec![with(1, json!("x".repeat(18)), None)]).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE", "21 bytes");
    // 1 + 19: exactly the limit.
    let (status, body) = push(&router, vec![with(1, json!("x".repeat(17)), None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Metadata counts: 1 + `[1]` (3) + `{"a":"xxxxxxxx"}` (16) = 20, then 21.
    let (status, body) = push(&router, vec![with(2, json!([1]), Some(json!({"a": "x".repeat(8)})))]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = push(&router, vec![with(3, json!([1]), Some(json!({"a": "x".repeat(9)})))]).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE", "metadata counts");
    // Binary: decoded bytes, not base64 text, plus the content type: 1 + "a/b" (3) + 16 bytes = 20.
    let binary = |n: u128, bytes: usize| {
        json!({"event_id": uuid::Uuid::from_u128(n), "stream": "s-1", "type": "T", "expected": "any",
               "data_base64": eventlite_base64(&vec![7u8; bytes]), "content_type": "a/b"})
    };
    let (status, body) = push(&router, vec![binary(4, 16)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = push(&router, vec![binary(5, 17)]).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE", "binary");
    assert_eq!(router.head().await, 3);
}

/// What counts in an event's size, at the default limit (1 MiB), on every server: type, data text, metadata text,
/// and for binary data the decoded bytes and the content type.
pub async fn event_size_counts_at_the_default_limit(server: Server) {
    let router = server.target();
    let limit = Limits::default().max_event_size;
    let with = |n: u128, data: Value, metadata: Option<Value>| {
        let mut event = json!({"event_id": uuid::Uuid::from_u128(n), "stream": "s-1", "type": "T", "expected": "any",
                               "data": data});
        if let Some(metadata) = metadata {
            event["metadata"] = metadata;
        }
        event
    };
    // Type "T" (1) + data text as sent: `"` + characters + `"`.
    let (status, body) = push(&router, vec![with(1, json!("x".repeat(limit - 2)), None)]).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE", "one byte over");
    let (status, body) = push(&router, vec![with(1, json!("x".repeat(limit - 3)), None)]).await;
    assert_eq!(status, StatusCode::OK, "exactly the limit: {body}");
    // Metadata counts: 1 + `[1]` (3) + `{"a":"` and `"}` (8) + characters.
    let (status, body) = push(&router, vec![with(2, json!([1]), Some(json!({"a": "x".repeat(limit - 12)})))]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = push(&router, vec![with(3, json!([1]), Some(json!({"a": "x".repeat(limit - 11)})))]).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE", "metadata counts");
    // Binary: decoded bytes, not base64 text, plus the content type: 1 + "a/b" (3) + bytes.
    let binary = |n: u128, bytes: usize| {
        json!({"event_id": uuid::Uuid::from_u128(n), "stream": "s-1", "type": "T", "expected": "any",
               "data_base64": eventlite_base64(&vec![7u8; bytes]), "content_type": "a/b"})
    };
    let (status, body) = push(&router, vec![binary(4, limit - 4)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = push(&router, vec![binary(5, limit - 3)]).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "EVENT_TOO_LARGE", "binary");
    assert_eq!(router.head().await, 3);
}

/// A pull page stops at the byte budget (default 4 MiB of event sizes), not only at `limit`: five events of about
/// 1 MB come as a page of four, `more`, then a page of one.
pub async fn a_pull_page_is_bounded_by_bytes(server: Server) {
    let router = server.target();
    let events: Vec<Value> = (1..=5)
        .map(|n| {
            json!({"event_id": uuid::Uuid::from_u128(n), "stream": "s-1", "type": "T", "expected": "any",
                   "data": "x".repeat(1_000_000)})
        })
        .collect();
    let (status, body) = push(&router, events).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, first) = get(&router, "/v1/pull").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let positions = |page: &Value| -> Vec<u64> {
        page["events"].as_array().unwrap().iter().map(|event| event["position"].as_u64().unwrap()).collect()
    };
    assert_eq!((positions(&first), &first["more"]), (vec![1, 2, 3, 4], &json!(true)));
    let cursor = first["cursor"].as_str().unwrap();
    let (status, second) = get(&router, &format!("/v1/pull?after={cursor}")).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!((positions(&second), &second["more"]), (vec![5], &json!(false)));
}

fn eventlite_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

pub async fn non_200_answers_carry_the_json_error_and_are_counted(server: Server) {
    let router = server.target();
    let long_segment = format!("/{}", "a".repeat(300));
    let mut many_headers = Request::get("/health");
    for n in 0..150 {
        many_headers = many_headers.header(format!("x-h{n}"), "v");
    }
    let cases = [
        (Request::get("/nope").body(Body::empty()).unwrap(), StatusCode::NOT_FOUND, "NOT_FOUND"),
        (Request::get(long_segment.as_str()).body(Body::empty()).unwrap(), StatusCode::NOT_FOUND, "NOT_FOUND"),
        (Request::get("/v1/nope").body(Body::empty()).unwrap(), StatusCode::NOT_FOUND, "NOT_FOUND"),
        (
            Request::delete("/v1/pull").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Request::get(format!("/v1/pull?after={}", "1".repeat(9_000))).body(Body::empty()).unwrap(),
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
        ),
        (many_headers.body(Body::empty()).unwrap(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "HEADERS_TOO_LARGE"),
        (
            Request::get("/health").header("x-big", "v".repeat(70_000)).body(Body::empty()).unwrap(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HEADERS_TOO_LARGE",
        ),
    ];
    for (request, status, code) in cases {
        let case = format!("{} {:.60}", request.method(), request.uri());
        let (got, headers, body) = send(&router, request).await;
        assert_eq!(headers["content-type"], "application/json", "{case}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_error(got, &body, status, code, &case);
    }
    if !router.is_local() {
        // The edge keeps no process-wide counters (each tenant is its own Durable Object): no /metrics there.
        return;
    }
    let (_, _, metrics) = send(&router, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let metrics = String::from_utf8(metrics).unwrap();
    let name = router.backend_name();
    for (code, count) in [("NOT_FOUND", 3), ("METHOD_NOT_ALLOWED", 1), ("URI_TOO_LONG", 1), ("HEADERS_TOO_LARGE", 2)] {
        let line = format!("eventlite_errors_total{{backend=\"{name}\",code=\"{code}\"}} {count}");
        assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
    }
}

pub async fn a_star_origin_allows_every_origin(server: Server) {
    let backend = server.backend();
    let router = router(&backend, Config { allowed_origins: vec!["*".into()], ..Config::default() });
    for origin in ["http://localhost:5173", "https://app.example"] {
        let preflight = Request::builder()
            .method("OPTIONS")
            .uri("/v1/push")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = send(&router, preflight).await;
        assert!(status.is_success(), "{status}");
        assert_eq!(headers["access-control-allow-origin"], "*", "{origin}");
        let request = Request::get("/health").header("origin", origin).body(Body::empty()).unwrap();
        let (_, headers, _) = send(&router, request).await;
        assert_eq!(headers["access-control-allow-origin"], "*", "{origin}");
    }
    // Without --allow-origin there is no CORS header at all.
    let plain = self::router(&backend, Config::default());
    let request = Request::get("/health").header("origin", "https://app.example").body(Body::empty()).unwrap();
    let (_, headers, _) = send(&plain, request).await;
    assert!(!headers.contains_key("access-control-allow-origin"));
}

pub async fn health_names_the_backend(server: Server) {
    let router = server.target();
    let (status, _, body) = send(&router, Request::get("/health").body(Body::empty()).unwrap()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok", "backend": router.backend_name()})));
}

/// Items 4 and 6: only files under the static directory's canonical path are served (a symlink inside pointing out
/// is a 404, one pointing inside is followed); `/v1/...` is never a file; every miss is a JSON 404, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_directory_serves_only_files_under_its_canonical_path() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("sub")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(site.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(site.join("sub/index.html"), "<h1>sub</h1>").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), site.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink("/etc", site.join("etc")).unwrap();
    std::os::unix::fs::symlink(site.join("app.js"), site.join("alias.js")).unwrap();
    // The directory itself given through a symlink: its canonical path is the root.
    std::os::unix::fs::symlink(&site, dir.path().join("site-link")).unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::in_memory());
    let config = Config { static_dir: Some(dir.path().join("site-link")), ..Config::default() };
    let router = router(&backend, config);
    let fetch = |uri: &str| send(&router, Request::get(uri).body(Body::empty()).unwrap());
    for (uri, content) in [("/", "<h1>home</h1>"), ("/app.js", "console.log(1)"), ("/alias.js", "console.log(1)")] {
        let (status, _, body) = fetch(uri).await;
        assert_eq!((status, String::from_utf8(body).unwrap().as_str()), (StatusCode::OK, content), "{uri}");
    }
    let (status, headers, _) = fetch("/sub").await;
    assert_eq!((status, &headers["location"]), (StatusCode::TEMPORARY_REDIRECT, &"/sub/".parse().unwrap()));
    // `//sub` must not redirect to `//sub/`, which a browser reads as the host `sub`.
    let (status, headers, _) = fetch("//sub").await;
    assert_eq!((status, &headers["location"]), (StatusCode::TEMPORARY_REDIRECT, &"/sub/".parse().unwrap()));
    assert_eq!(fetch("/sub/").await.2, b"<h1>sub</h1>");
    let long = format!("/{}", "a".repeat(300));
    for uri in [
        "/leak.txt",
        "/etc/passwd",
        "/etc/",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/sub/%2E%2E/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/missing.js",
        "/v1/nope",
        "/v1",
        "/bad%zzescape",
        "/%ff",
        long.as_str(),
    ] {
        let (status, headers, body) = fetch(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri:.60}");
        assert_eq!(headers["content-type"], "application/json", "{uri:.60}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "NOT_FOUND", "{uri:.60}");
    }
    let range = Request::get("/app.js").header("range", "bytes=1000-2000").body(Body::empty()).unwrap();
    let (status, headers, body) = send(&router, range).await;
    assert_eq!(
        (status, &headers["content-type"]),
        (StatusCode::RANGE_NOT_SATISFIABLE, &"application/json".parse().unwrap())
    );
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["code"], "RANGE_NOT_SATISFIABLE");
    let (status, _, body) = send(&router, Request::post("/").body(Body::empty()).unwrap()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED")));
}

/// Item 6 through the real HTTP stack: request heads over the limits get a JSON 414 or 431 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_get_a_json_answer_from_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(sqlite_backend(dir.path())).await;
    let many: String = (0..150).map(|n| format!("x-h{n}: v\r\n")).collect();
    for (head, status, code) in [
        (format!("GET /v1/pull?after={} HTTP/1.1\r\nHost: x\r\n\r\n", "1".repeat(20_000)), 414, "URI_TOO_LONG"),
        (format!("GET /health HTTP/1.1\r\nHost: x\r\n{many}\r\n"), 431, "HEADERS_TOO_LARGE"),
        (
            format!("GET /health HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n", "v".repeat(100_000)),
            431,
            "HEADERS_TOO_LARGE",
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0; 4096];
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer[..read.unwrap().unwrap()]).into_owned();
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{answer}");
        let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["code"], code, "{answer}");
    }
    server.stop().await;
}

every_server!(
    everywhere: [
        the_push_content_type_must_be_json_when_given,
        pull_queries_are_parsed_as_documented,
        pushes_take_the_documented_shape,
        pulled_events_have_the_documented_shape,
        stream_ids_allow_what_the_protocol_says,
        non_200_answers_carry_the_json_error_and_are_counted,
        health_names_the_backend,
        event_size_counts_at_the_default_limit,
        a_pull_page_is_bounded_by_bytes,
    ],
    // These set the server's limits (`--max-batch`, `--max-event-bytes`) or origins (`--allow-origin`) for the
    // case; the edge runs with the settings it was started with, so they run against the axum server only.
    axum_only: [event_size_counts_type_data_metadata_and_content_type_bytes, a_star_origin_allows_every_origin],
);
