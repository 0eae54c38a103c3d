//! [`SyncClient`]: one local store, one server; drives core's sync rounds over reqwest.

use std::sync::Arc;
use std::time::Duration;

use eventlite::Store;
use eventlite::sync::{
    Conflict, DriverStep, HttpMethod, PullResponse, PushBudget, PushRequest, PushResponse, Retries, RoundSettings,
    SyncDriver, SyncError, SyncMessage, SyncReport, SyncRequest,
};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::ClientError;

type ConflictHandler = Arc<dyn Fn(&Conflict) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&ClientError) + Send + Sync>;

/// Syncs one local store with a server. Cheap to clone (the store and the HTTP client are shared).
#[derive(Clone)]
pub struct SyncClient {
    pub(crate) http: reqwest::Client,
    /// Roots trusted besides Mozilla's ([`SyncClient::with_root_certificate_pem`]).
    #[cfg(feature = "tls")]
    extra_roots: rustls::RootCertStore,
    pub(crate) base: String,
    pub(crate) token: String,
    store: Store,
    settings: RoundSettings,
    pub(crate) request_timeout: Duration,
    pub(crate) live_gap: Duration,
    on_conflict: Option<ConflictHandler>,
    pub(crate) on_live_error: Option<ErrorHandler>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient").field("base", &self.base).field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl SyncClient {
    /// The default time a push or pull may take, answer included (the server gives up on storage after 30 s).
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default longest silence on the live stream ([`eventlite::sync::LiveFeed::SILENCE`]).
    pub const LIVE_GAP: Duration = eventlite::sync::LiveFeed::SILENCE;

    /// How long connecting may take (TCP, and the TLS handshake for `https://`).
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A client for `base_url` (`https://sync.example.com`, or `http://127.0.0.1:8080`) with a bearer token,
    /// syncing `store`. With the `tls` feature (the default), `https://` servers are checked against Mozilla's root
    /// certificates; add a private CA with [`SyncClient::with_root_certificate_pem`]. Without it, only `http://`.
    pub fn new(base_url: &str, token: &str, store: Store) -> SyncClient {
        #[cfg(feature = "tls")]
        let extra_roots = rustls::RootCertStore::empty();
        SyncClient {
            #[cfg(feature = "tls")]
            http: SyncClient::http_client(&extra_roots),
            #[cfg(not(feature = "tls"))]
            http: SyncClient::http_client(),
            #[cfg(feature = "tls")]
            extra_roots,
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            store,
            settings: RoundSettings::default(),
            request_timeout: SyncClient::REQUEST_TIMEOUT,
            live_gap: SyncClient::LIVE_GAP,
            on_conflict: None,
            on_live_error: None,
        }
    }

    /// Uses this HTTP client (timeouts, proxies, connection pooling, TLS of your choice) instead of the crate's own,
    /// which a later [`SyncClient::with_root_certificate_pem`] would bring back. Your client decides what
    /// `https://` servers it trusts: reqwest's own TLS setup uses the platform verifier, which on Android must be
    /// initialised by the app first.
    pub fn with_http_client(mut self, http: reqwest::Client) -> SyncClient {
        self.http = http;
        self
    }

    /// Also trusts the root certificates in `pem` (one or more `-----BEGIN CERTIFICATE-----` sections, as in a CA
    /// bundle file; other sections such as keys are skipped) for `https://` servers, besides Mozilla's roots: for a
    /// private deployment or a test server with its own CA. Roots add up over calls. Replaces the HTTP client with
    /// the crate's own (set [`SyncClient::with_http_client`] after this one, if at all, and it decides alone).
    ///
    /// A malformed certificate, or none at all, is `INVALID_ARGUMENT` (`ClientError::Sync(SyncError::InvalidArgument)`
    /// naming `root_certificate_pem`) and nothing is added.
    #[cfg(feature = "tls")]
    pub fn with_root_certificate_pem(mut self, pem: &[u8]) -> Result<SyncClient, ClientError> {
        crate::tls::add_pem_roots(&mut self.extra_roots, pem)?;
        self.http = SyncClient::http_client(&self.extra_roots);
        Ok(self)
    }

