//! The Node-API addon of the `eventlite` npm package (napi-rs): file-backed stores — SQLite in WAL mode through the
//! native [`eventlite`] core — for Node 20+, Electron's main process, Bun and Deno. Its classes have the surface of
//! the wasm layer's (`WasmStore`, `SyncDriver`, `LiveFeed`, `WasmSyncedSubscription`, `checkStoreName`; see
//! `wasm/src`), so the package's host (`js/src/worker/host.ts`) and sync transport run unchanged over either
//! backend. Like the wasm layer, it holds conversions and error mapping only: the store, its rules and the sync
//! round are core's.
//!
//! Boundary conventions (the wasm layer's):
//! - batches of events go in, and pages of events come out, as one JSON text each;
//! - versions and positions are JS numbers (or bigints on input) up to 2^53 - 1;
//! - option objects are checked field by field (`deny_unknown_fields`), an unknown or malformed field is
//!   `INVALID_ARGUMENT` naming its path;
//! - every failure is thrown as an `Error` named `EventLiteError` with a stable `code` and the details of the core
//!   error ([`error`]);
//! - calls are synchronous on the JS thread: `appendToStream` returns after the commit, so the package's promise
//!   resolves only once the events are in the database;
//! - subscriptions and query watches are cursors polled by JS; the first one starts a thread that reports commits (this process's and
//!   other processes', by `PRAGMA data_version`) through a thread-safe function, so the host polls again.
//!
//! From JS (the package loads the platform package's `.node` file; see `js/src/addon.ts`):
//!
//! ```js
//! const { WasmStore } = require('@eventlite/node-linux-x64-gnu');
//! const store = WasmStore.openFile('app.db', { synchronous: 'normal' });
//! store.appendToStream('order-1', JSON.stringify([{ type: 'Placed', data: { total: 42 } }]), 'no_stream');
//! const page = store.readStream('order-1', undefined); // { events: '[...]', version: 1 }
//! ```

pub mod convert;
mod driver;
pub mod error;
// Before `projection`: napi-derive names the class of a `#[napi] impl` block by the struct's `js_name`
// (`WasmStore`) only once it has expanded the struct, in source order; an impl expanded first exports the class as
// `NodeStore`, and the package finds no `WasmStore`.
mod store;

mod projection;

pub use driver::{NodeLiveFeed, NodeSyncDriver};
pub use store::{AppendResultWire, LogPageWire, NodeStore, NodeSyncedSubscription, StreamPageWire, check_store_name};
