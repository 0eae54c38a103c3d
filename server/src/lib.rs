//! The EventLite sync server and its storage backends; the devices it serves sync with `eventlite-client`.
//!
//! ```text
//!   native app ──► eventlite_client ──HTTP──► app() (axum) ──► Backend ─┬─► SqliteBackend (core Store per tenant)
//!   (core Store)     (push / pull / SSE)           auth, limits, metrics   └─► PostgresBackend (+ LISTEN/NOTIFY)
//! ```
//!
//! The protocol is in `docs/sync-protocol.md`; the sync rules themselves (what to push, rebasing, conflicts) live in
//! core's `eventlite::sync`, which this crate only transports. [`app()`](fn@app) builds the router apart from
//! `main`, so tests drive it with `tower::ServiceExt::oneshot` or serve it on port 0.
//!
//! ```no_run
//! use std::sync::Arc;
//! use eventlite_server::{AppState, Auth, Config, serve, backend::sqlite::SqliteBackend};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let backend = Arc::new(SqliteBackend::new("data".into())?);
//! let auth = Auth::from_tokens([("secret-token".to_owned(), "demo".to_owned())]);
//! let state = AppState::new(backend, auth?, Config::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // Connection bound and timeouts from the Config; returns after ctrl-c, once in-flight requests finished.
//! serve(listener, state, async { tokio::signal::ctrl_c().await.unwrap_or_default() }).await?;
//! # Ok(())
//! # }
//! ```

pub mod app;
pub mod auth;
pub mod backend;
pub mod connection;
pub mod cursor;
pub mod error;
pub mod live;
pub mod metrics;

pub use app::{AppState, Config, app};
pub use auth::{Auth, Tenant};
pub use connection::serve;
pub use error::ApiError;