    /// The crate's HTTP client: HTTP/1.1, a connect timeout, and HTTPS through [`crate::tls`].
    #[cfg(feature = "tls")]
    fn http_client(extra_roots: &rustls::RootCertStore) -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(SyncClient::CONNECT_TIMEOUT)
            .tls_backend_preconfigured(crate::tls::client_config(extra_roots))
            .build()
            // reqwest's build only fails configuring a TLS backend itself (or HTTP/3, not enabled here); a
            // preconfigured rustls config is taken as it is. Never fall back to reqwest's own TLS setup: it would
            // drop the extra roots and need the platform verifier.
            .expect("a client with a preconfigured rustls config builds")
    }

    /// The crate's HTTP client: HTTP/1.1 and a connect timeout (no TLS in this build).
    #[cfg(not(feature = "tls"))]
    fn http_client() -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(SyncClient::CONNECT_TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    }

    /// Events per push and per pull page (default 500).
    pub fn with_batch_size(mut self, batch: usize) -> SyncClient {
        self.settings.batch_size = batch.max(1);
        self
    }

    /// The server's push limits (default: the reference server's defaults, 1,000 events, 16 MiB per request and
    /// 1 MiB per event). Pushes stay within them; a local batch that exceeds them on its own can never be pushed and
    /// goes to the conflicts list (`BATCH_TOO_LARGE` or `EVENT_TOO_LARGE`) instead of blocking the events behind
    /// it. A server with lower limits than configured here is also handled: a push it refuses as too large is
    /// retried as smaller pushes, down to a single local batch, which is then set aside with the server's code.
    pub fn with_server_limits(mut self, limits: PushBudget) -> SyncClient {
        self.settings.budget = limits;
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
    /// Failures that retrying cannot fix (a refused token, a non-retryable 4xx) back off to the longest delay.
    pub fn on_live_error(mut self, handler: impl Fn(&ClientError) + Send + Sync + 'static) -> SyncClient {
        self.on_live_error = Some(Arc::new(handler));
        self
    }

    /// Called for every event that leaves its stream for the conflicts list, as it happens.
    pub fn on_conflict(mut self, handler: impl Fn(&Conflict) + Send + Sync + 'static) -> SyncClient {
        self.on_conflict = Some(Arc::new(handler));
        self
    }

    /// The local store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One round: pushes every pending event (pulling after each push, so accepted events become confirmed), then
    /// pulls to the server's head. Rejected events are in the report and go to [`SyncClient::on_conflict`].
    pub async fn sync(&self) -> Result<SyncReport, ClientError> {
        self.drive(Retries::Never).await
    }

    /// [`SyncClient::sync`], retried with exponential backoff and jitter while the failure is retryable, at most
    /// `attempts` rounds in all.
    pub async fn sync_with_retry(&self, attempts: usize) -> Result<SyncReport, ClientError> {
        self.drive(Retries::Transient(u32::try_from(attempts.max(1)).unwrap_or(u32::MAX))).await
    }

    /// Runs core's driver to its end: sends what it asks for, sleeps when it says so.
    async fn drive(&self, retries: Retries) -> Result<SyncReport, ClientError> {
        let mut driver = SyncDriver::new(self.settings, retries, random_seed());
        loop {
            let (returned, step) = self
                .local(move |store| {
                    let step = driver.next_step(store);
                    (driver, step)
                })
                .await?;
            driver = returned;
            self.report_conflicts(&mut driver);
            match step {
                DriverStep::Send(request) => {
                    let answer = self.send(&request).await;
                    driver = self
                        .local(move |store| {
                            match answer {
                                Ok((status, body)) => driver.on_response(store, status, &body),
                                Err(error) => driver.on_error(store, error),
                            }
                            driver
                        })
                        .await?;
                    self.report_conflicts(&mut driver);
                }
                DriverStep::Wait(delay) => {
                    if let Some(error) = driver.last_error() {
                        tracing::debug!(%error, ?delay, "sync round failed; retrying");
                    }
                    tokio::time::sleep(delay).await;
                }
                DriverStep::Done(report) => return Ok(report),
                DriverStep::Failed(error) => return Err(error),
            }
        }
    }

    fn report_conflicts(&self, driver: &mut SyncDriver) {
        let conflicts = driver.take_new_conflicts();
        if let Some(handler) = &self.on_conflict {
            conflicts.iter().for_each(|conflict| handler(conflict));
        }
    }

    /// Runs `f` on the store off the async threads (SQLite calls block).
    async fn local<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> T + Send + 'static) -> Result<T, ClientError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|error| ClientError::Transport(format!("local task failed: {error}")))
    }

    /// Sends one request; the status and body of any answer, or why there was none: a transport failure, or
    /// `INVALID_ARGUMENT` for a request that cannot even be made (a URL without `http://`, a token that is not a
    /// valid header value), which retrying cannot fix.
    async fn send(&self, request: &SyncRequest) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{}", self.base, request.path_and_query());
        let builder = match request.method {
            HttpMethod::Get => self.http.get(url),
            HttpMethod::Post => self.http.post(url).header(CONTENT_TYPE, "application/json"),
        };
        let builder = match request.body() {
            Some(body) => builder.body(body),
            None => builder,
        };
        let what = request.method.as_str();
        let response = builder
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|error| failure(&format!("{what} {}", request.path_and_query()), &error))?;
        let status = response.status().as_u16();
        let body =
            response.bytes().await.map_err(|error| failure(&format!("{what} {}", request.path_and_query()), &error))?;
        Ok((status, body.to_vec()))
    }

    /// Sends one push and returns the server's answer, without applying it (benchmarks and tests).
    pub async fn post_push(&self, push: &PushRequest) -> Result<PushResponse, ClientError> {
        let message = SyncMessage::Push { push: push.clone(), after: None };
        let request = SyncRequest { method: HttpMethod::Post, message };
        let body = self.expect_ok(&request).await?;
        serde_json::from_slice(&body)
            .map_err(|error| ClientError::Sync(SyncError::Protocol(format!("push response: {error}"))))
    }

    /// Fetches one pull page after `cursor`, without applying it (benchmarks and tests).
    pub async fn get_pull(&self, cursor: Option<&str>) -> Result<PullResponse, ClientError> {
        let message = SyncMessage::Pull { after: cursor.map(str::to_owned), limit: self.settings.batch_size };
        let body = self.expect_ok(&SyncRequest { method: HttpMethod::Get, message }).await?;
        serde_json::from_slice(&body)
            .map_err(|error| ClientError::Sync(SyncError::Protocol(format!("pull response: {error}"))))
    }

    async fn expect_ok(&self, request: &SyncRequest) -> Result<Vec<u8>, ClientError> {
        match self.send(request).await? {
            (200, body) => Ok(body),
            (status, body) => Err(ClientError::from_http(status, &body)),
        }
    }
}

/// What a failed request means: `INVALID_ARGUMENT` when reqwest could not even build it (the base URL or the token
/// is malformed), a transport failure otherwise.
pub(crate) fn failure(what: &str, error: &reqwest::Error) -> ClientError {
    if error.is_builder() {
        let invalid = eventlite::InvalidArgument::new("url or token", format!("{what}: {}", describe(error)));
        return ClientError::Sync(SyncError::InvalidArgument(invalid));
    }
    ClientError::Transport(format!("{what}: {}", describe(error)))
}

/// `error` with its causes: reqwest's own message names only the step ("error sending request for url ..."); the
/// reason (refused connection, `invalid peer certificate: UnknownIssuer`, ...) is in its source chain.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Layers often repeat the message of the error they wrap.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Seeds core's backoff jitter from the OS's randomness.
pub(crate) fn random_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}
