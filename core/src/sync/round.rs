//! One sync round as an I/O-free state machine: what to send next, and what an answer means.
//!
//! A round pushes every pending event, a push at a time, and pulls after each push until the server's head (so the
//! accepted events become confirmed in server order), then pulls once more if nothing was pushed. Every transport
//! (the native HTTP client, the browser's `fetch`) drives the same [`SyncRound`]: it asks [`SyncRound::next_step`]
//! for a request, sends it, and hands the answer back ([`SyncRound::on_response`] with the status and body, or
//! [`SyncRound::on_transport_error`]). The round decides everything else:
//! - the next push comes from [`Store::next_push_within`] with the configured [`PushBudget`];
//! - a push refused with `413` is retried with half as many local batches, down to one; a single batch refused is
//!   set aside in the conflicts list with the server's code, so it never blocks the events behind it;
//! - a push the server accepted must be confirmed by the pull that follows it: if the same first event comes up
//!   again, the server broke the protocol and the round fails with `SYNC_PROTOCOL` instead of looping;
//! - every other failure ends the round with a [`RoundError`] whose [`RoundError::is_retryable`] says what to do.
//!
//! Invariant: every step is safe to repeat. A push is recognised by event id, and a pull page is applied with its
//! cursor in one local transaction, so a round cut at any point loses and duplicates nothing: start another.
//!
//! ```
//! use eventlite::sync::{server, HttpMethod, RoundSettings, SyncRound, SyncStep};
//! use eventlite::{ExpectedVersion, NewEvent, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Store::open_in_memory()?; // stands in for the server
//! let device = Store::open_in_memory()?;
//! device.append_to_stream("todo-1", &[NewEvent::json("Added", &"milk")], ExpectedVersion::NoStream)?;
//!
//! let mut round = SyncRound::new(RoundSettings::default());
//! let report = loop {
//!     match round.next_step(&device)? {
//!         SyncStep::Send(request) => {
//!             // A transport would send `request.method`, `request.path_and_query()` and `request.body()`.
//!             let body = match request.method {
//!                 HttpMethod::Post => {
//!                     let push = serde_json::from_slice(&request.body().unwrap())?;
//!                     serde_json::to_vec(&server::apply_push(&hub, &push, &server::Limits::default())?)?
//!                 }
//!                 HttpMethod::Get => {
//!                     let page = server::read_pull(&hub, 0, 500)?;
//!                     serde_json::to_vec(&page.into_response(|position| position.to_string()))?
//!                 }
//!             };
//!             round.on_response(&device, 200, &body)?;
//!         }
//!         SyncStep::Done(report) => break report,
//!     }
//! };
//! assert_eq!((report.pushed, report.pulled), (1, 1));
//! assert_eq!(device.sync_status()?.pending, 0);
//! # Ok(())
//! # }
//! ```

use uuid::Uuid;

use crate::Store;
use crate::sync::error::{RoundError, SyncError};
use crate::sync::message::{PullResponse, PushOutcome, PushRequest, PushResponse, RejectionCode};
use crate::sync::replica::{Conflict, PushBudget};

/// How a round sends: events per push and per pull page, and the server's push limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundSettings {
    /// Events per push (a soft target: a local batch is never split) and per pull page. Default 500.
    pub batch_size: usize,
    /// The server's push limits (default: the reference server's defaults).
    pub budget: PushBudget,
}

impl RoundSettings {
    /// The default events per push and per pull page.
    pub const BATCH_SIZE: usize = 500;
    /// The most events a pull page may ask for (the reference server's `limit` bound).
    pub const MAX_PULL: usize = 1_000;

