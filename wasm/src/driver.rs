//! Core's sync round for the JS transport: [`WasmSyncDriver`] (`SyncDriver` in JS) says what to send, what an answer
//! means, when to retry and how long to wait; [`WasmLiveFeed`] (`LiveFeed`) reads the live stream's bytes and says
//! how long to wait before reconnecting. The transport (`js/src/worker/sync.ts`) only sends requests, sleeps and
//! feeds bytes: no rule of the round is written in JS.
//!
//! Randomness for the backoff's jitter comes from JS's `Math.random`, time from the transport's timers.

use std::time::Duration;

use eventlite::Store;
use eventlite::sync::{
    DriverStep, HttpMethod, LiveFeed, Retries, RoundError, RoundSettings, SyncDriver, SyncError, SyncReport,
};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::WasmStore;
use crate::convert::{self, Count, LimitsJs, Object, to_js};
use crate::error::JsError;
use crate::sync::conflicts_to_json;

type JsResult<T> = Result<T, JsValue>;

#[wasm_bindgen(typescript_custom_section)]
const TS_DRIVER: &str = r#"
/** `new SyncDriver(store, options)`. */
export interface SyncDriverOptions {
  /** Events per push (whole local batches) and per pull page; default 500. */
  batchSize?: number;
  /** The server's push limits; each defaults to the reference server's. */
  limits?: { maxEvents?: number; maxBytes?: number; maxEventSize?: number };
  /** When a failed round is tried again: `'forever'` (default; non-retryable failures at the longest delay),
   * `'never'`, or `{ transient: n }` (retryable failures only, up to n rounds in all). */
  retries?: 'forever' | 'never' | { transient: number };
}
/** What one successful round did. */
export interface RoundReportWire {
  pushed: number;
  pulled: number;
  /** Events that left their streams for the conflicts list during the round. */
  conflicts: number;
  /** When the local log was rewritten, the lowest position after which it was. */
  rewoundFrom: number | null;
  /** The server answered `LOG_RESET` (its data was lost or restored from a backup) and sync started over. */
  logReset: boolean;
}
/** What the transport does next (`SyncDriver.nextStep`). */
export type SyncStepWire =
  /** Send this request to the server's base URL + `path` (bearer token, JSON `body` when there is one), then call
   * `onResponse` or `onTransportError`. */
  | { kind: 'send'; method: 'GET' | 'POST'; path: string; body: string | null }
  /** The round failed with `error` (also `lastError()`); wait `delayMs`, then ask again: a new round starts. */
  | { kind: 'wait'; delayMs: number; error: WasmErrorShape }
  /** The round succeeded: the sync is done (the driver is spent). */
  | { kind: 'done'; report: RoundReportWire }
  /** The sync failed for good (the retry policy gave up). */
  | { kind: 'failed'; error: WasmErrorShape };
/** How a live connection ended (`LiveFeed.onLost`): the server's answer other than 200, or a transport failure
 * (refused, cut, ended, silent for longer than `LiveFeed.silenceMs()`). */
export type LiveLossWire = { status: number; body: string } | { message: string };
/** When to connect again, and why the connection was lost (the status's `lastError`). */
export interface LiveRetryWire {
  delayMs: number;
  error: WasmErrorShape;
}
"#;

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

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum StepJson {
    Send { method: &'static str, path: String, body: Option<String> },
    Wait { delay_ms: f64, error: Shape },
    Done { report: ReportJson },
    Failed { error: Shape },
}

/// An error as a plain object inside a serialised value.
struct Shape(JsValue);

impl Serialize for Shape {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&self.0, serializer)
    }
}

fn shape(error: &RoundError) -> Shape {
    Shape(JsError::from(error).into_shape())
}

fn millis(delay: Duration) -> f64 {
    delay.as_secs_f64() * 1000.0
}

/// A fresh seed for the backoff's jitter: 53 random bits.
fn seed() -> u64 {
    (js_sys::Math::random() * convert::MAX_SAFE_INTEGER as f64) as u64
}

/// One sync: rounds until one succeeds or the retry policy gives up (core's [`SyncDriver`]). It holds a handle on
/// the store's connection: `free()` it before closing the store.
#[wasm_bindgen(js_name = SyncDriver)]
pub struct WasmSyncDriver {
    store: Store,
    driver: SyncDriver,
}

