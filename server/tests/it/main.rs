//! Integration tests of the sync server and the native client: end to end over loopback, both backends.

mod convergence;
mod support;
