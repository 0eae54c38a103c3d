//! Core's sync round for the JS transport, as the wasm layer binds it (`wasm/src/driver.rs`): `SyncDriver` says what
//! to send, what an answer means, when to retry and how long to wait; `LiveFeed` reads the live stream's bytes and
//! says how long to wait before reconnecting. The transport (`js/src/worker/sync.ts`) runs unchanged over either.

use std::time::Duration;

use eventlite::Store;
use eventlite::sync::{
    DriverStep, HttpMethod, LiveFeed, Retries, RoundError, RoundSettings, SyncDriver, SyncError, SyncReport,
};
use napi::Env;
use napi::bindgen_prelude::{Either, Uint8Array, Undefined, Unknown};
use napi_derive::napi;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::convert::{self, Count, LimitsJs, Object};
use crate::error::{AddonError, AddonResult, throw};
use crate::store::{NodeStore, conflicts_to_json};

/// `retries`: `'forever'`, `'never'` or `{ transient: n }`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RetriesJs {
    Forever,
    Never,
    Transient(Count),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DriverOptionsJs {
    batch_size: Option<Count>,
    limits: Option<Object<LimitsJs>>,
    retries: Option<RetriesJs>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportJson {
    pushed: usize,
    pulled: usize,
    conflicts: usize,
    rewound_from: Option<u64>,
    log_reset: bool,
}

impl From<&SyncReport> for ReportJson {
    fn from(report: &SyncReport) -> Self {
        ReportJson {
            pushed: report.pushed,
            pulled: report.pulled,
            conflicts: report.conflicts.len(),
            rewound_from: report.rewound_from,
            log_reset: report.log_reset,
        }
    }
}

fn shape(error: &RoundError) -> Value {
    AddonError::from(error).into_shape()
}

fn millis(delay: Duration) -> f64 {
    delay.as_secs_f64() * 1000.0
}

/// A fresh seed for the backoff's jitter (it spreads reconnecting clients and needs no cryptographic randomness):
/// std's randomly keyed hasher, whose keys differ between processes and between calls.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}

/// One sync: rounds until one succeeds or the retry policy gives up (core's [`SyncDriver`]).
#[napi(js_name = "SyncDriver")]
pub struct NodeSyncDriver {
    store: Option<Store>,
    driver: SyncDriver,
}

impl NodeSyncDriver {
    fn store(&self) -> AddonResult<&Store> {
        self.store.as_ref().ok_or_else(AddonError::closed)
    }
}

#[napi]
impl NodeSyncDriver {
    /// A sync of `store` with `options` (see `SyncDriverOptions`); nothing is sent before the first `nextStep`.
    #[napi(constructor)]
    pub fn new(env: Env, store: &NodeStore, options: Unknown<'_>) -> napi::Result<NodeSyncDriver> {
        let driver = (|| {
            let options: DriverOptionsJs = convert::options(&env, options, "options")?;
            let mut settings = RoundSettings::default();
            if let Some(Count(size)) = options.batch_size {
                settings.batch_size = size;
            }
            if let Some(Object(limits)) = options.limits {
                settings.budget = limits.budget();
            }
            let retries = match options.retries {
                None | Some(RetriesJs::Forever) => Retries::Forever,
                Some(RetriesJs::Never) => Retries::Never,
                Some(RetriesJs::Transient(Count(rounds))) => {
                    Retries::Transient(u32::try_from(rounds).unwrap_or(u32::MAX))
                }
            };
            let store = store.store()?.clone();
            Ok(NodeSyncDriver { store: Some(store), driver: SyncDriver::new(settings, retries, seed()) })
        })();
        throw(&env, driver)
    }

    /// What to do next: `{ kind: 'send' | 'wait' | 'done' | 'failed', ... }` (`SyncStepWire`).
    #[napi(js_name = "nextStep")]
    pub fn next_step(&mut self, env: Env) -> napi::Result<Value> {
        let step = (|| {
            let store = self.store()?.clone();
            Ok(match self.driver.next_step(&store) {
                DriverStep::Send(request) => {
                    let body = request.body().map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
                    let method = match request.method {
                        HttpMethod::Get => "GET",
                        HttpMethod::Post => "POST",
                    };
                    json!({ "kind": "send", "method": method, "path": request.path_and_query(), "body": body })
                }
                DriverStep::Wait(delay) => {
                    let error = self.driver.last_error().map(shape).unwrap_or_else(|| shape(&unknown()));
                    json!({ "kind": "wait", "delayMs": millis(delay), "error": error })
                }
                DriverStep::Done(report) => json!({ "kind": "done", "report": ReportJson::from(&report) }),
                DriverStep::Failed(error) => json!({ "kind": "failed", "error": shape(&error) }),
            })
        })();
        throw(&env, step)
    }

    /// The server answered the request of the last `send` step with `status` and `body`.
    #[napi(js_name = "onResponse")]
    pub fn on_response(&mut self, status: u16, body: Uint8Array) {
        if let Some(store) = self.store.clone() {
            self.driver.on_response(&store, status, &body);
        }
    }

    /// The request of the last `send` step failed before an answer: refused, cut or timed out.
    #[napi(js_name = "onTransportError")]
    pub fn on_transport_error(&mut self, message: String) {
        if let Some(store) = self.store.clone() {
            self.driver.on_transport_error(&store, message);
        }
    }

    /// The events set aside since the last call, as a JSON array of conflicts, or `undefined` when there are none.
    #[napi(js_name = "takeNewConflicts")]
    pub fn take_new_conflicts(&mut self, env: Env) -> napi::Result<Either<String, Undefined>> {
        let conflicts = self.driver.take_new_conflicts();
        if conflicts.is_empty() {
            return Ok(Either::B(()));
        }
        throw(&env, conflicts_to_json(&conflicts).map(Either::A))
    }

    /// Whether the local log changed (events confirmed, rebased or set aside) since the last call.
    #[napi(js_name = "takeLogChanged")]
    pub fn take_log_changed(&mut self) -> bool {
        self.driver.take_log_changed()
    }

    /// The failure of the last round, if it failed.
    #[napi(js_name = "lastError")]
    pub fn last_error(&self) -> Either<Value, Undefined> {
        match self.driver.last_error() {
            Some(error) => Either::A(shape(error)),
            None => Either::B(()),
        }
    }

    /// Forget the backoff: the next wait is the shortest (the network came back).
    #[napi(js_name = "retryNow")]
    pub fn retry_now(&mut self) {
        self.driver.retry_now();
    }

    /// Releases the driver's handle on the store.
    #[napi]
    pub fn free(&mut self) {
        self.store = None;
    }
}

/// A `wait` step always follows a recorded failure; this stands in should core ever not record one.
fn unknown() -> RoundError {
    RoundError::Sync(SyncError::Protocol("the round failed".into()))
}

/// `LiveLossWire`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LossJs {
    status: Option<u16>,
    body: Option<String>,
    message: Option<String>,
}

