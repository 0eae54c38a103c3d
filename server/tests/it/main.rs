//! Integration tests of the sync server and the native client: end to end over loopback, both backends.

mod backend_suite;
mod convergence;
mod hostile;
mod live;
mod support;