    /// Refuses settings no round could work with: they would set every pending batch aside as too large.
    pub fn validate(&self) -> Result<(), crate::error::InvalidArgument> {
        use crate::error::InvalidArgument;
        let budget = &self.budget;
        if budget.max_events == 0 {
            return Err(InvalidArgument::new("budget.max_events", "must be at least 1"));
        }
        if budget.max_event_size == 0 {
            return Err(InvalidArgument::new("budget.max_event_size", "must be at least 1"));
        }
        if budget.max_bytes < PushBudget::MIN_BYTES {
            return Err(InvalidArgument::new(
                "budget.max_bytes",
                format!("must be at least {} (a push's envelope alone is ~80 bytes)", PushBudget::MIN_BYTES),
            ));
        }
        Ok(())
    }
}

impl Default for RoundSettings {
    fn default() -> Self {
        RoundSettings { batch_size: RoundSettings::BATCH_SIZE, budget: PushBudget::default() }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Events sent in pushes the server answered (including ones it already had).
    pub pushed: usize,
    /// Server events applied locally.
    pub pulled: usize,
    /// Events that left their streams for the conflicts list during the round.
    pub conflicts: Vec<Conflict>,
    /// When the local log was rewritten (a rebase or a rejection), the lowest position after which it was.
    pub rewound_from: Option<u64>,
    /// The server's log was another one than the cursor's (`LOG_RESET`: its data was lost or restored from a
    /// backup), so this round started sync over ([`Store::restart_sync_after_log_reset`]).
    pub log_reset: bool,
}

impl SyncReport {
    fn rewound(&mut self, from: Option<u64>) {
        self.rewound_from = match (self.rewound_from, from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The HTTP method of a [`SyncRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET` (a pull).
    Get,
    /// `POST` with a JSON body (a push).
    Post,
}

impl HttpMethod {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// What a request carries.
#[derive(Debug, Clone)]
pub enum SyncMessage {
    /// `POST /v1/push?after=<cursor>` with this body. The cursor (the replica's pull cursor, when it has one) lets the
    /// server refuse the push with `LOG_RESET` before applying anything when it belongs to another log: a server
    /// restored from an older backup must not judge expectations against a log that lost events.
    Push {
        /// The events.
        push: PushRequest,
        /// The replica's pull cursor.
        after: Option<String>,
    },
    /// `GET /v1/pull` after this cursor (`None`: from the start), at most `limit` events.
    Pull {
        /// The stored cursor.
        after: Option<String>,
        /// Events per page.
        limit: usize,
    },
}

/// One request for the transport to send, with the bearer token it holds.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The method.
    pub method: HttpMethod,
    /// What it carries.
    pub message: SyncMessage,
}

impl SyncRequest {
    /// The path and query to append to the server's base URL, e.g. `/v1/pull?limit=500&after=43.5f1c2a9b`.
    pub fn path_and_query(&self) -> String {
        match &self.message {
            SyncMessage::Push { after: None, .. } => "/v1/push".to_owned(),
            SyncMessage::Push { after: Some(cursor), .. } => {
                let mut path = "/v1/push?after=".to_owned();
                percent_encode(cursor, &mut path);
                path
            }
            SyncMessage::Pull { after, limit } => {
                let mut path = format!("/v1/pull?limit={limit}");
                if let Some(cursor) = after {
                    path.push_str("&after=");
                    percent_encode(cursor, &mut path);
                }
                path
            }
        }
    }

    /// The JSON body (`application/json`) of a push; `None` for a pull.
    pub fn body(&self) -> Option<Vec<u8>> {
        match &self.message {
            SyncMessage::Push { push, .. } => Some(serde_json::to_vec(push).expect("a push request serialises")),
            SyncMessage::Pull { .. } => None,
        }
    }
}

/// Escapes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// What the transport does next.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum SyncStep {
    /// Send this request, then call [`SyncRound::on_response`] or [`SyncRound::on_transport_error`].
    Send(SyncRequest),
    /// The round is over: the local store is at the server's head and nothing is pending that could be pushed.
    Done(SyncReport),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Ask the store for the next push.
    Push,
    /// Pull pages until the head; then back to `Push`.
    Pull,
    /// Finished, well or not.
    Over,
}

/// One push/pull round. See the [module docs](self).
#[derive(Debug)]
pub struct SyncRound {
    settings: RoundSettings,
    phase: Phase,
    /// Local batches per push: halved when the server refuses a push as too large.
    max_batches: usize,
    /// The push sent and not answered yet, with how many local batches it carries.
    in_flight: Option<(PushRequest, usize)>,
    /// A pull is in flight.
    pulling: bool,
    /// The first event of the last push the server accepted.
    last_accepted_first: Option<Uuid>,
    /// A pull reached the server's head since the last push was answered.
    at_head: bool,
    report: SyncReport,
    /// Conflicts of `report` already handed out by [`SyncRound::take_new_conflicts`].
    conflicts_taken: usize,
    log_changed: bool,
}

impl SyncRound {
    /// A round that has sent nothing yet. Its first step fails with `INVALID_ARGUMENT` (and sets nothing aside) when
    /// the settings are unusable ([`RoundSettings::validate`]).
    pub fn new(settings: RoundSettings) -> SyncRound {
        let settings = RoundSettings { batch_size: settings.batch_size.max(1), ..settings };
        SyncRound {
            settings,
            phase: Phase::Push,
            max_batches: usize::MAX,
            in_flight: None,
            pulling: false,
            last_accepted_first: None,
            at_head: false,
            report: SyncReport::default(),
            conflicts_taken: 0,
            log_changed: false,
        }
    }

    /// The settings.
    pub fn settings(&self) -> RoundSettings {
        self.settings
    }

    /// What the round did so far.
    pub fn report(&self) -> &SyncReport {
        &self.report
    }

    /// The conflicts recorded since the last call (to notify the application as they happen).
    pub fn take_new_conflicts(&mut self) -> Vec<Conflict> {
        let new = self.report.conflicts[self.conflicts_taken..].to_vec();
        self.conflicts_taken = self.report.conflicts.len();
        new
    }

    /// Whether the local log changed (events confirmed, rebased or set aside) since the last call: subscribers have
    /// something to read.
    pub fn take_log_changed(&mut self) -> bool {
        std::mem::take(&mut self.log_changed)
    }

    /// The next thing to do. Reads the store (the next push, the pull cursor); may set aside pending batches that no
    /// push within the budget can carry (they are in the report's conflicts).
    pub fn next_step(&mut self, store: &Store) -> Result<SyncStep, RoundError> {
        if self.in_flight.is_some() || self.pulling {
            return Err(self.fail(SyncError::Protocol("the previous request of this round is not answered yet".into())));
        }
        if let Err(invalid) = self.settings.validate() {
            return Err(self.fail(SyncError::InvalidArgument(invalid)));
        }
        loop {
            match self.phase {
                Phase::Over => {
                    return Err(RoundError::Sync(SyncError::Protocol("this sync round is over".into())));
                }
                Phase::Pull => {
                    let after = store.pull_cursor().map_err(|error| self.fail(error))?;
                    self.pulling = true;
                    let limit = self.settings.batch_size.min(RoundSettings::MAX_PULL);
                    let message = SyncMessage::Pull { after, limit };
                    return Ok(SyncStep::Send(SyncRequest { method: HttpMethod::Get, message }));
                }
                Phase::Push => {
                    let next = store
                        .next_push_within(self.settings.batch_size, self.max_batches, &self.settings.budget)
                        .map_err(|error| self.fail(error))?;
                    self.record(next.rejected, next.rewound_from);
                    let Some(request) = next.request else {
                        if self.at_head {
                            self.phase = Phase::Over;
                            return Ok(SyncStep::Done(self.report.clone()));
                        }
                        self.phase = Phase::Pull;
                        continue;
                    };
                    let first = request.events.first().map(|event| event.event_id);
                    if first.is_some() && first == self.last_accepted_first {
                        return Err(self.fail(SyncError::Protocol(
                            "the server accepted a push but the following pull did not confirm it".into(),
                        )));
                    }
                    self.in_flight = Some((request.clone(), next.batches));
                    let after = store.pull_cursor().map_err(|error| self.fail(error))?;
                    let message = SyncMessage::Push { push: request, after };
                    return Ok(SyncStep::Send(SyncRequest { method: HttpMethod::Post, message }));
                }
            }
        }
    }

    /// The server answered the last request with `status` and `body`. A `200` is applied to the store; an error
    /// answer (its `{code, message}` body read) is handled as [`SyncRound::on_failure`] handles it.
    pub fn on_response(&mut self, store: &Store, status: u16, body: &[u8]) -> Result<(), RoundError> {
        if status != 200 {
            return self.on_failure(store, RoundError::from_http(status, body));
        }
        if let Some((request, _)) = self.in_flight.take() {
            let response: PushResponse = serde_json::from_slice(body)
                .map_err(|error| self.fail(SyncError::Protocol(format!("push response: {error}"))))?;
            self.on_push_response(store, &request, &response)
        } else if std::mem::take(&mut self.pulling) {
            let page: PullResponse = serde_json::from_slice(body)
                .map_err(|error| self.fail(SyncError::Protocol(format!("pull response: {error}"))))?;
            self.on_pull_response(store, &page)
        } else {
            Err(self.fail(SyncError::Protocol("an answer arrived with no request in flight".into())))
        }
    }

    /// The last request failed before an answer: the connection was refused or cut, or it timed out.
    pub fn on_transport_error(&mut self, store: &Store, message: impl Into<String>) -> Result<(), RoundError> {
        self.on_failure(store, RoundError::Transport(message.into()))
    }

    /// The last request failed with `error`. A push refused as too large (`413`) or timed out while uploading (`408`)
    /// is halved and the round goes on (a single batch refused with `413` is set aside);
    /// so is a push or pull refused with `LOG_RESET` (once per round): the store starts sync over against the new log.
    /// Anything else ends the round with that error.
    pub fn on_failure(&mut self, store: &Store, error: RoundError) -> Result<(), RoundError> {
        self.pulling = false;
        if error.code() == RoundError::LOG_RESET && !self.report.log_reset {
            // Nothing of a refused push was applied; pull the new log from its start, then push again.
            self.in_flight = None;
            store.restart_sync_after_log_reset().map_err(|error| self.fail(error))?;
            self.report.log_reset = true;
            self.log_changed = true;
            self.last_accepted_first = None;
            self.at_head = false;
            self.phase = Phase::Pull;
            return Ok(());
        }
        let Some((request, batches)) = self.in_flight.take() else {
            return Err(self.fail(error));
        };
        let RoundError::Server { status: status @ (413 | 408), code, message } = &error else {
            return Err(self.fail(error));
        };
        if batches > 1 {
            // Nothing was stored: smaller pushes, down to one local batch each. A push whose body the server gave
            // up waiting for (408, a slow link) is halved too: the same size would time out again.
            self.max_batches = (batches / 2).max(1);
            return Ok(());
        }
        if *status == 408 {
            // One local batch too slow to upload now: retryable, a later round tries again.
            return Err(self.fail(error));
        }
        // One whole local batch the server will never take: set it aside so the events behind it can go.
        let code = if code == "EVENT_TOO_LARGE" { RejectionCode::EventTooLarge } else { RejectionCode::BatchTooLarge };
        let message = format!("the server refused the local batch as too large: {message}");
        let outcomes = request
            .events
            .iter()
            .map(|event| PushOutcome::Rejected {
                event_id: event.event_id,
                code,
                actual_version: None,
                message: message.clone(),
            })
            .collect();
        let applied =
            store.apply_push_response(&request, &PushResponse { outcomes }).map_err(|error| self.fail(error))?;
        self.record(applied.rejected, applied.rewound_from);
        Ok(())
    }

    /// Applies the server's answer to the push in flight (for transports that decode it themselves).
    pub fn on_push_response(
        &mut self,
        store: &Store,
        request: &PushRequest,
        response: &PushResponse,
    ) -> Result<(), RoundError> {
        let applied = store.apply_push_response(request, response).map_err(|error| self.fail(error))?;
        self.report.pushed += request.events.len();
        self.last_accepted_first = request.events.first().map(|event| event.event_id);
        self.record(applied.rejected, applied.rewound_from);
        self.at_head = false;
        self.phase = Phase::Pull;
        Ok(())
    }

    /// Applies a pull page (for transports that decode it themselves).
    pub fn on_pull_response(&mut self, store: &Store, page: &PullResponse) -> Result<(), RoundError> {
        if page.more && page.events.is_empty() {
            // Pulling the same cursor again would get the same answer forever.
            return Err(self.fail(SyncError::Protocol("a pull page with no events said more follow".into())));
        }
        let applied = store.apply_pull(page).map_err(|error| self.fail(error))?;
        self.report.pulled += applied.applied;
        if applied.applied > 0 {
            self.log_changed = true;
        }
        self.record(applied.rejected, applied.rewound_from);
        if !page.more {
            self.at_head = true;
            self.phase = Phase::Push;
        }
        Ok(())
    }

    fn record(&mut self, conflicts: Vec<Conflict>, rewound_from: Option<u64>) {
        if !conflicts.is_empty() || rewound_from.is_some() {
            self.log_changed = true;
        }
        self.report.conflicts.extend(conflicts);
        self.report.rewound(rewound_from);
    }

    fn fail(&mut self, error: impl Into<RoundError>) -> RoundError {
        self.phase = Phase::Over;
        self.in_flight = None;
        self.pulling = false;
        error.into()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::sync::server::{self, Limits};
    use crate::{ExpectedVersion, NewEvent};

    /// Answers every request of `round` from `hub` with `limits`, until the round ends.
    fn drive(round: &mut SyncRound, device: &Store, hub: &Store, limits: &Limits) -> Result<SyncReport, RoundError> {
        loop {
            match round.next_step(device)? {
                SyncStep::Done(report) => return Ok(report),
                SyncStep::Send(request) => match &request.message {
                    SyncMessage::Push { push, .. } => {
                        if push.events.len() > limits.max_batch {
                            let body = br#"{"code":"BATCH_TOO_LARGE","message":"too many"}"#;
                            round.on_response(device, 413, body)?;
                            continue;
                        }
                        let response = server::apply_push(hub, push, limits).unwrap();
                        round.on_response(device, 200, &serde_json::to_vec(&response).unwrap())?;
                    }
                    SyncMessage::Pull { after, limit } => {
                        let after = after.as_deref().map_or(0, |cursor| cursor.parse().unwrap());
                        let page = server::read_pull(hub, after, *limit).unwrap();
                        let body = serde_json::to_vec(&page.into_response(|position| position.to_string())).unwrap();
                        round.on_response(device, 200, &body)?;
                    }
                },
            }
        }
    }

    fn append(store: &Store, stream: &str, count: usize) {
        for _ in 0..count {
            store.append_to_stream(stream, &[NewEvent::json("T", &1)], ExpectedVersion::Any).unwrap();
        }
    }

    #[test]
    fn a_round_pushes_everything_then_stops_at_the_head() {
        let (hub, device) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
        append(&device, "a-1", 5);
        let settings = RoundSettings { batch_size: 2, ..RoundSettings::default() };
        let report = drive(&mut SyncRound::new(settings), &device, &hub, &Limits::default()).unwrap();
        assert_eq!((report.pushed, report.pulled), (5, 5));
        assert_eq!(device.sync_status().unwrap().pending, 0);
        // Nothing to do: one pull, then done.
        let mut round = SyncRound::new(settings);
        let report = drive(&mut round, &device, &hub, &Limits::default()).unwrap();
        assert_eq!((report.pushed, report.pulled), (0, 0));
        assert!(round.next_step(&device).is_err(), "a finished round refuses more steps");
    }

    #[test]
    fn a_push_refused_as_too_large_is_halved_then_set_aside() {
        let (hub, device) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
        append(&device, "a-1", 4);
        let big: Vec<NewEvent> = (0..3).map(|_| NewEvent::json("T", &1)).collect();
        device.append_to_stream("b-1", &big, ExpectedVersion::Any).unwrap();
        let limits = Limits { max_batch: 2, ..Limits::default() };
        let mut round = SyncRound::new(RoundSettings::default());
        let report = drive(&mut round, &device, &hub, &limits).unwrap();
        assert_eq!(report.pulled, 4, "the four single-event batches went in smaller pushes");
        assert_eq!(report.conflicts.len(), 3, "the three-event batch was set aside");
        assert!(report.conflicts.iter().all(|conflict| conflict.code == RejectionCode::BatchTooLarge));
        assert_eq!(round.take_new_conflicts().len(), 3);
        assert!(round.take_new_conflicts().is_empty());
        assert!(round.take_log_changed());
    }

    #[test]
    fn a_push_that_the_next_pull_does_not_confirm_is_a_protocol_error() {
        let device = Store::open_in_memory().unwrap();
        append(&device, "a-1", 1);
        let mut round = SyncRound::new(RoundSettings::default());
        {
            let SyncStep::Send(request) = round.next_step(&device).unwrap() else { panic!("a push") };
            let SyncMessage::Push { push, .. } = &request.message else { panic!("a push") };
            let outcomes = push
                .events
                .iter()
                .map(|event| PushOutcome::Accepted {
                    event_id: event.event_id,
                    position: 1,
                    version: 1,
                    duplicate: false,
                })
                .collect();
            round.on_response(&device, 200, &serde_json::to_vec(&PushResponse { outcomes }).unwrap()).unwrap();
            let SyncStep::Send(_) = round.next_step(&device).unwrap() else { panic!("a pull") };
            // A server that forgot the event: an empty page at its head.
            round.on_response(&device, 200, br#"{"events":[],"cursor":"0","more":false}"#).unwrap();
        }
        let error = round.next_step(&device).unwrap_err();
        assert_eq!(error.code(), "SYNC_PROTOCOL");
    }

    #[test]
    fn failures_end_the_round_with_their_class() {
        let device = Store::open_in_memory().unwrap();
        let mut round = SyncRound::new(RoundSettings::default());
        round.next_step(&device).unwrap();
        let error = round.on_response(&device, 401, br#"{"code":"UNAUTHORIZED","message":"no"}"#).unwrap_err();
        assert_eq!((error.code(), error.is_retryable()), ("UNAUTHORIZED", false));
        let mut round = SyncRound::new(RoundSettings::default());
        round.next_step(&device).unwrap();
        let error = round.on_transport_error(&device, "connection reset").unwrap_err();
        assert!(error.is_retryable());
        let mut round = SyncRound::new(RoundSettings::default());
        round.next_step(&device).unwrap();
        let error = round.on_response(&device, 502, b"<html>bad gateway</html>").unwrap_err();
        assert_eq!((error.code(), error.is_retryable()), ("HTTP_502", true));
        let mut round = SyncRound::new(RoundSettings::default());
        round.next_step(&device).unwrap();
        let error = round.on_response(&device, 200, b"{not json").unwrap_err();
        assert_eq!(error.code(), "SYNC_PROTOCOL");
    }

    #[test]
    fn unusable_settings_fail_the_first_step_and_set_nothing_aside() {
        let device = Store::open_in_memory().unwrap();
        append(&device, "a-1", 2);
        for budget in [
            PushBudget { max_events: 0, ..PushBudget::default() },
            PushBudget { max_bytes: 10, ..PushBudget::default() },
            PushBudget { max_event_size: 0, ..PushBudget::default() },
        ] {
            let mut round = SyncRound::new(RoundSettings { budget, ..RoundSettings::default() });
            assert_eq!(round.next_step(&device).unwrap_err().code(), "INVALID_ARGUMENT", "{budget:?}");
            assert_eq!(device.sync_status().unwrap().pending, 2, "nothing was set aside");
        }
        // A batch size over what a pull page may ask for is clamped for pulls.
        let store = Store::open_in_memory().unwrap();
        let mut round = SyncRound::new(RoundSettings { batch_size: 5_000, ..RoundSettings::default() });
        let SyncStep::Send(request) = round.next_step(&store).unwrap() else { panic!("a pull") };
        assert_eq!(request.path_and_query(), "/v1/pull?limit=1000");
    }

    #[test]
    fn a_push_that_timed_out_uploading_is_halved_then_retried_later() {
        let device = Store::open_in_memory().unwrap();
        append(&device, "a-1", 4);
        let mut round = SyncRound::new(RoundSettings::default());
        let SyncStep::Send(request) = round.next_step(&device).unwrap() else { panic!("a push") };
        let SyncMessage::Push { push, .. } = &request.message else { panic!("a push") };
        assert_eq!(push.events.len(), 4);
        round.on_response(&device, 408, br#"{"code":"REQUEST_TIMEOUT","message":"slow"}"#).unwrap();
        let SyncStep::Send(request) = round.next_step(&device).unwrap() else { panic!("a push") };
        let SyncMessage::Push { push, .. } = &request.message else { panic!("a push") };
        assert_eq!(push.events.len(), 2, "halved");
        round.on_response(&device, 408, br#"{"code":"REQUEST_TIMEOUT","message":"slow"}"#).unwrap();
        let SyncStep::Send(_) = round.next_step(&device).unwrap() else { panic!("a push") };
        let error = round.on_response(&device, 408, br#"{"code":"REQUEST_TIMEOUT","message":"slow"}"#).unwrap_err();
        assert!(error.is_retryable(), "one batch that timed out is retried later, not set aside");
        assert_eq!((device.sync_status().unwrap().pending, device.sync_status().unwrap().conflicts), (4, 0));
    }

    #[test]
    fn a_page_with_no_events_that_says_more_follow_is_a_protocol_error() {
        let device = Store::open_in_memory().unwrap();
        let mut round = SyncRound::new(RoundSettings::default());
        round.next_step(&device).unwrap();
        let error = round.on_response(&device, 200, br#"{"events":[],"cursor":"0","more":true}"#).unwrap_err();
        assert_eq!(error.code(), "SYNC_PROTOCOL");
    }

    #[test]
    fn timeouts_and_log_resets_are_retryable() {
        let timeout = RoundError::from_http(408, br#"{"code":"REQUEST_TIMEOUT","message":"slow"}"#);
        assert!(timeout.is_retryable());
        let reset = RoundError::from_http(410, br#"{"code":"LOG_RESET"}"#);
        assert_eq!((reset.code(), reset.is_retryable()), ("LOG_RESET", true), "a body without a message is read");
        assert!(!RoundError::from_http(400, br#"{"code":"INVALID_CURSOR","message":""}"#).is_retryable());
    }

    #[test]
    fn pull_cursors_are_escaped_in_the_query() {
        let request = SyncRequest {
            method: HttpMethod::Get,
            message: SyncMessage::Pull { after: Some("4 2&x=é".into()), limit: 7 },
        };
        assert_eq!(request.path_and_query(), "/v1/pull?limit=7&after=4%202%26x%3D%C3%A9");
        assert!(request.body().is_none());
    }
}
