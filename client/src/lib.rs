//! EventLite's device sync client: syncs a local [`eventlite::Store`] with an EventLite server over HTTP.
//!
//! The rules are core's: [`eventlite::sync::SyncDriver`] decides what to push and pull, how to handle a push refused
//! as too large, which failures to retry and how long to wait, and [`eventlite::sync::LiveFeed`] reads the live
//! notifications. This crate only moves bytes (reqwest) and sleeps (tokio). It depends on core, an HTTP client and
//! tokio's timer: never on the server's crates, so a phone or desktop app can depend on it.
//!
//! Every step is safe to retry: pushes are recognised by event id, and a pull page is applied with its cursor in one
//! local transaction, so a connection cut at any moment loses nothing and duplicates nothing: sync again.
//!
//! # HTTPS
//!
//! With the `tls` feature (on by default) the client speaks `https://` as well as `http://`, the same way on
//! Android, iOS, Linux, macOS and Windows and with no platform setup: rustls with the `ring` crypto provider,
//! trusting Mozilla's root certificates (compiled in from `webpki-roots`) and any root added with
//! [`SyncClient::with_root_certificate_pem`] (a private deployment's CA). The OS trust store is not consulted: on
//! Android that needs a JNI component the app would have to initialise; an app that wants it passes its own
//! `reqwest::Client` to [`SyncClient::with_http_client`]. A certificate the client does not trust fails the round
//! with a retryable transport error (`NETWORK`) that names the problem (`invalid peer certificate: UnknownIssuer`).
//!
//! Building: `ring` compiles some C and assembly, so cross builds need a C compiler for the target, which they
//! already need for core's SQLite: the NDK's clang for Android (cargo-ndk), Xcode's for iOS, MSVC or clang on
//! Windows. Nothing else TLS adds compiles C; no CMake, NASM or Perl (aws-lc-rs, reqwest's default, needs CMake).
//! Build with `default-features = false` for a plain-HTTP client without any of it.
//!
//! ```no_run
//! # async fn run() -> Result<(), eventlite_client::ClientError> {
//! use eventlite::{ExpectedVersion, NewEvent, Store};
//! use eventlite_client::SyncClient;
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

mod live;
mod sync_client;
#[cfg(feature = "tls")]
mod tls;

pub use eventlite::sync::{Backoff, SyncReport};
pub use sync_client::SyncClient;

/// Why a sync failed: core's [`eventlite::sync::RoundError`] (transport, server answer, or local store). Nothing is
/// lost: retry when [`ClientError::is_retryable`] says so.
pub type ClientError = eventlite::sync::RoundError;
