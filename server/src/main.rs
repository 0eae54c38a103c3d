//! `eventlite`: the sync server (`serve`) and small client tools (`append`, `sync`, `log`, `token`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use eventlite::sync::server::Limits;
use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, Store};
use eventlite_client::SyncClient;
use eventlite_server::backend::Backend;
use eventlite_server::backend::postgres::PostgresBackend;
use eventlite_server::backend::sqlite::SqliteBackend;
use eventlite_server::{AppState, Auth, Config};

#[derive(Parser)]
#[command(name = "eventlite", version, about = "EventLite: sync server and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the sync server.
    Serve(Serve),
    /// Appends one event to a local store.
    Append {
        /// The local store file.
        #[arg(long)]
        store: PathBuf,
        /// The stream.
        #[arg(long)]
        stream: String,
        /// The event type.
        #[arg(long = "type")]
        event_type: String,
        /// JSON data.
        #[arg(long, default_value = "{}")]
        data: String,
        /// `any`, `no_stream`, `stream_exists` or a version number.
        #[arg(long, default_value = "any")]
        expected: String,
    },
    /// Syncs a local store with a server once, or keeps following it with `--live`.
    Sync {
        /// The local store file.
        #[arg(long)]
        store: PathBuf,
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The bearer token.
        #[arg(long, env = "EVENTLITE_TOKEN")]
        token: String,
        /// Keep following live notifications until Ctrl-C.
        #[arg(long)]
        live: bool,
    },
    /// Prints a local store's log, one JSON line per event, and its sync status.
    Log {
        /// The local store file.
        #[arg(long)]
        store: PathBuf,
    },
    /// Mints an HS256 JWT for a tenant.
    Token {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The HS256 secret.
        #[arg(long, env = "EVENTLITE_JWT_SECRET")]
        secret: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
}

#[derive(Parser)]
struct Serve {
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eventlite: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(serve) => run_server(serve).await,
        Command::Append { store, stream, event_type, data, expected } => {
            let expected = match expected.as_str() {
                "any" => ExpectedVersion::Any,
                "no_stream" => ExpectedVersion::NoStream,
                "stream_exists" => ExpectedVersion::StreamExists,
                version => ExpectedVersion::Exact(version.parse().map_err(|_| format!("bad --expected {version:?}"))?),
            };
            let store = Store::open(store)?;
            let result = store.append_to_stream(&stream, &[NewEvent::from_json_text(event_type, data)], expected)?;
            let position = result.positions.first().copied().unwrap_or_default();
            println!("{}", serde_json::json!({ "stream_version": result.stream_version, "position": position }));
            Ok(())
        }
        Command::Sync { store, server, token, live } => {
            let client = SyncClient::new(&server, &token, Store::open(store)?).on_conflict(|conflict| {
                eprintln!("conflict: {} {} {}", conflict.stream, conflict.event_id, conflict.message)
            });
            if !live {
                let report = client.sync_with_retry(5).await?;
                println!(
                    "{}",
                    serde_json::json!({ "pushed": report.pushed, "pulled": report.pulled, "conflicts": report.conflicts.len() })
                );
                return Ok(());
            }
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                stop.send_replace(true);
            });
            client
                .run_live(stopped, |report| {
                    println!("{}", serde_json::json!({ "pushed": report.pushed, "pulled": report.pulled, "conflicts": report.conflicts.len() }));
                })
                .await;
            Ok(())
        }
        Command::Log { store } => {
            let store = Store::open(store)?;
            let mut after = 0;
            loop {
                let page = store.read_all(&ReadAllOptions::forwards().after(after))?;
                let Some(last) = page.events.last() else { break };
                after = last.position;
                for event in &page.events {
                    let data = match &event.data {
                        eventlite::EventData::Json(text) => text.clone(),
                        eventlite::EventData::Binary { content_type, bytes } => {
                            format!("\"<{} bytes of {content_type}>\"", bytes.len())
                        }
                    };
                    println!(
                        "{{\"position\":{},\"stream\":{:?},\"version\":{},\"type\":{:?},\"data\":{data}}}",
                        event.position, event.stream, event.version, event.event_type
                    );
                }
            }
            let status = store.sync_status()?;
            eprintln!(
                "replica {}: {} pending, confirmed through {}, {} conflicts",
                status.replica_id, status.pending, status.confirmed_through, status.conflicts
            );
            Ok(())
        }
        Command::Token { tenant, secret, ttl } => {
            check_jwt_secret(&secret)?;
            let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + ttl;
            println!("{}", eventlite_server::auth::mint_jwt(secret.as_bytes(), &tenant, Some(exp)));
            Ok(())
        }
    }
}

/// A short secret would let anyone who finds it mint tokens for any tenant: refuse it rather than start.
fn check_jwt_secret(secret: &str) -> Result<(), Failure> {
    eventlite_server::auth::check_jwt_secret(secret.as_bytes()).map_err(|error| {
        format!(
            "{error} (--jwt-secret / EVENTLITE_JWT_SECRET, or token --secret); or leave it unset to use static \
             tokens only"
        )
        .into()
    })
}

async fn run_server(serve: Serve) -> Result<(), Failure> {
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
