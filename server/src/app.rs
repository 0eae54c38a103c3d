//! The HTTP application: routes, auth, limits, metrics and live notifications. See `docs/sync-protocol.md`.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
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
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::auth::{Auth, Tenant};
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
    /// How long a push or pull may take before it is answered 503 `TIMEOUT`.
    pub request_timeout: Duration,
    /// A directory served at `/` (the demo app), if any.
    pub static_dir: Option<PathBuf>,
    /// Browser origins allowed to call the API from another origin (CORS), e.g. a dev server.
    pub allowed_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_body_bytes: 16 * 1024 * 1024,
            max_pull: 1_000,
            request_timeout: Duration::from_secs(30),
            static_dir: None,
            allowed_origins: Vec::new(),
        }
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
pub fn app(state: AppState) -> Router {
    let max_body = state.inner.config.max_body_bytes;
    let mut router = Router::new()
        .route("/v1/push", post(push))
        .route("/v1/pull", get(pull))
        .route("/v1/live", get(live))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "method not allowed")
        });
    router = match &state.inner.config.static_dir {
        Some(dir) => router.fallback_service(ServeDir::new(dir).append_index_html_on_directories(true)),
        None => router.fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint") }),
    };
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let path = request.extensions().get::<MatchedPath>().map_or("-", MatchedPath::as_str);
            tracing::info_span!("request", method = %request.method(), path)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    router = router.layer(middleware::from_fn_with_state(state.clone(), count_errors)).layer(trace);
    let origins: Vec<HeaderValue> =
        state.inner.config.allowed_origins.iter().filter_map(|origin| origin.parse().ok()).collect();
    if !origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    router.with_state(state)
}

async fn count_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(ErrorCodeTag(code)) = response.extensions().get::<ErrorCodeTag>() {
        state.inner.metrics.error(code);
    }
    response
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_TOO_LARGE", rejection.body_text())
    } else {
        ApiError::invalid_request(rejection.body_text())
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
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let tenant = state.inner.auth.authenticate(&headers)?;
    let body = body.map_err(body_error)?;
    let request: PushRequest =
        serde_json::from_slice(&body).map_err(|error| ApiError::invalid_request(format!("push body: {error}")))?;
    let replica = request.replica_id;
    let count = request.events.len();
    let limits = state.inner.config.limits;
    let (response, head) = with_timeout(&state, state.inner.backend.push(&tenant, request, limits)).await?;
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

struct PullQuery {
    after: u64,
    limit: usize,
}

fn parse_pull_query(tenant: &Tenant, query: Option<&str>, max: usize) -> Result<PullQuery, ApiError> {
    let mut parsed = PullQuery { after: 0, limit: max };
    for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "after" => parsed.after = cursor::decode(tenant.as_str(), value)?,
            "limit" => {
                parsed.limit =
                    value.parse::<usize>().ok().filter(|limit| (1..=max).contains(limit)).ok_or_else(|| {
                        ApiError::invalid_request(format!("limit must be an integer from 1 to {max}"))
                    })?;
            }
            "access_token" => {}
            other => return Err(ApiError::invalid_request(format!("unknown query parameter {other:?}"))),
        }
    }
    Ok(parsed)
}

async fn pull(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let tenant = state.inner.auth.authenticate(&headers)?;
    let query = parse_pull_query(&tenant, query.as_deref(), state.inner.config.max_pull)?;
    let page = with_timeout(&state, state.inner.backend.pull(&tenant, query.after, query.limit)).await?;
    if query.after > page.head {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_CURSOR",
            format!("the cursor is at position {}, after the server's head {}", query.after, page.head),
        ));
    }
    let metrics = &state.inner.metrics;
    metrics.pulls.fetch_add(1, Ordering::Relaxed);
    metrics.events_pulled.fetch_add(page.events.len() as u64, Ordering::Relaxed);
    let name = tenant.as_str().to_owned();
    let response: PullResponse = page.into_response(|position| cursor::encode(&name, position));
    Ok(Json(response).into_response())
}

/// Live notifications (SSE). Browsers' `EventSource` cannot set headers, so this endpoint also takes the token as
/// `?access_token=`.
async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut headers = headers;
    if !headers.contains_key(header::AUTHORIZATION)
        && let Some(token) =
            query.as_deref().unwrap_or("").split('&').find_map(|pair| pair.strip_prefix("access_token="))
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        headers.insert(header::AUTHORIZATION, value);
    }
    let tenant = state.inner.auth.authenticate(&headers)?;
    let head = with_timeout(&state, state.inner.backend.head(&tenant)).await?;
    let receiver = state.inner.hub.watch(tenant.as_str(), head);
    let stream = head_stream(state.clone(), tenant, receiver);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// Decrements the live-clients gauge when the stream is dropped.
struct LiveGuard(AppState);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.inner.metrics.live_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

fn head_stream(
    state: AppState,
    tenant: Tenant,
    receiver: watch::Receiver<u64>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    state.inner.metrics.live_clients.fetch_add(1, Ordering::Relaxed);
    let shutdown = state.inner.shutdown.subscribe();
    let guard = LiveGuard(state);
    let initial = true;
    futures_util::stream::unfold(
        (receiver, shutdown, guard, initial, tenant),
        |(mut receiver, mut shutdown, guard, initial, tenant)| async move {
            if !initial {
                tokio::select! {
                    changed = receiver.changed() => changed.ok()?,
                    _ = shutdown.wait_for(|stopping| *stopping) => return None,
                }
            }
            if *shutdown.borrow() {
                return None;
            }
            let head = *receiver.borrow_and_update();
            let data = serde_json::json!({ "cursor": cursor::encode(tenant.as_str(), head), "position": head });
            let event = Event::default().event("head").data(data.to_string());
            Some((Ok(event), (receiver, shutdown, guard, false, tenant)))
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
