//! The native sync client: moves core's sync messages over HTTP (reqwest) and follows live notifications (SSE).
//!
//! The rules (what to push, rebasing, conflicts) are core's; this module only transports them. Every step is safe
//! to retry: pushes are recognised by event id, and a pull is applied with its cursor in one local transaction, so
//! a connection cut at any moment loses nothing and duplicates nothing: call [`SyncClient::sync`] again.
//!
//! ```no_run
//! # async fn run() -> Result<(), eventlite_server::client::ClientError> {
//! use eventlite::{ExpectedVersion, NewEvent, Store};
//! use eventlite_server::client::SyncClient;
//!
//! let store = Store::open("device.db").expect("open");
//! store.append_to_stream("todo-1", &[NewEvent::json("Added", &"milk")], ExpectedVersion::Any).expect("append");
//! let client = SyncClient::new("http://127.0.0.1:8080", "demo-token", store);
//! let report = client.sync().await?;
//! for conflict in &report.conflicts {
//!     eprintln!("rejected {} in {}: {}", conflict.event_id, conflict.stream, conflict.message);
//! }
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use eventlite::Store;
use eventlite::sync::{
    Conflict, PullResponse, PushBudget, PushOutcome, PushRequest, PushResponse, RejectionCode, SyncError,
};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use tokio::sync::watch;

use crate::error::ErrorBody;

/// Why a sync step failed. Nothing is lost: retry [`SyncClient::sync`] when [`ClientError::is_retryable`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed or was cut, or timed out.
    #[error("transport: {0}")]
    Transport(String),
    /// The server answered with an error.
    #[error("server answered {status} {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The stable code from the `{code, message}` body.
        code: String,
        /// The message.
        message: String,
    },
    /// The local store refused a step (or the server broke the protocol).
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl ClientError {
    /// Transport failures, timeouts and 5xx/429 answers are worth retrying; other 4xx answers are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            ClientError::Server { status, .. } => *status >= 500 || *status == 429,
            ClientError::Sync(error) => error.code() == eventlite::ErrorCode::StorageBusy,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(error: reqwest::Error) -> Self {
        ClientError::Transport(error.to_string())
    }
}

/// What one [`SyncClient::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Events sent in pushes (including ones the server already had).
    pub pushed: usize,
    /// Server events applied locally.
    pub pulled: usize,
    /// Events that left their streams for the conflicts list during this sync.
    pub conflicts: Vec<Conflict>,
    /// When the local log was rewritten, the lowest position after which it was.
    pub rewound_from: Option<u64>,
}

type ConflictHandler = Arc<dyn Fn(&Conflict) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&ClientError) + Send + Sync>;

/// Syncs one local store with a server.
#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    token: String,
    store: Store,
    batch: usize,
    limits: PushBudget,
    request_timeout: Duration,
    live_gap: Duration,
    on_conflict: Option<ConflictHandler>,
    on_live_error: Option<ErrorHandler>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient").field("base", &self.base).field("batch", &self.batch).finish_non_exhaustive()
    }
}

impl SyncClient {
    /// The default time a push or pull may take, answer included (the server gives up on storage after 30 s).
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default longest silence on the live stream: the server sends a keep-alive every 15 s, so 45 s without
    /// a byte means the connection is dead.
    pub const LIVE_GAP: Duration = Duration::from_secs(45);

