//! The HTTP application: routes, auth, limits, metrics and live notifications. See `docs/sync-protocol.md`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use eventlite::sync::server::Limits;
use eventlite::sync::{PullResponse, PushOutcome, PushRequest};
use futures_util::Stream;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeFile;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use eventlite_protocol::ProtocolError;
use eventlite_protocol::request::{
    check_push_head, parse_live_query, parse_pull_query, parse_push_body, percent_decode,
};

use crate::auth::{self, Auth, Tenant};
use crate::backend::Backend;
use crate::cursor;
use crate::error::{ApiError, ErrorCodeTag};
use crate::live::Hub;
use crate::metrics::Metrics;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Events per push and bytes per event.
    pub limits: Limits,
    /// Bytes per request body.
    pub max_body_bytes: usize,
    /// Events per pull page, at most (and the default).
    pub max_pull: usize,
    /// Bytes per pull page (events' sizes as the event limit counts them), at most; a page always has at least one
    /// event, so an event of any size can be pulled.
    pub max_pull_bytes: usize,
    /// How long a push or pull may take before it is answered 503 `TIMEOUT`.
    pub request_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog (`crate::connection`).
    pub max_connections: usize,
    /// How long the server waits for a request's head, and on an idle keep-alive connection for the next request.
    pub header_timeout: Duration,
    /// How long a push's body may take to arrive (then `408 REQUEST_TIMEOUT`).
    pub body_timeout: Duration,
    /// A connection on which nothing is read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Open live streams per tenant (then `429 TOO_MANY_LIVE_STREAMS`).
    pub max_live_per_tenant: usize,
    /// A directory served at `/` (the demo app), if any. Only files under its canonical path are served.
    pub static_dir: Option<PathBuf>,
    /// Browser origins allowed to call the API from another origin (CORS): `scheme://host[:port]` values, or one
    /// `*` for any origin. See [`Config::validate`].
    pub allowed_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_body_bytes: 16 * 1024 * 1024,
            max_pull: 1_000,
            max_pull_bytes: 4 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_live_per_tenant: 100,
            static_dir: None,
            allowed_origins: Vec::new(),
        }
    }
}

impl Config {
    /// Checks the settings a server cannot run with, with a message for the operator: origins (each `*` alone, or
    /// `http(s)://host[:port]` with no path), zero limits and timeouts.
    pub fn validate(&self) -> Result<(), String> {
        if self.allowed_origins.iter().any(|origin| origin == "*") && self.allowed_origins.len() > 1 {
            return Err("--allow-origin '*' allows every origin: give it alone, not with other origins".into());
        }
        for origin in self.allowed_origins.iter().filter(|origin| *origin != "*") {
            let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
            let valid = rest.is_some_and(|host| {
                !host.is_empty() && !host.contains(['/', '?', '#', ' ']) && HeaderValue::from_str(origin).is_ok()
            });
            if !valid {
                return Err(format!(
                    "--allow-origin {origin:?} is not an origin: give `*` or scheme://host[:port], e.g. \
                     http://localhost:5173 (no path, no trailing slash)"
                ));
            }
        }
        let zero = [
            ("--max-connections", self.max_connections == 0),
            ("--max-live-per-tenant", self.max_live_per_tenant == 0),
            ("--max-pull-bytes", self.max_pull_bytes == 0),
            ("--header-timeout", self.header_timeout.is_zero()),
            ("--body-timeout", self.body_timeout.is_zero()),
            ("--idle-timeout", self.idle_timeout.is_zero()),
        ];
        if let Some((flag, _)) = zero.iter().find(|(_, is_zero)| *is_zero) {
            return Err(format!("{flag} must be greater than 0"));
        }
        // Deadlines are instants: a timeout of centuries would overflow them.
        let day = Duration::from_secs(24 * 60 * 60);
        let long = [
            ("--header-timeout", self.header_timeout),
            ("--body-timeout", self.body_timeout),
            ("--idle-timeout", self.idle_timeout),
        ];
        if let Some((flag, _)) = long.iter().find(|(_, timeout)| *timeout > day) {
            return Err(format!("{flag} must be at most a day (86400 s)"));
        }
        Ok(())
    }
}

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    auth: Auth,
    config: Config,
    hub: Hub,
    metrics: Metrics,
    shutdown: watch::Sender<bool>,
    live_streams: Mutex<HashMap<String, usize>>,
}