/// The live notifications of one sync (core's [`LiveFeed`]).
#[napi(js_name = "LiveFeed")]
pub struct NodeLiveFeed {
    feed: LiveFeed,
    /// The protocol violation `onBytes` threw, which is why the connection is dropped.
    broken: Option<RoundError>,
}

#[napi]
impl NodeLiveFeed {
    /// A feed with no connection yet.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)] // a JS constructor, not a Rust API
    pub fn new() -> NodeLiveFeed {
        NodeLiveFeed { feed: LiveFeed::new(seed()), broken: None }
    }

    /// The longest silence (in ms) of a live connection before it counts as dead.
    #[napi(js_name = "silenceMs")]
    pub fn silence_ms() -> f64 {
        millis(LiveFeed::SILENCE)
    }

    /// A connection begins: forget any partial frame of the previous one.
    #[napi(js_name = "onConnect")]
    pub fn on_connect(&mut self) {
        self.broken = None;
        self.feed.on_connect();
    }

    /// Reads a chunk of the stream; true when it completed a `head` event. Throws `SYNC_PROTOCOL` when the stream
    /// is not the protocol's.
    #[napi(js_name = "onBytes")]
    pub fn on_bytes(&mut self, env: Env, chunk: Uint8Array) -> napi::Result<bool> {
        let read = self.feed.on_bytes(&chunk).map_err(|error| {
            let thrown = AddonError::from(&error);
            self.broken = Some(error);
            thrown
        });
        throw(&env, read)
    }

    /// A round succeeded while connected: the next loss backs off afresh.
    #[napi(js_name = "onSynced")]
    pub fn on_synced(&mut self) {
        self.feed.on_synced();
    }

    /// The connection ended or failed: `{ delayMs, error }`, how long to wait before connecting again.
    #[napi(js_name = "onLost")]
    pub fn on_lost(&mut self, env: Env, loss: Unknown<'_>) -> napi::Result<Value> {
        let retry = (|| {
            let error = match self.broken.take() {
                Some(error) => error,
                None => match convert::options::<LossJs>(&env, loss, "loss")? {
                    LossJs { status: Some(status), body, .. } => {
                        RoundError::from_http(status, body.unwrap_or_default().as_bytes())
                    }
                    LossJs { message, .. } => {
                        RoundError::Transport(message.unwrap_or_else(|| "the live connection was lost".into()))
                    }
                },
            };
            let delay = self.feed.on_lost(&error);
            Ok(json!({ "delayMs": millis(delay), "error": shape(&error) }))
        })();
        throw(&env, retry)
    }

    /// Skip the rest of the backoff (the network came back).
    #[napi(js_name = "resetBackoff")]
    pub fn reset_backoff(&mut self) {
        self.feed.reset_backoff();
    }

    /// Releases the feed (nothing to release natively; the wasm class's surface).
    #[napi]
    pub fn free(&self) {}
}
