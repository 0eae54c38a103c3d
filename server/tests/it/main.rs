//! Integration tests of the sync server and the native client: end to end over loopback, both backends.

#[macro_use]
mod support;

mod backend_suite;
mod cli;
mod cli_tools;
mod convergence;
#[cfg(feature = "edge-tests")]
mod edge;
mod faults;
mod hostile;
mod limits;
mod live;
mod postgres;
mod protocol;
mod reset;
mod resources;