impl AppState {
    /// State over `backend`.
    pub fn new(backend: Arc<dyn Backend>, auth: Auth, config: Config) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                backend,
                auth,
                config,
                hub: Hub::default(),
                metrics: Metrics::default(),
                shutdown: watch::channel(false).0,
                live_streams: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The live-notification hub (the PostgreSQL listener publishes into it).
    pub fn hub(&self) -> Hub {
        self.inner.hub.clone()
    }

    /// The backend.
    pub fn backend(&self) -> Arc<dyn Backend> {
        Arc::clone(&self.inner.backend)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Ends every live stream, so a graceful shutdown does not wait for them.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

/// The router: `/v1/push`, `/v1/pull`, `/v1/live`, `/health`, `/metrics`, and the static directory if configured.
/// Every answer that is not a 200 (or a static file) carries the JSON error body.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/v1/push", post(push))
        .route("/v1/pull", get(pull))
        .route("/v1/live", get(live))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "method not allowed")
        });
    router = match &state.inner.config.static_dir {
        Some(dir) => {
            // Canonical once: every served file must resolve (symlinks followed) to a path under it.
            let root = Arc::new(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone()));
            router.fallback(move |request: Request| static_file(Arc::clone(&root), request))
        }
        None => router.fallback(|| async { not_found() }),
    };
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let path = request.extensions().get::<MatchedPath>().map_or("-", MatchedPath::as_str);
            tracing::info_span!("request", method = %request.method(), path)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    router = router
        .layer(middleware::from_fn(head_limits))
        .layer(middleware::from_fn_with_state(state.clone(), count_errors))
        .layer(trace);
    let origins = &state.inner.config.allowed_origins;
    if !origins.is_empty() {
        let allow = if origins.iter().any(|origin| origin == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origins.iter().filter_map(|origin| origin.parse::<HeaderValue>().ok()))
        };
        router = router.layer(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    router.with_state(state)
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

pub use eventlite_protocol::request::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_URI_BYTES};

async fn head_limits(request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or(0, |target| target.as_str().len());
    let headers = request.headers();
    let bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if let Err(error) = eventlite_protocol::request::check_head(target, headers.len(), bytes) {
        return ApiError::from(error).into_response();
    }
    next.run(request).await
}

/// A file of the static directory. `/v1/...` is the API's namespace and never a file. Paths are percent-decoded,
/// `..` is refused, and the file's canonical path (symlinks resolved) must lie under the canonical root; anything
/// else, a name too long for the file system included, is a JSON `404`.
async fn static_file(root: Arc<PathBuf>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/v1" || path.starts_with("/v1/") {
        return not_found().into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "method not allowed")
            .into_response();
    }
    let Some(relative) = percent_decode(path).and_then(|decoded| String::from_utf8(decoded).ok()) else {
        return not_found().into_response();
    };
    let mut candidate = PathBuf::from(root.as_path());
    for segment in relative.split('/').filter(|segment| !segment.is_empty() && *segment != ".") {
        if segment == ".." || segment.contains(['\\', '\0']) {
            return not_found().into_response();
        }
        candidate.push(segment);
    }
    let Some(file) = resolve_under(&root, candidate).await else {
        return not_found().into_response();
    };
    let file = match tokio::fs::metadata(&file).await {
        Ok(metadata) if metadata.is_dir() => {
            if !path.ends_with('/') {
                // One leading slash: `//host/` would be another host to a browser.
                let location = format!("/{}/", path.trim_start_matches('/'));
                return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response();
            }
            match resolve_under(&root, file.join("index.html")).await {
                Some(index) => index,
                None => return not_found().into_response(),
            }
        }
        Ok(_) => file,
        Err(_) => return not_found().into_response(),
    };
    match ServeFile::new(file).oneshot(request).await {
        Ok(response) if response.status().is_success() || response.status().is_redirection() => {
            response.map(axum::body::Body::new)
        }
        Ok(response) if response.status() == StatusCode::RANGE_NOT_SATISFIABLE => {
            ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "RANGE_NOT_SATISFIABLE", "range not satisfiable")
                .into_response()
        }
        _ => not_found().into_response(),
    }
}

