//! Integration tests for the `eventlite` crate: behaviour across reopenings, processes and crashes.
//! Native only: wasm32 has neither processes nor a file system here; its unit tests run in Node.
#![cfg(not(all(target_family = "wasm", target_os = "unknown")))]

mod archive;
mod child;
mod crash;
mod files;
mod model;
mod processes;
mod projections;
mod read_only;
mod subscribers;
mod sync;
mod upgrade;
