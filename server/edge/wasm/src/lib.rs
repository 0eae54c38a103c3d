//! The sync server's rules for the Cloudflare Durable Object backend (`server/edge/`), compiled to wasm.
//!
//! The Durable Object keeps a tenant's log in its SQLite storage (`ctx.storage.sql`), which only JavaScript can
//! reach. So this crate decides and the Durable Object does the storage I/O, as the PostgreSQL backend does with
//! its own queries: [`Edge::push`] validates the push with core's `validate_push`, checks its cursor, and judges
//! each event with core's `PushRules`, reading stored events and stream versions through the [`Storage`] the
//! Durable Object hands it and telling it which rows to insert; [`Edge::pull`] pages the log with core's
//! `PageBudget`. Tokens, cursors, query strings, `Content-Type` and every refusal's status and code are
//! `eventlite_protocol`'s, the same code the axum server runs. No SQLite is compiled in (core without its `sqlite`
//! feature).
//!
//! Atomicity is the caller's: it runs [`Edge::push`] inside one `ctx.storage.transactionSync` and rolls it back
//! (throws) unless the answer is a 200, so a refused push stores nothing and a push is acknowledged only after
//! its transaction committed.
//!
//! ```
//! use eventlite_edge_wasm::Edge;
//!
//! let edge = Edge::new(Some("t-acme:acme".into()), None, None, None, None, None, None, None).unwrap();
//! let answer = edge.authenticate(Some("Bearer t-acme".into()), 1_800_000_000.0);
//! assert_eq!((answer.status(), answer.tenant().as_deref()), (200, Some("acme")));
//! assert_eq!(edge.authenticate(None, 1_800_000_000.0).status(), 401);
//! ```

use eventlite::sync::server::{
    Limits, PageBudget, PullPage, PushRules, StoredEvent as StoredParts, StoredMatch, Verdict, recorded_size,
    same_event, validate_push,
};
use eventlite::sync::{PushOutcome, PushResponse, ServerEvent};
use eventlite::{EventData, RecordedEvent};
use eventlite_protocol::cursor::{self, EventMark};
use eventlite_protocol::request::{check_head, check_push_head, parse_live_query, parse_pull_query, parse_push_body};
use eventlite_protocol::{Auth, ProtocolError, Tenant};
use uuid::Uuid;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A tenant's log in the Durable Object's SQLite storage (`server/edge/src/storage.ts`). Every method runs
    /// synchronously, inside the transaction of the request being answered.
    pub type Storage;

    /// The identity of the tenant's log, created with it (on first use).
    #[wasm_bindgen(method, catch, js_name = logId)]
    fn log_id(this: &Storage) -> Result<String, JsValue>;

    /// The highest position stored (0 when empty).
    #[wasm_bindgen(method, catch)]
    fn head(this: &Storage) -> Result<f64, JsValue>;

    /// The event at `position`, if there is one.
    #[wasm_bindgen(method, catch, js_name = eventAt)]
    fn event_at(this: &Storage, position: f64) -> Result<Option<StoredEvent>, JsValue>;

    /// The event stored under `event_id` (lowercase hyphenated), if there is one.
    #[wasm_bindgen(method, catch, js_name = eventById)]
    fn event_by_id(this: &Storage, event_id: &str) -> Result<Option<StoredEvent>, JsValue>;

    /// The stream's version (0 when it has no event).
    #[wasm_bindgen(method, catch, js_name = streamVersion)]
    fn stream_version(this: &Storage, stream: &str) -> Result<f64, JsValue>;

    /// Inserts one event (JSON data as its UTF-8 text, `content_type` absent; binary data with its content type).
    #[wasm_bindgen(method, catch)]
    fn insert(
        this: &Storage,
        position: f64,
        event_id: &str,
        stream: &str,
        version: f64,
        event_type: &str,
        content_type: Option<String>,
        data: &[u8],
        metadata: Option<String>,
        recorded_at: f64,
    ) -> Result<(), JsValue>;

    /// Starts reading events after `after` in position order, at most `limit`; [`next_event`] returns them.
    #[wasm_bindgen(method, catch, js_name = openPage)]
    fn open_page(this: &Storage, after: f64, limit: f64) -> Result<(), JsValue>;

    /// The page's next event, or nothing when it is exhausted.
    #[wasm_bindgen(method, catch, js_name = nextEvent)]
    fn next_event(this: &Storage) -> Result<Option<StoredEvent>, JsValue>;

    /// A stored event, as `Storage` reads it.
    pub type StoredEvent;

    #[wasm_bindgen(method, getter)]
    fn position(this: &StoredEvent) -> f64;
    #[wasm_bindgen(method, getter)]
    fn event_id(this: &StoredEvent) -> String;
    #[wasm_bindgen(method, getter)]
    fn stream(this: &StoredEvent) -> String;
    #[wasm_bindgen(method, getter)]
    fn version(this: &StoredEvent) -> f64;
    #[wasm_bindgen(method, getter)]
    fn event_type(this: &StoredEvent) -> String;
    #[wasm_bindgen(method, getter)]
    fn content_type(this: &StoredEvent) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn data(this: &StoredEvent) -> Vec<u8>;
    #[wasm_bindgen(method, getter)]
    fn metadata(this: &StoredEvent) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn recorded_at(this: &StoredEvent) -> f64;
}

