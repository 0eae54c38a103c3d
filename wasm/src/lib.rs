//! The wasm-bindgen layer of EventLite: the [`eventlite`] core's public API for JavaScript, with conversions and
//! error mapping only — no store logic lives here. The `eventlite` npm package (`js/`) is the idiomatic API on top;
//! this crate's JS surface is internal to that package.
//!
//! Boundary conventions (see `docs/adr/0005-browser-package.md` and `0006-browser-sync-and-demo.md`):
//! - batches of events go in, and pages of events come out, as one JSON text each: one crossing per call, and event
//!   data (already JSON text in the store) is never re-encoded;
//! - versions and positions are JS numbers (or bigints on input) up to 2^53 - 1;
//! - option objects are serde types read with serde-wasm-bindgen (`deny_unknown_fields`: an unknown field is
//!   `INVALID_ARGUMENT` naming its path); results are plain objects whose TypeScript types are declared here
//!   (`typescript_custom_section`, `unchecked_return_type`), so the JS package never restates them;
//! - the sync round is core's: [`WasmSyncDriver`] and [`WasmLiveFeed`] (`SyncDriver`, `LiveFeed` in JS) tell the JS
//!   transport what to send, how long to wait and when the live stream's head moved;
//! - every failure is thrown as an `Error` named `EventLiteError` with a stable `code` and the details of the core
//!   error (`stream`, `expected`, `actual`, `argument`, ...), see [`error`];
//! - a panic is a bug: the hook installed by every constructor prints it and records it for the JS layer;
//! - subscriptions are cursors polled by JS after each call returns, so no user JS runs while Rust holds a borrow.
//!
//! ```no_run
//! # #[cfg(all(target_family = "wasm", target_os = "unknown"))]
//! # fn demo() -> Result<(), wasm_bindgen::JsValue> {
//! use eventlite_wasm::WasmStore;
//! use wasm_bindgen::JsValue;
//!
//! let mut store = WasmStore::open_memory(JsValue::UNDEFINED)?;
//! let result = store.append_to_stream("order-1".into(), r#"[{"type":"Placed","data":{"total":42}}]"#.into(), "no_stream".into())?;
//! let page = store.read_stream("order-1".into(), JsValue::UNDEFINED)?;
//! # let _ = (result, page);
//! # Ok(())
//! # }
//! ```
#![cfg(all(target_family = "wasm", target_os = "unknown"))]

#[cfg(feature = "bench-baseline")]
mod bench;
pub mod convert;
mod driver;
pub mod error;
mod opfs;
mod panic;
mod projection;
mod store;
mod sync;

#[cfg(feature = "bench-baseline")]
pub use bench::RawSqlite;
pub use driver::{WasmLiveFeed, WasmSyncDriver};
pub use store::{WasmStore, check_store_name};
pub use sync::WasmSyncedSubscription;