    /// A client for `base_url` (e.g. `http://127.0.0.1:8080`) with a bearer token, syncing `store`.
    pub fn new(base_url: &str, token: &str, store: Store) -> SyncClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        SyncClient {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            store,
            batch: 500,
            limits: PushBudget::default(),
            request_timeout: SyncClient::REQUEST_TIMEOUT,
            live_gap: SyncClient::LIVE_GAP,
            on_conflict: None,
            on_live_error: None,
        }
    }

    /// Uses this HTTP client (timeouts, proxies, connection pooling of your choice).
    pub fn with_http_client(mut self, http: reqwest::Client) -> SyncClient {
        self.http = http;
        self
    }

    /// Events per push and per pull page (default 500).
    pub fn with_batch_size(mut self, batch: usize) -> SyncClient {
        self.batch = batch.max(1);
        self
    }

    /// The server's push limits (default: the reference server's defaults, 1,000 events, 16 MiB per request and
    /// 1 MiB per event). Pushes stay within them; a local batch that exceeds them on its own can never be pushed and
    /// goes to the conflicts list (`BATCH_TOO_LARGE` or `EVENT_TOO_LARGE`) instead of blocking the events behind
    /// it. A server with lower limits than configured here is also handled: a push it refuses as too large is
    /// retried as smaller pushes, down to a single local batch, which is then set aside with the server's code.
    pub fn with_server_limits(mut self, limits: PushBudget) -> SyncClient {
        self.limits = limits;
        self
    }

    /// How long one push or pull may take, answer included (default [`SyncClient::REQUEST_TIMEOUT`]), and how long
    /// the live stream may stay silent before it is treated as dead and reconnected (default
    /// [`SyncClient::LIVE_GAP`]; keep it well above the server's 15 s keep-alive interval). Both failures are
    /// transport errors: retried with backoff.
    pub fn with_timeouts(mut self, request: Duration, live_gap: Duration) -> SyncClient {
        self.request_timeout = request;
        self.live_gap = live_gap;
        self
    }

    /// Called by [`SyncClient::run_live`] for every failure it recovers from by reconnecting (after a backoff).
    /// Failures that retrying cannot fix (a refused token, a non-retryable 4xx) also back off to the longest delay.
    pub fn on_live_error(mut self, handler: impl Fn(&ClientError) + Send + Sync + 'static) -> SyncClient {
        self.on_live_error = Some(Arc::new(handler));
        self
    }

    /// Called for every event that leaves its stream for the conflicts list.
    pub fn on_conflict(mut self, handler: impl Fn(&Conflict) + Send + Sync + 'static) -> SyncClient {
        self.on_conflict = Some(Arc::new(handler));
        self
    }

    /// The local store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn local<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, SyncError> + Send + 'static,
    ) -> Result<T, ClientError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|error| ClientError::Transport(format!("local task failed: {error}")))?
            .map_err(ClientError::from)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<axum::body::Bytes, ClientError> {
        let request = request.header(AUTHORIZATION, format!("Bearer {}", self.token)).timeout(self.request_timeout);
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if status == StatusCode::OK {
            return Ok(body);
        }
        let error: ErrorBody = serde_json::from_slice(&body)
            .unwrap_or(ErrorBody { code: "UNKNOWN".into(), message: String::from_utf8_lossy(&body).into_owned() });
        Err(ClientError::Server { status: status.as_u16(), code: error.code, message: error.message })
    }

    fn report_conflicts(&self, report: &mut SyncReport, conflicts: Vec<Conflict>) {
        if let Some(handler) = &self.on_conflict {
            conflicts.iter().for_each(|conflict| handler(conflict));
        }
        report.conflicts.extend(conflicts);
    }

    /// Sends one push and returns the server's answer, without applying it (benchmarks and tests).
    pub async fn post_push(&self, request: &PushRequest) -> Result<PushResponse, ClientError> {
        let body = serde_json::to_vec(request).map_err(|error| ClientError::Transport(error.to_string()))?;
        let bytes = self
            .send(self.http.post(format!("{}/v1/push", self.base)).header(CONTENT_TYPE, "application/json").body(body))
            .await?;
        serde_json::from_slice(&bytes)
            .map_err(|error| ClientError::Sync(SyncError::Protocol(format!("push response: {error}"))))
    }

    /// Fetches one pull page after `cursor`, without applying it.
    pub async fn get_pull(&self, cursor: Option<&str>) -> Result<PullResponse, ClientError> {
        let mut url = format!("{}/v1/pull?limit={}", self.base, self.batch);
        if let Some(cursor) = cursor {
            url.push_str("&after=");
            url.push_str(cursor);
        }
        let bytes = self.send(self.http.get(url)).await?;
        serde_json::from_slice(&bytes)
            .map_err(|error| ClientError::Sync(SyncError::Protocol(format!("pull response: {error}"))))
    }

    /// Pulls every page up to the server's head and applies each in one local transaction.
    pub async fn pull(&self, report: &mut SyncReport) -> Result<(), ClientError> {
        loop {
            let cursor = self.local(|store| store.pull_cursor()).await?;
            let page = self.get_pull(cursor.as_deref()).await?;
            let more = page.more;
            let applied = self.local(move |store| store.apply_pull(&page)).await?;
            report.pulled += applied.applied;
            report.rewound_from = min_option(report.rewound_from, applied.rewound_from);
            self.report_conflicts(report, applied.rejected);
            if !more {
                return Ok(());
            }
        }
    }

    /// Pushes every pending event (a batch at a time, pulling after each so accepted events become confirmed), then
    /// pulls to the server's head. Rejected events are reported in the result and to [`SyncClient::on_conflict`].
    pub async fn sync(&self) -> Result<SyncReport, ClientError> {
        let mut report = SyncReport::default();
        let batch = self.batch;
        let limits = self.limits;
        // Local batches per push: lowered when the server refuses a push as too large.
        let mut max_batches = usize::MAX;
        let mut last_first = None;
        loop {
            let next = self.local(move |store| store.next_push_within(batch, max_batches, &limits)).await?;
            report.rewound_from = min_option(report.rewound_from, next.rewound_from);
            self.report_conflicts(&mut report, next.rejected);
            let Some(request) = next.request else {
                break;
            };
            let first = request.events.first().map(|event| event.event_id);
            if first.is_some() && first == last_first {
                return Err(ClientError::Sync(SyncError::Protocol(
                    "the server accepted a push but the following pull did not confirm it".into(),
                )));
            }
            let response = match self.post_push(&request).await {
                Ok(response) => response,
                Err(ClientError::Server { status: 413, code, message }) => {
                    if next.batches > 1 {
                        // Smaller pushes, down to one local batch each; nothing was stored.
                        max_batches = (next.batches / 2).max(1);
                        continue;
                    }
                    // One whole local batch the server will never take: set it aside so the rest can go.
                    let code = if code == "EVENT_TOO_LARGE" {
                        RejectionCode::EventTooLarge
                    } else {
                        RejectionCode::BatchTooLarge
                    };
                    let message = format!("the server refused the local batch as too large: {message}");
                    let response = PushResponse {
                        outcomes: request
                            .events
                            .iter()
                            .map(|event| PushOutcome::Rejected {
                                event_id: event.event_id,
                                code,
                                actual_version: None,
                                message: message.clone(),
                            })
                            .collect(),
                    };
                    let applied = self.local(move |store| store.apply_push_response(&request, &response)).await?;
                    self.report_conflicts(&mut report, applied.rejected);
                    report.rewound_from = min_option(report.rewound_from, applied.rewound_from);
                    continue;
                }
                Err(error) => return Err(error),
            };
            last_first = first;
            report.pushed += request.events.len();
            let applied = self.local(move |store| store.apply_push_response(&request, &response)).await?;
            self.report_conflicts(&mut report, applied.rejected);
            report.rewound_from = min_option(report.rewound_from, applied.rewound_from);
            self.pull(&mut report).await?;
        }
        self.pull(&mut report).await?;
        Ok(report)
    }

    /// [`SyncClient::sync`], retried with exponential backoff and jitter while the failure is retryable, at most
    /// `attempts` times.
    pub async fn sync_with_retry(&self, attempts: usize) -> Result<SyncReport, ClientError> {
        let mut backoff = Backoff::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.sync().await {
                Ok(report) => return Ok(report),
                Err(error) if error.is_retryable() && attempt < attempts => {
                    tracing::debug!(%error, attempt, "sync failed; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Follows the server's live notifications until `stop` turns true: syncs at once on connecting and whenever
    /// the server's head moves, and calls `on_sync` after each sync. Reconnects with exponential backoff and jitter
    /// and resumes from the stored cursor.
    pub async fn run_live(&self, mut stop: watch::Receiver<bool>, on_sync: impl Fn(&SyncReport) + Send + Sync) {
        let mut backoff = Backoff::new();
        while !*stop.borrow() {
            let connected = tokio::select! {
                result = self.follow(&on_sync, &mut backoff) => result,
                _ = stop.wait_for(|stop| *stop) => return,
            };
            if let Err(error) = connected {
                if error.is_retryable() {
                    tracing::debug!(%error, "live connection ended");
                } else {
                    // Retrying soon will not help: wait as long as the backoff allows.
                    tracing::warn!(%error, "live sync failed; retrying later");
                    backoff.saturate();
                }
                if let Some(handler) = &self.on_live_error {
                    handler(&error);
                }
            }
            let delay = backoff.next_delay();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    async fn follow(
        &self,
        on_sync: &(impl Fn(&SyncReport) + Send + Sync),
        backoff: &mut Backoff,
    ) -> Result<(), ClientError> {
        let connect =
            self.http.get(format!("{}/v1/live", self.base)).header(AUTHORIZATION, format!("Bearer {}", self.token));
        let response = tokio::time::timeout(self.request_timeout, connect.send())
            .await
            .map_err(|_| ClientError::Transport("the live endpoint did not answer in time".into()))??;
        if response.status() != StatusCode::OK {
            return Err(ClientError::Server {
                status: response.status().as_u16(),
                code: "LIVE_REFUSED".into(),
                message: "the live endpoint refused the connection".into(),
            });
        }
        let mut body = response.bytes_stream();
        let mut buffer = Vec::new();
        loop {
            // Keep-alives arrive every 15 s: a longer silence means a dead connection (no FIN ever came).
            let chunk = tokio::time::timeout(self.live_gap, body.next()).await.map_err(|_| {
                ClientError::Transport(format!("the live stream was silent for {} s", self.live_gap.as_secs_f64()))
            })?;
            let Some(chunk) = chunk else {
                break;
            };
            buffer.extend_from_slice(&chunk?);
            let mut head_moved = false;
            while let Some(end) = find_event_end(&buffer) {
                let event: Vec<u8> = buffer.drain(..end).collect();
                head_moved |= String::from_utf8_lossy(&event).lines().any(|line| line == "event: head");
            }
            if head_moved {
                let report = self.sync_with_retry(5).await?;
                // Synced: the connection and the server work, so the next failure starts backing off afresh.
                *backoff = Backoff::new();
                on_sync(&report);
            }
        }
        Err(ClientError::Transport("the live stream ended".into()))
    }
}

fn find_event_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(2).position(|window| window == b"\n\n").map(|index| index + 2)
}

fn min_option(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Exponential backoff with full jitter: delays drawn from [base/2, base], base doubling from 100 ms up to 10 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
}

impl Backoff {
    const START: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(10);

    /// A fresh backoff.
    pub fn new() -> Backoff {
        Backoff { base: Backoff::START }
    }

    /// Jumps to the longest delay (after a failure that retrying soon cannot fix).
    pub fn saturate(&mut self) {
        self.base = Backoff::MAX;
    }

    /// The next delay, and doubles the base.
    pub fn next_delay(&mut self) -> Duration {
        let random = uuid::Uuid::new_v4().as_u128() as u64;
        let fraction = 0.5 + (random % 1_000) as f64 / 2_000.0;
        let delay = self.base.mul_f64(fraction);
        self.base = (self.base * 2).min(Backoff::MAX);
        delay
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_caps() {
        let mut backoff = Backoff::new();
        let delays: Vec<Duration> = (0..12).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays[3] >= Duration::from_millis(400) && delays[3] <= Duration::from_millis(800));
        assert!(delays.iter().all(|delay| *delay <= Backoff::MAX));
        assert!(delays[11] >= Backoff::MAX / 2);
    }

    #[test]
    fn a_saturated_backoff_waits_the_longest_until_reset() {
        let mut backoff = Backoff::new();
        backoff.next_delay();
        backoff.saturate();
        for _ in 0..3 {
            let delay = backoff.next_delay();
            assert!(delay >= Backoff::MAX / 2 && delay <= Backoff::MAX, "{delay:?}");
        }
        backoff = Backoff::new();
        assert!(backoff.next_delay() <= Backoff::START);
    }

    #[test]
    fn sse_events_are_split_on_blank_lines() {
        assert_eq!(find_event_end(b"event: head\ndata: {}\n\nevent"), Some(22));
        assert_eq!(find_event_end(b"event: head\ndata: {}\n"), None);
    }
}