/// `candidate` with every symlink resolved, if that lies under `root` (itself canonical).
async fn resolve_under(root: &std::path::Path, candidate: PathBuf) -> Option<PathBuf> {
    let canonical = tokio::fs::canonicalize(candidate).await.ok()?;
    canonical.starts_with(root).then_some(canonical)
}

async fn count_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(ErrorCodeTag(code)) = response.extensions().get::<ErrorCodeTag>() {
        state.inner.metrics.error(code);
    }
    response
}

/// Reads a request body whose declared length `check_push_head` checked: at most `max_body_bytes` counted as it
/// arrives (`413 REQUEST_TOO_LARGE`), within `body_timeout` (`408 REQUEST_TIMEOUT`).
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    let config = &state.inner.config;
    let too_large = || ApiError::from(ProtocolError::request_too_large(config.max_body_bytes));
    match tokio::time::timeout(config.body_timeout, axum::body::to_bytes(body, config.max_body_bytes)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(cause) = source {
                if cause.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large());
                }
                source = cause.source();
            }
            Err(ApiError::invalid_request(format!("reading the request body: {error}")))
        }
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!("the request body did not arrive within {:?}", config.body_timeout),
        )),
    }
}

async fn with_timeout<T>(
    state: &AppState,
    future: impl Future<Output = Result<T, crate::backend::BackendError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(state.inner.config.request_timeout, future).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "TIMEOUT", "the storage did not answer in time")),
    }
}

async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = auth::authenticate(&state.inner.auth, &headers)?;
    // The rest of a refused body is not read: the connection cannot carry another request.
    let closing = |error: ApiError| {
        let mut response = error.into_response();
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    // The checks on the head, in the documented order (§3.1). `after`: the pushing replica's pull cursor; empty or
    // absent (a replica that never pulled): not checked.
    let after = match check_push_head(
        &tenant,
        query.as_deref(),
        headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes),
        declared,
        state.inner.config.max_body_bytes,
    ) {
        Ok(after) => after,
        Err(error) if error.status == 413 => return Ok(closing(error.into())),
        Err(error) => return Err(error.into()),
    };
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(error) => return Ok(closing(error)),
    };
    let request: PushRequest = parse_push_body(&body)?;
    let replica = request.replica_id;
    let count = request.events.len();
    let limits = state.inner.config.limits;
    let (response, head) =
        with_timeout(&state, state.inner.backend.push(&tenant, request, limits, after.as_ref())).await?;
    let metrics = &state.inner.metrics;
    metrics.pushes.fetch_add(1, Ordering::Relaxed);
    let mut stored = 0u64;
    for outcome in &response.outcomes {
        match outcome {
            PushOutcome::Accepted { duplicate: false, .. } => stored += 1,
            PushOutcome::Accepted { duplicate: true, .. } => {
                metrics.events_duplicate.fetch_add(1, Ordering::Relaxed);
            }
            PushOutcome::Rejected { .. } => {
                metrics.conflicts.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    metrics.events_accepted.fetch_add(stored, Ordering::Relaxed);
    tracing::info!(tenant = tenant.as_str(), %replica, events = count, stored, head, "push");
    if stored > 0 {
        state.inner.hub.publish(tenant.as_str(), head);
    }
    Ok(Json(response).into_response())
}

async fn pull(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let tenant = auth::authenticate(&state.inner.auth, &headers)?;
    let query = parse_pull_query(&tenant, query.as_deref(), state.inner.config.max_pull)?;
    let max_bytes = state.inner.config.max_pull_bytes;
    let position = query.position();
    let pulled = with_timeout(&state, state.inner.backend.pull(&tenant, position, query.limit, max_bytes)).await?;
    if let Some((_, after)) = &query.after {
        // A cursor beyond the head has no event at its position: the data was reset, so this is `LOG_RESET` too.
        after.verify(tenant.as_str(), pulled.log_id, pulled.event_at_after)?;
    }
    let metrics = &state.inner.metrics;
    metrics.pulls.fetch_add(1, Ordering::Relaxed);
    metrics.events_pulled.fetch_add(pulled.page.events.len() as u64, Ordering::Relaxed);
    // The page's last event, or (an empty page) the cursor sent, or the start.
    let last = pulled
        .page
        .events
        .last()
        .map(|last| (last.position, cursor::EventMark { event_id: last.event_id, recorded_at: last.recorded_at }));
    let cursor = cursor::page_cursor(tenant.as_str(), pulled.log_id, last, query.after.map(|(sent, _)| sent));
    let response: PullResponse = pulled.page.into_response(|_| cursor.clone());
    Ok(Json(response).into_response())
}

/// Live notifications (SSE). Browsers' `EventSource` cannot set headers, so this endpoint also takes the token as
/// `?access_token=`. The stream ends when the server shuts down or the token expires (a JWT's `exp`).
async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut headers = headers;
    let query_token = parse_live_query(query.as_deref())?;
    if !headers.contains_key(header::AUTHORIZATION)
        && let Some(token) = &query_token
    {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| ApiError::unauthorized("the access_token is not a valid token"))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    let (tenant, expires) = auth::authenticate_until(&state.inner.auth, &headers)?;
    let slot = LiveSlot::take(&state, &tenant)?;
    let head = with_timeout(&state, state.inner.backend.head(&tenant)).await?;
    let receiver = state.inner.hub.watch(tenant.as_str(), head);
    // An `exp` too far away to represent as an instant is no deadline (it is never reached either).
    let deadline = expires.and_then(|exp| {
        let left = exp.saturating_sub(now_seconds());
        tokio::time::Instant::now().checked_add(Duration::from_secs(left))
    });
    let stream = head_stream(slot, receiver, deadline);
    let keep_alive = Duration::from_secs(15).min(state.inner.config.idle_timeout / 3).max(Duration::from_millis(10));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(keep_alive)).into_response())
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// One of a tenant's live streams: counted in the gauge and against [`Config::max_live_per_tenant`] until dropped.
struct LiveSlot {
    state: AppState,
    tenant: String,
}

