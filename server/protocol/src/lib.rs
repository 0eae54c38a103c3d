//! The parts of EventLite's sync protocol (`docs/sync-protocol.md`) that every server implements the same way and
//! that need neither HTTP types nor storage: who a bearer token names ([`auth`]), what a cursor means
//! ([`cursor`]), how a request's query string and `Content-Type` are read and in which order a push's checks run
//! ([`request`]), what a live stream's frames say ([`live`]), and which status and code every refusal gets
//! ([`error`]).
//!
//! Why a crate of its own: the axum server (`eventlite-server`) and the Cloudflare Durable Object backend
//! (`server/edge/`, through the `eventlite-edge-wasm` crate compiled to wasm) must answer byte for byte alike, and
//! a rule written twice drifts. Core is the wrong home: these rules are the server's (tokens, tenants, HTTP
//! statuses) and need `hmac`/`sha2`, which core does not depend on; the server crate is the wrong home too, since
//! it pulls in axum, tokio and SQLite. This crate depends on core without its `sqlite` feature.
//!
//! ```
//! use eventlite_protocol::auth::Auth;
//!
//! let auth = Auth::from_tokens([("t-acme".to_owned(), "acme".to_owned())]).unwrap();
//! let (tenant, expires) = auth.authenticate_bearer(Some("Bearer t-acme")).unwrap();
//! assert_eq!((tenant.as_str(), expires), ("acme", None));
//! assert_eq!(auth.authenticate_bearer(None).unwrap_err().code, "UNAUTHORIZED");
//! ```

pub mod auth;
pub mod cursor;
pub mod error;
pub mod live;
pub mod request;

pub use auth::{Auth, Tenant};
pub use error::ProtocolError;
