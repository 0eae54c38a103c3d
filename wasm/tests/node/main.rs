//! The binding in Node (memory stores): every operation through the JS-facing API, every error's JS shape, and bad
//! input leaving the data unchanged. Run with `cargo test -p eventlite-wasm --target wasm32-unknown-unknown`.
#![cfg(all(target_family = "wasm", target_os = "unknown"))]

#[path = "../support/mod.rs"]
mod support;

mod append;
mod bad_input;
mod read;
mod subscription;
mod sync;
