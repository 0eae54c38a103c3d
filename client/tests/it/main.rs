//! The device sync client's integration tests: what it depends on, and its transport against an HTTP fake that
//! answers with core's server-side rules, over plain HTTP and over HTTPS (the real server's tests drive it end to
//! end as well).

mod dependencies;
#[cfg(feature = "tls")]
mod tls;
mod transport;