#[wasm_bindgen(js_class = SyncDriver)]
impl WasmSyncDriver {
    /// A sync of `store` with `options` (see `SyncDriverOptions`); nothing is sent before the first `nextStep`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        store: &WasmStore,
        #[wasm_bindgen(unchecked_param_type = "SyncDriverOptions | undefined")] options: JsValue,
    ) -> JsResult<WasmSyncDriver> {
        let options: DriverOptionsJs = convert::options(&options, "options")?;
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
            Some(RetriesJs::Transient(Count(rounds))) => Retries::Transient(u32::try_from(rounds).unwrap_or(u32::MAX)),
        };
        let store = store.store()?.clone();
        Ok(WasmSyncDriver { store, driver: SyncDriver::new(settings, retries, seed()) })
    }

    /// What to do next. Reads the store; may set aside local batches no push can carry (`takeNewConflicts`).
    #[wasm_bindgen(js_name = nextStep, unchecked_return_type = "SyncStepWire")]
    pub fn next_step(&mut self) -> JsResult<JsValue> {
        let step = match self.driver.next_step(&self.store) {
            DriverStep::Send(request) => {
                let body = request.body().map(|bytes| String::from_utf8(bytes).expect("serde_json writes UTF-8"));
                let method = match request.method {
                    HttpMethod::Get => "GET",
                    HttpMethod::Post => "POST",
                };
                StepJson::Send { method, path: request.path_and_query(), body }
            }
            DriverStep::Wait(delay) => {
                let error = self.driver.last_error().map(shape).unwrap_or_else(|| shape(&unknown()));
                StepJson::Wait { delay_ms: millis(delay), error }
            }
            DriverStep::Done(report) => StepJson::Done { report: ReportJson::from(&report) },
            DriverStep::Failed(error) => StepJson::Failed { error: shape(&error) },
        };
        Ok(to_js(&step)?)
    }

    /// The server answered the request of the last `send` step with `status` and `body`.
    #[wasm_bindgen(js_name = onResponse)]
    pub fn on_response(&mut self, status: u16, body: &[u8]) {
        self.driver.on_response(&self.store, status, body);
    }

    /// The request of the last `send` step failed before an answer: refused, cut or timed out.
    #[wasm_bindgen(js_name = onTransportError)]
    pub fn on_transport_error(&mut self, message: String) {
        self.driver.on_transport_error(&self.store, message);
    }

    /// The events set aside since the last call, as a JSON array of conflicts, or `undefined` when there are none.
    #[wasm_bindgen(js_name = takeNewConflicts)]
    pub fn take_new_conflicts(&mut self) -> JsResult<Option<String>> {
        let conflicts = self.driver.take_new_conflicts();
        if conflicts.is_empty() {
            return Ok(None);
        }
        Ok(Some(conflicts_to_json(&conflicts)?))
    }

    /// Whether the local log changed (events confirmed, rebased or set aside) since the last call: subscribers have
    /// something to read.
    #[wasm_bindgen(js_name = takeLogChanged)]
    pub fn take_log_changed(&mut self) -> bool {
        self.driver.take_log_changed()
    }

    /// The failure of the last round, if it failed.
    #[wasm_bindgen(js_name = lastError, unchecked_return_type = "WasmErrorShape | undefined")]
    pub fn last_error(&self) -> JsValue {
        self.driver.last_error().map_or(JsValue::UNDEFINED, |error| JsError::from(error).into_shape())
    }

    /// Forget the backoff: the next wait is the shortest (the network came back).
    #[wasm_bindgen(js_name = retryNow)]
    pub fn retry_now(&mut self) {
        self.driver.retry_now();
    }
}

/// A `wait` step always follows a recorded failure; this stands in should core ever not record one.
fn unknown() -> RoundError {
    RoundError::Sync(SyncError::Protocol("the round failed".into()))
}

/// The live notifications of one sync (core's [`LiveFeed`]): the current connection's partial frame and the
/// backoff between connections.
#[wasm_bindgen(js_name = LiveFeed)]
pub struct WasmLiveFeed {
    feed: LiveFeed,
    /// The protocol violation `onBytes` threw, which is why the connection is dropped.
    broken: Option<RoundError>,
}

/// `LiveLossWire`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LossJs {
    status: Option<u16>,
    body: Option<String>,
    message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RetryJson {
    delay_ms: f64,
    error: Shape,
}

impl Default for WasmLiveFeed {
    fn default() -> Self {
        WasmLiveFeed::new()
    }
}

#[wasm_bindgen(js_class = LiveFeed)]
impl WasmLiveFeed {
    /// A feed with no connection yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> WasmLiveFeed {
        WasmLiveFeed { feed: LiveFeed::new(seed()), broken: None }
    }

    /// The longest silence (in ms) of a live connection before it counts as dead.
    #[wasm_bindgen(js_name = silenceMs)]
    pub fn silence_ms() -> f64 {
        millis(LiveFeed::SILENCE)
    }

    /// A connection begins: forget any partial frame of the previous one.
    #[wasm_bindgen(js_name = onConnect)]
    pub fn on_connect(&mut self) {
        self.broken = None;
        self.feed.on_connect();
    }

    /// Reads a chunk of the stream; true when it completed a `head` event (sync now). Throws `SYNC_PROTOCOL` when the
    /// stream is not the protocol's: drop the connection, and `onLost` reports that.
    #[wasm_bindgen(js_name = onBytes)]
    pub fn on_bytes(&mut self, chunk: &[u8]) -> JsResult<bool> {
        self.feed.on_bytes(chunk).map_err(|error| {
            let thrown = JsError::from(&error).into();
            self.broken = Some(error);
            thrown
        })
    }

    /// A round succeeded while connected: the next loss backs off afresh.
    #[wasm_bindgen(js_name = onSynced)]
    pub fn on_synced(&mut self) {
        self.feed.on_synced();
    }

    /// The connection ended or failed (`loss`, or what `onBytes` threw): how long to wait before connecting again.
    #[wasm_bindgen(js_name = onLost, unchecked_return_type = "LiveRetryWire")]
    pub fn on_lost(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "LiveLossWire")] loss: JsValue,
    ) -> JsResult<JsValue> {
        let error = match self.broken.take() {
            Some(error) => error,
            None => match convert::options::<LossJs>(&loss, "loss")? {
                LossJs { status: Some(status), body, .. } => {
                    RoundError::from_http(status, body.unwrap_or_default().as_bytes())
                }
                LossJs { message, .. } => {
                    RoundError::Transport(message.unwrap_or_else(|| "the live connection was lost".into()))
                }
            },
        };
        let delay = self.feed.on_lost(&error);
        Ok(to_js(&RetryJson { delay_ms: millis(delay), error: shape(&error) })?)
    }

    /// Skip the rest of the backoff (the network came back): the next loss starts from the shortest delay.
    #[wasm_bindgen(js_name = resetBackoff)]
    pub fn reset_backoff(&mut self) {
        self.feed.reset_backoff();
    }
}
