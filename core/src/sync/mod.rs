//! The sync engine: what a replica pushes, how it applies what it pulls, and how a server applies pushes. No I/O.
//!
//! A central server orders events; replicas (devices) append locally while offline and converge through it. This
//! module produces and consumes the protocol's [`message`]s; transports (HTTP natively, `fetch` in the browser, axum on
//! the server) live outside core and only move those messages. The protocol is specified in `docs/sync-protocol.md`.
//!
//! Replica side ([`replica`], methods on [`crate::Store`]):
//! - every local append records its expectation; its events are **pending** until the server confirms them;
//! - [`crate::Store::next_push`] gives the pending events in local position order, whole local batches at a time,
//!   within the server's limits ([`PushBudget`]); a batch over them alone goes to the conflicts list;
//! - [`crate::Store::apply_push_response`] records rejected events (and this replica's later pending events in the
//!   same stream) in the conflicts table and removes them from the log;
//! - [`crate::Store::apply_pull`] inserts the server's events in server order, then rebases the remaining pending
//!   events after them. Confirmed events always form a prefix of the local log, identical event for event and version
//!   for version to the server's log.
//!
//! Server side ([`server`]): [`server::apply_push`] applies a push to a store that is the server's log, checking each
//! event's expectation against the server's stream, and [`server::read_pull`] pages the log after a position.
//!
//! The sync round ([`round`], [`driver`], [`backoff`], [`live`]): what a transport sends next and what each answer
//! means, retries with backoff and jitter, and the live notifications, written once for every transport. A transport
//! moves bytes: it sends the [`SyncRequest`]s a [`SyncDriver`] asks for, hands back the answers, sleeps when told to,
//! and feeds the live stream's bytes to a [`LiveFeed`].
//!
//! Local subscribers ([`local`]) choose confirmed events only (never rewound) or also pending ones, in which case
//! they receive a [`local::SyncedItem::Rewound`] notice when a rebase rewrote the log after a position.
//!
//! ```
//! use eventlite::sync::server;
//! use eventlite::{ExpectedVersion, NewEvent, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Store::open_in_memory()?; // the server's log
//! let device = Store::open_in_memory()?;
//! device.append_to_stream("todo-1", &[NewEvent::json("Added", &"milk")], ExpectedVersion::NoStream)?;
//!
//! let push = device.next_push(100)?.expect("one pending event");
//! let response = server::apply_push(&hub, &push, &server::Limits::default())?;
//! device.apply_push_response(&push, &response)?;
//! let page = server::read_pull(&hub, 0, 100)?;
//! device.apply_pull(&page.into_response(|position| position.to_string()))?;
//! assert_eq!(device.sync_status()?.pending, 0);
//! # Ok(())
//! # }
//! ```

pub mod backoff;
pub mod base64;
#[cfg(feature = "sqlite")]
pub mod driver;
pub mod error;
pub mod live;
#[cfg(feature = "sqlite")]
pub mod local;
pub mod message;
#[cfg(feature = "sqlite")]
pub mod replica;
#[cfg(feature = "sqlite")]
pub mod round;
pub mod server;

pub use backoff::Backoff;
#[cfg(feature = "sqlite")]
pub use driver::{DriverStep, Retries, SyncDriver};
pub use error::{RoundError, SyncError};
pub use live::LiveFeed;
#[cfg(feature = "sqlite")]
pub use local::{SyncMode, SyncedItem, SyncedSubscription};
pub use message::{
    PullResponse, PushOutcome, PushRequest, PushResponse, RejectionCode, ServerEvent, WireData, WireEvent, WireExpected,
};
#[cfg(feature = "sqlite")]
pub use replica::{Conflict, NextPush, PullApplied, PushApplied, PushBudget, SyncStatus};
#[cfg(feature = "sqlite")]
pub use round::{HttpMethod, RoundSettings, SyncMessage, SyncReport, SyncRequest, SyncRound, SyncStep};
pub use server::{Limits, PageBudget, PullPage, PushRules, StoredMatch, Verdict};
