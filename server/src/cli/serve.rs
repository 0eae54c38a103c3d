//! `eventlite serve`: the sync server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use eventlite::sync::server::Limits;
use eventlite_server::backend::Backend;
use eventlite_server::backend::postgres::PostgresBackend;
use eventlite_server::backend::sqlite::SqliteBackend;
use eventlite_server::{AppState, Auth, Config};

use crate::cli::token::check_jwt_secret;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
pub struct Serve {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "EVENTLITE_LISTEN")]
    listen: SocketAddr,
    /// Directory of the embedded SQLite backend (one database per tenant).
    #[arg(long, default_value = "eventlite-data", env = "EVENTLITE_DATA_DIR")]
    data_dir: PathBuf,
    /// Use PostgreSQL instead of embedded SQLite, e.g. postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long, env = "EVENTLITE_POSTGRES_URL")]
    postgres: Option<String>,
    /// The PostgreSQL schema holding the tables.
    #[arg(long, default_value = "eventlite", env = "EVENTLITE_POSTGRES_SCHEMA")]
    postgres_schema: String,
    /// A file of `token tenant` lines.
    #[arg(long, env = "EVENTLITE_TOKENS_FILE")]
    tokens_file: Option<PathBuf>,
    /// `token:tenant` pairs separated by commas.
    #[arg(long, env = "EVENTLITE_TOKENS", hide_env_values = true)]
    tokens: Option<String>,
    /// Accept HS256 JWTs signed with this secret (claim `tenant`).
    #[arg(long, env = "EVENTLITE_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Serve this directory at / (the demo app, e.g. www/dist); only files under its canonical path.
    #[arg(long)]
    static_dir: Option<PathBuf>,
    /// Allow browser calls from this origin (CORS): scheme://host[:port], e.g. http://localhost:5173, repeatable;
    /// or '*' (alone) for any origin.
    #[arg(long = "allow-origin")]
    allow_origins: Vec<String>,
    /// Connections served at once; more wait in the listen backlog. Keep it below the open-file limit.
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Seconds to wait for a request's head (and, on an idle keep-alive connection, for the next request).
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Seconds a push's body may take to arrive (then 408).
    #[arg(long, default_value_t = 60)]
    body_timeout: u64,
    /// Seconds without any byte read or written after which a connection is closed.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// Open live (SSE) streams per tenant (then 429).
    #[arg(long, default_value_t = 100)]
    max_live_per_tenant: usize,
    /// Bytes per pull page (at least one event per page).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_pull_bytes: usize,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Most events per push.
    #[arg(long, default_value_t = 1_000)]
    max_batch: usize,
    /// Largest event (type + data + metadata, + content type for binary data), bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_event_bytes: usize,
    /// Log as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

pub async fn run_server(serve: Serve) -> Result<(), Failure> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    if serve.json_logs {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        tracing_subscriber::fmt().with_ansi(ansi).with_env_filter(filter).init();
    }
    let mut pairs = Vec::new();
    if let Some(path) = &serve.tokens_file {
        pairs.extend(Auth::parse_token_file(&std::fs::read_to_string(path)?)?);
    }
    if let Some(tokens) = &serve.tokens {
        pairs.extend(Auth::parse_env(tokens)?);
    }
    let mut auth = Auth::from_tokens(pairs).map_err(|error| format!("static tokens: {error}"))?;
    if let Some(secret) = &serve.jwt_secret {
        check_jwt_secret(secret)?;
        auth = auth.with_jwt_secret(secret.as_bytes().to_vec())?;
    }
    if auth.is_empty() {
        return Err("no credentials configured: give --tokens / EVENTLITE_TOKENS, --tokens-file or --jwt-secret".into());
    }
    let config = Config {
        limits: Limits { max_batch: serve.max_batch, max_event_size: serve.max_event_bytes },
        max_body_bytes: serve.max_body_bytes,
        max_pull_bytes: serve.max_pull_bytes,
        max_connections: serve.max_connections,
        header_timeout: Duration::from_secs(serve.header_timeout),
        body_timeout: Duration::from_secs(serve.body_timeout),
        idle_timeout: Duration::from_secs(serve.idle_timeout),
        max_live_per_tenant: serve.max_live_per_tenant,
        static_dir: serve.static_dir.clone(),
        allowed_origins: serve.allow_origins.clone(),
        ..Config::default()
    };
    config.validate()?;
    let mut config = config;
    if let Some(limit) = open_file_limit() {
        // Every connection holds a descriptor, and so do the databases, the listener and the logs: past the limit
        // `accept` fails and nobody is served. Keep a reserve.
        let fit = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX).max(8);
        if config.max_connections > fit {
            tracing::warn!(
                requested = config.max_connections,
                serving = fit,
                open_file_limit = limit,
                "--max-connections lowered to fit the open-file limit (raise it with `ulimit -n`)"
            );
            config.max_connections = fit;
        }
    }
    if let Some(dir) = &config.static_dir
        && !dir.is_dir()
    {
        return Err(format!("--static-dir {}: not a directory", dir.display()).into());
    }
    let backend: Arc<dyn Backend> = match &serve.postgres {
        Some(url) => Arc::new(PostgresBackend::connect(url, &serve.postgres_schema).await?),
        None => Arc::new(SqliteBackend::new(serve.data_dir.clone())?),
    };
    let state = AppState::new(Arc::clone(&backend), auth, config);
    let hub = state.hub();
    let listener_backend = Arc::clone(&backend);
    tokio::spawn(async move {
        if let Err(error) = listener_backend.listen(hub).await {
            tracing::error!(%error, "the notification listener stopped");
        }
    });
    let listener = tokio::net::TcpListener::bind(serve.listen).await?;
    tracing::info!(address = %listener.local_addr()?, backend = backend.name(), "serving");
    eventlite_server::serve(listener, state, async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

/// File descriptors kept for other uses than connections: databases (three files per SQLite tenant), the
/// PostgreSQL pool, the listener, logs.
const FD_RESERVE: u64 = 64;

/// The process's soft open-file limit, where the platform tells it without `unsafe` (Linux: `/proc/self/limits`).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