impl LiveSlot {
    fn take(state: &AppState, tenant: &Tenant) -> Result<LiveSlot, ApiError> {
        let max = state.inner.config.max_live_per_tenant;
        let mut streams = state.inner.live_streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Live streams hold their connection for good: all tenants' together leave a quarter of the connection
        // bound to short requests (pushes, pulls, /health), or a few tenants' devices could starve everyone.
        let cap = Self::server_cap(&state.inner.config);
        let total: usize = streams.values().sum();
        if total >= cap {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_LIVE_STREAMS",
                format!("the server already has {cap} live streams open (three quarters of --max-connections)"),
            ));
        }
        let open = streams.entry(tenant.as_str().to_owned()).or_default();
        if *open >= max {
            return Err(ProtocolError::too_many_live_streams(max).into());
        }
        *open += 1;
        state.inner.metrics.live_clients.fetch_add(1, Ordering::Relaxed);
        Ok(LiveSlot { state: state.clone(), tenant: tenant.as_str().to_owned() })
    }

    /// The most live streams of all tenants together: three quarters of the connection bound, at least one.
    fn server_cap(config: &Config) -> usize {
        (config.max_connections / 4 * 3).max(1)
    }
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        self.state.inner.metrics.live_clients.fetch_sub(1, Ordering::Relaxed);
        let mut streams = self.state.inner.live_streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = streams.get_mut(&self.tenant) {
            *open -= 1;
            if *open == 0 {
                streams.remove(&self.tenant);
            }
        }
    }
}

fn head_stream(
    slot: LiveSlot,
    receiver: watch::Receiver<u64>,
    deadline: Option<tokio::time::Instant>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let shutdown = slot.state.inner.shutdown.subscribe();
    let initial = true;
    futures_util::stream::unfold(
        (receiver, shutdown, slot, initial),
        move |(mut receiver, mut shutdown, slot, initial)| async move {
            let expired = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            if !initial {
                tokio::select! {
                    changed = receiver.changed() => changed.ok()?,
                    _ = shutdown.wait_for(|stopping| *stopping) => return None,
                    () = expired => return None,
                }
            }
            if *shutdown.borrow() || deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
                return None;
            }
            let head = *receiver.borrow_and_update();
            // No cursor: clients sync from their stored one (a cursor would cost a lookup of the event at the head).
            let data = serde_json::json!({ "position": head });
            let event = Event::default().event("head").data(data.to_string());
            Some((Ok(event), (receiver, shutdown, slot, false)))
        },
    )
}

async fn health(State(state): State<AppState>) -> Response {
    match state.inner.backend.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok", "backend": state.inner.backend.name() })).into_response(),
        Err(error) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", error.to_string()).into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.inner.metrics.render(state.inner.backend.name());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