/// An answer: a status and a JSON body (the error body `{code, message}` unless the status is 200), and what the
/// caller needs besides: the tenant a token names, when it expires, a push's head.
#[wasm_bindgen]
#[derive(Debug, Clone)]
pub struct Answer {
    status: u16,
    body: String,
    tenant: Option<String>,
    expires: Option<f64>,
    head: Option<f64>,
    detail: Option<String>,
}

#[wasm_bindgen]
impl Answer {
    /// The HTTP status.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The JSON body.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> String {
        self.body.clone()
    }

    /// The stable error code of a refusal (`None` for a 200).
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> Option<String> {
        (self.status != 200)
            .then(|| serde_json::from_str::<serde_json::Value>(&self.body).ok()?["code"].as_str().map(str::to_owned))
            .flatten()
    }

    /// [`Edge::authenticate`]: the tenant the token names.
    #[wasm_bindgen(getter)]
    pub fn tenant(&self) -> Option<String> {
        self.tenant.clone()
    }

    /// [`Edge::authenticate`]: when the token expires (a JWT's `exp`, seconds since the Unix epoch).
    #[wasm_bindgen(getter)]
    pub fn expires(&self) -> Option<f64> {
        self.expires
    }

    /// [`Edge::push`]: the tenant's head after the push.
    #[wasm_bindgen(getter)]
    pub fn head(&self) -> Option<f64> {
        self.head
    }

    /// A 5xx's detail, for the log only: the body carries a generic message (no exception text, no tenant).
    #[wasm_bindgen(getter)]
    pub fn detail(&self) -> Option<String> {
        self.detail.clone()
    }
}

impl Answer {
    fn ok(body: String) -> Answer {
        Answer { status: 200, body, tenant: None, expires: None, head: None, detail: None }
    }
}

/// A 5xx answers with the generic message of its class; its message becomes the [`Answer::detail`] to log.
impl From<ProtocolError> for Answer {
    fn from(error: ProtocolError) -> Self {
        let (body, detail) = if error.status >= 500 {
            let generic = match error.code {
                "STORAGE_FULL" => "the storage is full",
                _ => "internal error",
            };
            (ProtocolError::new(error.status, error.code, generic).body(), Some(error.message))
        } else {
            (error.body(), None)
        };
        Answer { status: error.status, body, tenant: None, expires: None, head: None, detail }
    }
}

/// The answer to an exception the Worker or the Durable Object caught (`message`: its text, logged, not sent):
/// `507 STORAGE_FULL` when SQLite says the storage is full, else `500 INTERNAL`.
#[wasm_bindgen(js_name = failureAnswer)]
pub fn failure_answer(message: &str) -> Answer {
    let class = ProtocolError::storage_failure(message);
    ProtocolError::new(class.status, class.code, message).into()
}

