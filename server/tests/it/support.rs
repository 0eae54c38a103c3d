//! Test servers on port 0, stores in temporary directories, PostgreSQL schemas of their own.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use eventlite::{ReadAllOptions, RecordedEvent, Store};
use eventlite_client::SyncClient;
use eventlite_server::backend::Backend;
use eventlite_server::backend::postgres::PostgresBackend;
use eventlite_server::backend::sqlite::SqliteBackend;
use eventlite_server::{AppState, Auth, Config};
use tokio::task::JoinHandle;

pub const TOKEN_A: &str = "token-acme";
pub const TOKEN_B: &str = "token-globex";

/// The HS256 secret of the test servers (at least 32 bytes, as the server requires).
pub const JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret";

pub fn auth() -> Auth {
    Auth::from_tokens([(TOKEN_A.to_owned(), "acme".to_owned()), (TOKEN_B.to_owned(), "globex".to_owned())])
        .unwrap()
        .with_jwt_secret(JWT_SECRET.to_vec())
        .unwrap()
}

/// A server running on 127.0.0.1 with a random port.
#[allow(dead_code)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    task: JoinHandle<()>,
    listener_task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start(backend: Arc<dyn Backend>) -> TestServer {
        TestServer::start_with(backend, Config::default()).await
    }

    pub async fn start_with(backend: Arc<dyn Backend>, config: Config) -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap(), backend, config).await
    }

    pub async fn start_on(addr: SocketAddr, backend: Arc<dyn Backend>, config: Config) -> TestServer {
        let state = AppState::new(Arc::clone(&backend), auth(), config);
        let hub = state.hub();
        let listener_task = tokio::spawn(async move {
            let _ = backend.listen(hub).await;
        });
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serve_state = state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            eventlite_server::serve(listener, serve_state, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        STOPS.lock().unwrap().push((addr, stop));
        TestServer { addr, state, task, listener_task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown: in-flight requests finish, live streams end, then the task returns.
    pub async fn stop(self) {
        let stop = {
            let mut stops = STOPS.lock().unwrap();
            let index = stops.iter().position(|(addr, _)| *addr == self.addr).unwrap();
            stops.remove(index).1
        };
        let _ = stop.send(());
        tokio::time::timeout(std::time::Duration::from_secs(10), self.task).await.expect("graceful shutdown").unwrap();
        self.listener_task.abort();
    }
}

type Stops = std::sync::Mutex<Vec<(SocketAddr, tokio::sync::oneshot::Sender<()>)>>;
static STOPS: Stops = std::sync::Mutex::new(Vec::new());

pub fn sqlite_backend(dir: &std::path::Path) -> Arc<dyn Backend> {
    Arc::new(SqliteBackend::new(dir.to_path_buf()).unwrap())
}

pub fn postgres_url() -> String {
    std::env::var("EVENTLITE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A PostgreSQL backend in a schema of its own; call [`PgSchema::drop`] at the end.
pub struct PgSchema {
    pub name: String,
    pub backend: Arc<PostgresBackend>,
}

impl PgSchema {
    pub async fn create() -> PgSchema {
        let name = format!("it_{}", uuid::Uuid::new_v4().simple());
        let backend =
            Arc::new(PostgresBackend::connect(&postgres_url(), &name).await.expect("PostgreSQL on 127.0.0.1:5432"));
        PgSchema { name, backend }
    }

    /// Another backend (another "process") on the same schema.
    pub async fn connect_again(&self) -> Arc<PostgresBackend> {
        Arc::new(PostgresBackend::connect(&postgres_url(), &self.name).await.unwrap())
    }

    pub async fn drop(self) {
        self.backend.drop_schema().await.unwrap();
    }
}

/// A plain reqwest builder for tests. reqwest is built without a default TLS crypto provider (eventlite-client's
/// `tls` feature hands it one per client), so the process-wide one is installed first.
pub fn http_builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// [`http_builder`], built.
pub fn http() -> reqwest::Client {
    http_builder().build().unwrap()
}

pub fn client(server: &TestServer, token: &str, store: Store) -> SyncClient {
    SyncClient::new(&server.url(), token, store).with_batch_size(50)
}

pub fn log(store: &Store) -> Vec<RecordedEvent> {
    store.read_all(&ReadAllOptions::forwards().max_count(1_000_000)).unwrap().events
}

/// What must be identical between replicas: id, stream, version, type, data, metadata, recorded time.
pub fn shape(events: &[RecordedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {:?} {:?} {}",
                e.event_id, e.stream, e.version, e.event_type, e.data, e.metadata, e.recorded_at
            )
        })
        .collect()
}

/// The server's whole log for a tenant, through the HTTP API.
pub async fn server_log(server: &TestServer, token: &str) -> Vec<eventlite::sync::ServerEvent> {
    server_log_at(&server.url(), token).await
}

/// [`server_log`] of the server at `url`.
pub async fn server_log_at(url: &str, token: &str) -> Vec<eventlite::sync::ServerEvent> {
    let probe = SyncClient::new(url, token, Store::open_in_memory().unwrap()).with_batch_size(1000);
    let mut cursor: Option<String> = None;
    let mut events = Vec::new();
    loop {
        let page = probe.get_pull(cursor.as_deref()).await.unwrap();
        events.extend(page.events);
        cursor = Some(page.cursor);
        if !page.more {
            return events;
        }
    }
}

/// The server log in the same shape as [`shape`].
pub fn server_shape(events: &[eventlite::sync::ServerEvent]) -> Vec<String> {
    let recorded: Vec<RecordedEvent> = events
        .iter()
        .map(|e| RecordedEvent {
            position: e.position,
            event_id: e.event_id,
            stream: e.stream.clone(),
            version: e.version,
            event_type: e.event_type.clone(),
            data: e.wire_data().to_event_data(0).unwrap(),
            metadata: e.metadata.as_ref().map(|raw| raw.get().to_owned()),
            recorded_at: e.recorded_at,
        })
        .collect();
    shape(&recorded)
}

/// The `eventlite serve` binary in a process of its own, on a free port, with `TOKEN_A` for tenant `acme`.
pub struct ServerProcess {
    child: Child,
    pub url: String,
}

impl ServerProcess {
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::spawn_command(Command::new(env!("CARGO_BIN_EXE_eventlite")), args, env)
    }

    /// `spawn` with the server's open-file limit lowered to `limit` (`ulimit -n`), as on a default machine.
    pub fn spawn_with_open_file_limit(limit: u32, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let mut shell = Command::new("sh");
        shell.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_eventlite")]);
        ServerProcess::spawn_command(shell, args, env)
    }

    /// Runs `command serve` on a free port with tenant `acme`'s token, then `args` and `env`.
    fn spawn_command(mut command: Command, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("EVENTLITE_TOKENS", format!("{TOKEN_A}:acme"))
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        ServerProcess { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.url.trim_start_matches("http://").parse().unwrap()
    }

    /// The server's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// The server's resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub async fn wait_healthy(&self) {
        let http = http();
        for _ in 0..200 {
            if let Ok(response) = http.get(format!("{}/health", self.url)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} never became healthy", self.url);
    }

    /// SIGTERM, then the process must exit 0 on its own (graceful shutdown, even with live clients connected).
    pub fn terminate(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the server did not shut down within 10 s of SIGTERM");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The Durable Object backend (`server/edge/`) running under `wrangler dev`, started by `scripts/test-edge.sh`:
/// its URL is `EVENTLITE_TEST_EDGE_URL`, its HS256 secret `EVENTLITE_TEST_EDGE_JWT_SECRET` (default
/// [`JWT_SECRET`]). Each [`EdgeServer::fresh`] is a tenant of its own (a JWT for a new tenant name), so cases sharing
/// the one running edge never see each other's events, as each case gets a database of its own locally.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "edge-tests"), allow(dead_code))]
pub struct EdgeServer {
    pub url: String,
    /// The case's tenant and a JWT naming it.
    pub tenant: String,
    pub token: String,
    /// A second tenant of the case's own, for isolation cases: a JWT naming it.
    pub other_token: String,
    /// The edge's HS256 secret.
    pub secret: Vec<u8>,
}

#[cfg_attr(not(feature = "edge-tests"), allow(dead_code))]
impl EdgeServer {
    pub fn fresh() -> EdgeServer {
        let url = std::env::var("EVENTLITE_TEST_EDGE_URL")
            .expect("EVENTLITE_TEST_EDGE_URL: the edge's URL (scripts/test-edge.sh starts it and sets this)");
        let secret =
            std::env::var("EVENTLITE_TEST_EDGE_JWT_SECRET").map_or_else(|_| JWT_SECRET.to_vec(), String::into_bytes);
        let tenant = format!("t-{}", uuid::Uuid::new_v4().simple());
        let other = format!("{tenant}-other");
        EdgeServer {
            url: url.trim_end_matches('/').to_owned(),
            token: eventlite_server::auth::mint_jwt(&secret, &tenant, None),
            other_token: eventlite_server::auth::mint_jwt(&secret, &other, None),
            tenant,
            secret,
        }
    }
}

/// Runs `case` on a PostgreSQL backend in a schema of its own, dropped afterwards even when the case panics.
pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Backend>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::FutureExt;
    let schema = PgSchema::create().await;
    let backend = schema.backend.clone() as Arc<dyn Backend>;
    let result = std::panic::AssertUnwindSafe(case(backend)).catch_unwind().await;
    schema.drop().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Each case `async fn case(server: Server)` (a `Server` enum in the calling module: `Backend(Arc<dyn Backend>)`
/// or `Edge(EdgeServer)`) as tests against the embedded SQLite backend, PostgreSQL and, for the cases listed in
/// `everywhere`, the Durable Object backend. The edge's tests exist with the feature `edge-tests`: they need
/// `wrangler dev` running, and `scripts/test-edge.sh` starts it and runs them (`--features edge-tests -- edge::`).
/// `axum_only` cases set server flags the edge cannot take per case.
macro_rules! every_server {
    (everywhere: [$($case:ident),* $(,)?], axum_only: [$($local:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = std::sync::Arc::new(eventlite_server::backend::sqlite::SqliteBackend::in_memory());
                    super::$case(super::Server::Backend(backend)).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $local() {
                    let backend = std::sync::Arc::new(eventlite_server::backend::sqlite::SqliteBackend::in_memory());
                    super::$local(super::Server::Backend(backend)).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::on_postgres(|backend| super::$case(super::Server::Backend(backend))).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $local() {
                    crate::support::on_postgres(|backend| super::$local(super::Server::Backend(backend))).await;
                }
            )*
        }

        #[cfg(feature = "edge-tests")]
        mod edge {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Server::Edge(crate::support::EdgeServer::fresh())).await;
                }
            )*
        }
    };
}