/// A failure of the Durable Object's storage (an exception thrown by a [`Storage`] method): `507 STORAGE_FULL`
/// when SQLite says the database is full (the Durable Object's storage limit), else `500 INTERNAL`.
fn storage_error(error: JsValue) -> ProtocolError {
    let message = js_sys_message(&error);
    let class = ProtocolError::storage_failure(&message);
    ProtocolError::new(class.status, class.code, format!("storage: {message}"))
}

fn js_sys_message(error: &JsValue) -> String {
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// Positions and versions cross to JavaScript as numbers: exact up to 2^53.
fn to_u64(value: f64) -> u64 {
    if value.is_finite() && value >= 0.0 { value as u64 } else { 0 }
}

fn stored_data(event: &StoredEvent) -> Result<EventData, ProtocolError> {
    let bytes = event.data();
    Ok(match event.content_type() {
        None => EventData::Json(
            String::from_utf8(bytes).map_err(|_| ProtocolError::internal("stored JSON data is not UTF-8"))?,
        ),
        Some(content_type) => EventData::Binary { content_type, bytes },
    })
}

fn recorded(event: &StoredEvent) -> Result<RecordedEvent, ProtocolError> {
    Ok(RecordedEvent {
        position: to_u64(event.position()),
        event_id: Uuid::parse_str(&event.event_id())
            .map_err(|_| ProtocolError::internal("a stored event id is not a UUID"))?,
        stream: event.stream(),
        version: to_u64(event.version()),
        event_type: event.event_type(),
        data: stored_data(event)?,
        metadata: event.metadata(),
        recorded_at: event.recorded_at() as i64,
    })
}

fn mark(event: &StoredEvent) -> Result<EventMark, ProtocolError> {
    let event = recorded(event)?;
    Ok(EventMark { event_id: event.event_id, recorded_at: event.recorded_at })
}

fn log_id(storage: &Storage) -> Result<Uuid, ProtocolError> {
    let text = storage.log_id().map_err(storage_error)?;
    Uuid::parse_str(&text).map_err(|_| ProtocolError::internal("the stored log id is not a UUID"))
}

/// The server's settings and credentials, made once per Worker isolate from its environment.
#[wasm_bindgen]
pub struct Edge {
    auth: Auth,
    limits: Limits,
    max_body_bytes: usize,
    max_pull: usize,
    max_pull_bytes: usize,
    max_live_per_tenant: usize,
    keep_alive_ms: usize,
}

#[wasm_bindgen]
impl Edge {
    /// `tokens`: `EVENTLITE_TOKENS` (`token:tenant,...`); `jwt_secret`: `EVENTLITE_JWT_SECRET` (at least 32
    /// bytes); the limits, each defaulting to the axum server's (`docs/sync-protocol.md` §7) and given as the
    /// environment's text. Refuses what `eventlite serve` refuses: no credential, a token for two tenants, a short
    /// secret, a limit that is not a whole number from 1 to 4294967295. An empty limit is the default.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments, reason = "one parameter per setting of the Worker's environment")]
    pub fn new(
        tokens: Option<String>,
        jwt_secret: Option<String>,
        max_body_bytes: Option<String>,
        max_batch: Option<String>,
        max_event_bytes: Option<String>,
        max_pull_bytes: Option<String>,
        max_live_per_tenant: Option<String>,
        live_keep_alive_ms: Option<String>,
    ) -> Result<Edge, String> {
        let pairs = Auth::parse_env(tokens.as_deref().unwrap_or_default())?;
        let mut auth = Auth::from_tokens(pairs).map_err(|error| format!("static tokens: {error}"))?;
        if let Some(secret) = jwt_secret.filter(|secret| !secret.is_empty()) {
            auth =
                auth.with_jwt_secret(secret.into_bytes()).map_err(|error| format!("EVENTLITE_JWT_SECRET: {error}"))?;
        }
        if auth.is_empty() {
            return Err("no credentials: set EVENTLITE_TOKENS or EVENTLITE_JWT_SECRET".into());
        }
        let defaults = Limits::default();
        let setting = |value: Option<String>, default: usize, name: &str| match value.as_deref() {
            None | Some("") => Ok(default),
            Some(text) => match text.parse::<u32>() {
                Ok(0) => Err(format!("{name} must be greater than 0")),
                Ok(value) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(value as usize),
                _ => Err(format!("{name} must be a whole number from 1 to 4294967295, not {text:?}")),
            },
        };
        Ok(Edge {
            auth,
            limits: Limits {
                max_batch: setting(max_batch, defaults.max_batch, "EVENTLITE_MAX_BATCH")?,
                max_event_size: setting(max_event_bytes, defaults.max_event_size, "EVENTLITE_MAX_EVENT_BYTES")?,
            },
            max_body_bytes: setting(max_body_bytes, 16 * 1024 * 1024, "EVENTLITE_MAX_BODY_BYTES")?,
            max_pull: 1_000,
            max_pull_bytes: setting(max_pull_bytes, 4 * 1024 * 1024, "EVENTLITE_MAX_PULL_BYTES")?,
            max_live_per_tenant: setting(max_live_per_tenant, 100, "EVENTLITE_MAX_LIVE_PER_TENANT")?,
            keep_alive_ms: setting(live_keep_alive_ms, 15_000, "EVENTLITE_LIVE_KEEP_ALIVE_MS")?,
        })
    }

    /// The most live streams a tenant may have open (`429 TOO_MANY_LIVE_STREAMS` beyond).
    #[wasm_bindgen(getter, js_name = maxLivePerTenant)]
    pub fn max_live_per_tenant(&self) -> usize {
        self.max_live_per_tenant
    }

    /// Milliseconds between a live stream's keep-alive comments.
    #[wasm_bindgen(getter, js_name = keepAliveMs)]
    pub fn keep_alive_ms(&self) -> usize {
        self.keep_alive_ms
    }

    /// The refusal of a live stream beyond [`Edge::max_live_per_tenant`].
    #[wasm_bindgen(js_name = tooManyLiveStreams)]
    pub fn too_many_live_streams(&self) -> Answer {
        ProtocolError::too_many_live_streams(self.max_live_per_tenant).into()
    }

    /// The live stream's frame announcing the tenant's head `position`.
    #[wasm_bindgen(js_name = headFrame)]
    pub fn head_frame(&self, position: f64) -> String {
        eventlite_protocol::live::head_frame(to_u64(position))
    }

    /// The live stream's keep-alive comment.
    #[wasm_bindgen(getter, js_name = keepAliveFrame)]
    pub fn keep_alive_frame(&self) -> String {
        eventlite_protocol::live::KEEP_ALIVE_FRAME.to_owned()
    }

    /// A push's checks on its head, before its body is read (`check_push_head`: the query, the `Content-Type`, the
    /// declared length, in that order). `declared_length`: the `Content-Length`, if the request has one.
    #[wasm_bindgen(js_name = checkPushHead)]
    pub fn check_push_head(
        &self,
        tenant: &str,
        query: Option<String>,
        content_type: Option<Vec<u8>>,
        declared_length: Option<f64>,
    ) -> Answer {
        let checked = Tenant::new(tenant).map_err(ProtocolError::internal).and_then(|tenant| {
            check_push_head(
                &tenant,
                query.as_deref(),
                content_type.as_deref(),
                declared_length.map(to_u64),
                self.max_body_bytes,
            )
        });
        match checked {
            Ok(_) => Answer::ok(String::new()),
            Err(error) => error.into(),
        }
    }

    /// The refusal of a push body found longer than [`Edge::max_body_bytes`] while it is read.
    #[wasm_bindgen(js_name = bodyTooLarge)]
    pub fn body_too_large(&self) -> Answer {
        ProtocolError::request_too_large(self.max_body_bytes).into()
    }

    /// The largest push body answered (`413 REQUEST_TOO_LARGE` beyond).
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// A request head's limits: the target's bytes, the header fields' count and bytes.
    #[wasm_bindgen(js_name = checkHead)]
    pub fn check_head(&self, target_bytes: usize, header_fields: usize, header_bytes: usize) -> Answer {
        match check_head(target_bytes, header_fields, header_bytes) {
            Ok(()) => Answer::ok(String::new()),
            Err(error) => error.into(),
        }
    }

    /// The tenant an `Authorization` header's value names, at `now` (seconds since the Unix epoch).
    pub fn authenticate(&self, authorization: Option<String>, now: f64) -> Answer {
        match self.auth.authenticate_bearer_at(authorization.as_deref(), to_u64(now)) {
            Ok((tenant, expires)) => Answer {
                tenant: Some(tenant.as_str().to_owned()),
                expires: expires.map(|exp| exp as f64),
                ..Answer::ok(String::new())
            },
            Err(error) => error.into(),
        }
    }

    /// A live stream's credentials: its query is read first (only `access_token`), then the `Authorization`
    /// header, or else the query's token, names the tenant.
    #[wasm_bindgen(js_name = authenticateLive)]
    pub fn authenticate_live(&self, authorization: Option<String>, query: Option<String>, now: f64) -> Answer {
        let token = match parse_live_query(query.as_deref()) {
            Ok(token) => token,
            Err(error) => return error.into(),
        };
        let header = authorization.or_else(|| token.map(|token| format!("Bearer {token}")));
        self.authenticate(header, now)
    }

    /// Applies a push of `tenant` to `storage`: the whole push is validated, its `after` cursor checked, then each
    /// event judged by core's rules and, if accepted, inserted. Run inside one storage transaction, committed only
    /// when the answer is a 200.
    pub fn push(
        &self,
        tenant: &str,
        query: Option<String>,
        content_type: Option<Vec<u8>>,
        body: &[u8],
        storage: &Storage,
        now_ms: f64,
    ) -> Answer {
        match self.try_push(tenant, query.as_deref(), content_type.as_deref(), body, storage, now_ms as i64) {
            Ok(answer) => answer,
            Err(error) => error.into(),
        }
    }

    /// One page of `tenant`'s log after the query's cursor.
    pub fn pull(&self, tenant: &str, query: Option<String>, storage: &Storage) -> Answer {
        match self.try_pull(tenant, query.as_deref(), storage) {
            Ok(answer) => answer,
            Err(error) => error.into(),
        }
    }
}

impl Edge {
    fn try_push(
        &self,
        tenant: &str,
        query: Option<&str>,
        content_type: Option<&[u8]>,
        body: &[u8],
        storage: &Storage,
        now_ms: i64,
    ) -> Result<Answer, ProtocolError> {
        let tenant = Tenant::new(tenant).map_err(ProtocolError::internal)?;
        let after = check_push_head(&tenant, query, content_type, Some(body.len() as u64), self.max_body_bytes)?;
        let request = parse_push_body(body)?;
        let events = validate_push(&request, &self.limits)?;
        let log_id = log_id(storage)?;
        if let Some(after) = after {
            let at = storage.event_at(after.position() as f64).map_err(storage_error)?;
            after.verify(tenant.as_str(), log_id, at.as_ref().map(mark).transpose()?)?;
        }
        let head = to_u64(storage.head().map_err(storage_error)?);
        let mut next = head;
        let mut rules = PushRules::default();
        let mut outcomes = Vec::with_capacity(events.len());
        for (wire, event) in request.events.iter().zip(&events) {
            let stream = wire.stream.as_str();
            let event_id = wire.event_id.to_string();
            let existing = match storage.event_by_id(&event_id).map_err(storage_error)? {
                Some(stored) => Some(StoredMatch {
                    position: to_u64(stored.position()),
                    version: to_u64(stored.version()),
                    same_event: same_event(
                        StoredParts {
                            stream: &stored.stream(),
                            event_type: &stored.event_type(),
                            data: &stored_data(&stored)?,
                            metadata: stored.metadata().as_deref(),
                        },
                        stream,
                        event,
                    ),
                }),
                None => None,
            };
            let stored_version = |stream: &str| storage.stream_version(stream).map(to_u64).map_err(storage_error);
            let version = match rules.judge(wire, existing, stored_version)? {
                Verdict::Answer(outcome) => {
                    outcomes.push(outcome);
                    continue;
                }
                Verdict::Append { version } => version,
            };
            next += 1;
            let (content_type, data) = match &event.data {
                EventData::Json(text) => (None, text.as_bytes()),
                EventData::Binary { content_type, bytes } => (Some(content_type.clone()), bytes.as_slice()),
            };
            storage
                .insert(
                    next as f64,
                    &event_id,
                    stream,
                    version as f64,
                    &event.event_type,
                    content_type,
                    data,
                    event.metadata.clone(),
                    now_ms as f64,
                )
                .map_err(storage_error)?;
            rules.appended(stream, version);
            outcomes.push(PushOutcome::Accepted { event_id: wire.event_id, position: next, version, duplicate: false });
        }
        let body = serde_json::to_string(&PushResponse { outcomes })
            .map_err(|error| ProtocolError::internal(format!("encoding the answer: {error}")))?;
        Ok(Answer { head: Some(next as f64), ..Answer::ok(body) })
    }

    fn try_pull(&self, tenant: &str, query: Option<&str>, storage: &Storage) -> Result<Answer, ProtocolError> {
        let tenant = Tenant::new(tenant).map_err(ProtocolError::internal)?;
        let query = parse_pull_query(&tenant, query, self.max_pull)?;
        let log_id = log_id(storage)?;
        let after = query.position();
        if let Some((_, cursor)) = &query.after {
            // A cursor beyond the head has no event at its position: the data was reset, so this is `LOG_RESET`.
            let at = storage.event_at(after as f64).map_err(storage_error)?;
            cursor.verify(tenant.as_str(), log_id, at.as_ref().map(mark).transpose()?)?;
        }
        let head = to_u64(storage.head().map_err(storage_error)?);
        storage.open_page(after as f64, query.limit.max(1) as f64).map_err(storage_error)?;
        let mut budget = PageBudget::new(self.max_pull_bytes);
        let mut events: Vec<ServerEvent> = Vec::new();
        while let Some(stored) = storage.next_event().map_err(storage_error)? {
            let event = recorded(&stored)?;
            if !budget.admit(recorded_size(&event)) {
                break;
            }
            events.push(ServerEvent::from_recorded(&event));
        }
        let last = events
            .last()
            .map(|last| (last.position, EventMark { event_id: last.event_id, recorded_at: last.recorded_at }));
        let cursor = cursor::page_cursor(tenant.as_str(), log_id, last, query.after.map(|(sent, _)| sent));
        let through = events.last().map_or(after, |event| event.position);
        let response = PullPage { events, through, head }.into_response(|_| cursor.clone());
        let body = serde_json::to_string(&response)
            .map_err(|error| ProtocolError::internal(format!("encoding the answer: {error}")))?;
        Ok(Answer::ok(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-test-secret-of-at-least-32-bytes";

    #[test]
    fn settings_eventlite_serve_refuses_are_refused() {
        let refused = [
            (None, None, None, None),
            (Some("t:acme,t:globex"), None, None, None),
            (Some("t:../etc"), None, None, None),
            (None, Some("short"), None, None),
            (Some("t:acme"), None, Some("0"), None),
            (Some("t:acme"), None, Some("+5"), None),
            (Some("t:acme"), None, Some("4294967296"), None),
            (Some("t:acme"), None, None, Some("0")),
            (Some("t:acme"), None, None, Some("many")),
            (Some("t:acme"), None, None, Some("-1")),
        ];
        for (tokens, secret, max_batch, max_live) in refused {
            let (tokens, secret) = (tokens.map(Into::into), secret.map(Into::into));
            let live = max_live.map(Into::into);
            let edge = Edge::new(tokens, secret, None, max_batch.map(Into::into), None, None, live, None);
            assert!(edge.is_err(), "{max_batch:?} {max_live:?}");
        }
        let some = |text: &str| Some(text.to_owned());
        let edge =
            Edge::new(None, some(SECRET), some("1000"), some("10"), some("100"), some("4096"), some("3"), some("250"))
                .unwrap();
        assert_eq!((edge.max_body_bytes(), edge.limits.max_batch, edge.limits.max_event_size), (1_000, 10, 100));
        assert_eq!((edge.max_live_per_tenant(), edge.keep_alive_ms()), (3, 250));
        let defaults = Edge::new(None, some(SECRET), some(""), None, None, None, None, None).unwrap();
        let defaults = (defaults.max_body_bytes(), defaults.max_live_per_tenant(), defaults.keep_alive_ms());
        assert_eq!(defaults, (16 * 1024 * 1024, 100, 15_000));
        let refusal = edge.too_many_live_streams();
        assert_eq!((refusal.status(), refusal.code().as_deref()), (429, Some("TOO_MANY_LIVE_STREAMS")));
        assert_eq!(edge.head_frame(7.0), "event: head\ndata: {\"position\":7}\n\n");
        assert_eq!(edge.keep_alive_frame(), ":\n\n");
    }

    #[test]
    fn tokens_name_tenants_and_refusals_carry_their_code() {
        let edge =
            Edge::new(Some("t-acme:acme".into()), Some(SECRET.into()), None, None, None, None, None, None).unwrap();
        let now = 1_800_000_000.0;
        let jwt = eventlite_protocol::auth::mint_jwt(SECRET.as_bytes(), "globex", Some(1_800_000_060));
        let answer = edge.authenticate(Some(format!("Bearer {jwt}")), now);
        assert_eq!((answer.tenant().as_deref(), answer.expires()), (Some("globex"), Some(1_800_000_060.0)));
        assert_eq!(
            edge.authenticate(Some(format!("Bearer {jwt}")), 1_800_000_060.0).code().as_deref(),
            Some("UNAUTHORIZED")
        );
        let live = edge.authenticate_live(None, Some("access_token=t%2Dacme".into()), now);
        assert_eq!(live.tenant().as_deref(), Some("acme"));
        let header_wins = edge.authenticate_live(Some("Bearer t-acme".into()), Some("access_token=wrong".into()), now);
        assert_eq!(header_wins.status(), 200);
        let unknown = edge.authenticate_live(None, Some("since=1".into()), now);
        assert_eq!((unknown.status(), unknown.code().as_deref()), (400, Some("INVALID_REQUEST")));
        let head = edge.check_head(9_000, 1, 10);
        assert_eq!((head.status(), head.code().as_deref()), (414, Some("URI_TOO_LONG")));
        assert_eq!(edge.check_head(10, 1, 10).code(), None);
    }

    #[test]
    fn push_heads_are_checked_in_the_documented_order_and_failures_hide_their_detail() {
        let edge = Edge::new(Some("t:acme".into()), None, Some("100".into()), None, None, None, None, None).unwrap();
        let code = |query: Option<&str>, content_type: Option<&str>, length: Option<f64>| {
            let content_type = content_type.map(|value| value.as_bytes().to_vec());
            edge.check_push_head("acme", query.map(Into::into), content_type, length).code()
        };
        assert_eq!(code(Some("after=garbage"), Some("text/plain"), Some(101.0)).as_deref(), Some("INVALID_CURSOR"));
        assert_eq!(code(None, Some("text/plain"), Some(101.0)).as_deref(), Some("UNSUPPORTED_MEDIA_TYPE"));
        assert_eq!(code(None, None, Some(101.0)).as_deref(), Some("REQUEST_TOO_LARGE"));
        assert_eq!(code(None, None, None), None);
        assert_eq!(edge.body_too_large().status(), 413);
        let full = failure_answer("Error: SQLITE_FULL: database or disk is full");
        assert_eq!((full.status(), full.code().as_deref()), (507, Some("STORAGE_FULL")));
        let internal = failure_answer("TypeError: tenant t-secret");
        assert_eq!((internal.status(), internal.code().as_deref()), (500, Some("INTERNAL")));
        assert!(!internal.body().contains("t-secret"));
        assert_eq!(internal.detail().as_deref(), Some("TypeError: tenant t-secret"));
    }
}
