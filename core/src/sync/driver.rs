//! A sync as the transports run it: rounds ([`SyncRound`]) retried with [`Backoff`] by one policy ([`Retries`]).
//! No I/O: the transport sends what [`SyncDriver::next_step`] asks for and sleeps when told to.

use std::time::Duration;

use crate::Store;
use crate::sync::backoff::Backoff;
use crate::sync::error::RoundError;
use crate::sync::replica::Conflict;
use crate::sync::round::{RoundSettings, SyncReport, SyncRequest, SyncRound, SyncStep};

/// When a failed round is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// Never: the first failure ends the sync.
    Never,
    /// Retryable failures ([`RoundError::is_retryable`]) are retried with backoff, up to this many rounds in all;
    /// any other failure ends the sync at once.
    Transient(u32),
    /// Always, for a sync that follows the server live: retryable failures with backoff, the others at the longest
    /// delay (a refused token may be replaced, a server may come back from maintenance).
    Forever,
}

/// What the transport does next.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum DriverStep {
    /// Send this request, then call [`SyncDriver::on_response`] or [`SyncDriver::on_transport_error`].
    Send(SyncRequest),
    /// A round failed ([`SyncDriver::last_error`]); wait this long, then ask again (a new round starts).
    Wait(Duration),
    /// The sync is done: the report of the round that succeeded.
    Done(SyncReport),
    /// The sync failed for good.
    Failed(RoundError),
}

/// Runs rounds until one succeeds or the retry policy gives up. Create one per sync; [`SyncDriver::retry_now`]
/// skips a wait (the network came back).
#[derive(Debug)]
pub struct SyncDriver {
    settings: RoundSettings,
    retries: Retries,
    round: Option<SyncRound>,
    backoff: Backoff,
    rounds: u32,
    last_error: Option<RoundError>,
    /// The error an answer ended the current round with.
    round_error: Option<RoundError>,
    /// Conflicts recorded and not yet taken by [`SyncDriver::take_new_conflicts`].
    new_conflicts: Vec<Conflict>,
    log_changed: bool,
    /// Set after a `Wait`: the next step starts a round.
    waiting: bool,
    finished: bool,
}

impl SyncDriver {
    /// A sync with these settings and retry policy; `seed` drives the backoff's jitter.
    pub fn new(settings: RoundSettings, retries: Retries, seed: u64) -> SyncDriver {
        SyncDriver {
            settings,
            retries,
            round: None,
            backoff: Backoff::new(seed),
            rounds: 0,
            last_error: None,
            round_error: None,
            new_conflicts: Vec::new(),
            log_changed: false,
            waiting: false,
            finished: false,
        }
    }

    /// The failure of the last round, if it failed (cleared when a round succeeds).
    pub fn last_error(&self) -> Option<&RoundError> {
        self.last_error.as_ref()
    }

    /// Rounds started so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// The conflicts recorded since the last call (to tell the application as they happen; every round's report
    /// has its own as well).
    pub fn take_new_conflicts(&mut self) -> Vec<Conflict> {
        std::mem::take(&mut self.new_conflicts)
    }

    /// Whether the local log changed (events confirmed, rebased or set aside) since the last call.
    pub fn take_log_changed(&mut self) -> bool {
        std::mem::take(&mut self.log_changed)
    }

    /// Moves the current round's news into the driver's, so they outlive the round.
    fn collect(&mut self) {
        if let Some(round) = self.round.as_mut() {
            self.new_conflicts.extend(round.take_new_conflicts());
            self.log_changed |= round.take_log_changed();
        }
    }

    /// Forget the backoff: the next wait is the shortest (the network came back, or the app asked to sync now).
    pub fn retry_now(&mut self) {
        self.backoff.reset();
    }

    /// The next thing to do.
    pub fn next_step(&mut self, store: &Store) -> DriverStep {
        if self.finished {
            let error = crate::sync::SyncError::Protocol("this sync is over".into());
            return DriverStep::Failed(error.into());
        }
        self.waiting = false;
        let round = self.round.get_or_insert_with(|| {
            self.rounds += 1;
            SyncRound::new(self.settings)
        });
        let step = round.next_step(store);
        self.collect();
        match step {
            Ok(SyncStep::Send(request)) => DriverStep::Send(request),
            Ok(SyncStep::Done(report)) => {
                self.round = None;
                self.last_error = None;
                self.backoff.reset();
                self.finished = true;
                DriverStep::Done(report)
            }
            Err(error) => self.failed(error),
        }
    }

    /// The server answered the last request with `status` and `body` (the next step says what follows).
    pub fn on_response(&mut self, store: &Store, status: u16, body: &[u8]) {
        if let Some(Err(error)) = self.round.as_mut().map(|round| round.on_response(store, status, body)) {
            self.round_error = Some(error);
        }
        self.collect();
    }

    /// The last request failed before an answer: refused, cut or timed out.
    pub fn on_transport_error(&mut self, store: &Store, message: impl Into<String>) {
        if let Some(Err(error)) = self.round.as_mut().map(|round| round.on_transport_error(store, message)) {
            self.round_error = Some(error);
        }
        self.collect();
    }

    /// The last request failed for a reason the transport classified itself (a request it could not even build,
    /// say: `INVALID_ARGUMENT`); the next step says what follows.
    pub fn on_error(&mut self, store: &Store, error: RoundError) {
        if let Some(Err(error)) = self.round.as_mut().map(|round| round.on_failure(store, error)) {
            self.round_error = Some(error);
        }
        self.collect();
    }

    /// Whether the driver is between a failed round and the next (a `Wait` was returned and not yet followed).
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    fn failed(&mut self, error: RoundError) -> DriverStep {
        // The round that failed: an error recorded by `on_response` wins over the round's refusal to go on.
        let error = self.round_error.take().unwrap_or(error);
        self.round = None;
        let retry = match self.retries {
            Retries::Never => None,
            Retries::Transient(rounds) => (error.is_retryable() && self.rounds < rounds).then_some(true),
            Retries::Forever => Some(error.is_retryable()),
        };
        match retry {
            Some(retryable) => {
                let delay = self.backoff.after_failure(retryable);
                self.last_error = Some(error);
                self.waiting = true;
                DriverStep::Wait(delay)
            }
            None => {
                self.finished = true;
                self.last_error = Some(error.clone());
                DriverStep::Failed(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::sync::round::SyncMessage;
    use crate::sync::server::{self, Limits};
    use crate::{ExpectedVersion, NewEvent};

    /// Drives `driver` against `hub`, failing the first `failures` requests with `status` (0: a transport error).
    fn run(driver: &mut SyncDriver, device: &Store, hub: &Store, mut failures: usize, status: u16) -> Vec<DriverStep> {
        let mut steps = Vec::new();
        loop {
            let step = driver.next_step(device);
            steps.push(step.clone());
            match step {
                DriverStep::Send(request) => {
                    if failures > 0 {
                        failures -= 1;
                        if status == 0 {
                            driver.on_transport_error(device, "refused");
                        } else {
                            driver.on_response(device, status, br#"{"code":"X","message":"no"}"#);
                        }
                        continue;
                    }
                    let body = match &request.message {
                        SyncMessage::Push { push, .. } => {
                            serde_json::to_vec(&server::apply_push(hub, push, &Limits::default()).unwrap())
                        }
                        SyncMessage::Pull { after, limit } => {
                            let after = after.as_deref().map_or(0, |cursor| cursor.parse().unwrap());
                            let page = server::read_pull(hub, after, *limit).unwrap();
                            serde_json::to_vec(&page.into_response(|position| position.to_string()))
                        }
                    };
                    driver.on_response(device, 200, &body.unwrap());
                }
                DriverStep::Wait(_) => {}
                DriverStep::Done(_) | DriverStep::Failed(_) => return steps,
            }
        }
    }

    fn stores() -> (Store, Store) {
        let (hub, device) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
        device.append_to_stream("a-1", &[NewEvent::json("T", &1)], ExpectedVersion::Any).unwrap();
        (hub, device)
    }

    #[test]
    fn transient_failures_are_retried_after_a_wait_then_the_sync_succeeds() {
        let (hub, device) = stores();
        let mut driver = SyncDriver::new(RoundSettings::default(), Retries::Transient(5), 1);
        let steps = run(&mut driver, &device, &hub, 2, 503);
        let waits = steps.iter().filter(|step| matches!(step, DriverStep::Wait(_))).count();
        assert_eq!(waits, 2);
        assert!(matches!(steps.last(), Some(DriverStep::Done(report)) if report.pushed == 1));
        assert_eq!((driver.rounds(), driver.last_error()), (3, None));
    }

    #[test]
    fn permanent_failures_end_the_sync_unless_it_runs_forever() {
        let (hub, device) = stores();
        let mut driver = SyncDriver::new(RoundSettings::default(), Retries::Transient(5), 1);
        let steps = run(&mut driver, &device, &hub, 1, 401);
        assert!(matches!(steps.last(), Some(DriverStep::Failed(error)) if error.code() == "X"));
        assert!(matches!(driver.next_step(&device), DriverStep::Failed(_)), "a finished sync stays finished");

        let mut driver = SyncDriver::new(RoundSettings::default(), Retries::Forever, 1);
        let steps = run(&mut driver, &device, &hub, 1, 401);
        assert!(matches!(steps[1], DriverStep::Wait(delay) if delay >= Backoff::MAX / 2), "{:?}", steps[1]);
        assert!(matches!(steps.last(), Some(DriverStep::Done(_))));
    }

    #[test]
    fn retries_stop_after_the_last_round() {
        let (hub, device) = stores();
        let mut driver = SyncDriver::new(RoundSettings::default(), Retries::Transient(3), 1);
        let steps = run(&mut driver, &device, &hub, 10, 0);
        assert!(matches!(steps.last(), Some(DriverStep::Failed(error)) if error.code() == "NETWORK"));
        assert_eq!(driver.rounds(), 3);
        let mut driver = SyncDriver::new(RoundSettings::default(), Retries::Never, 1);
        let steps = run(&mut driver, &device, &hub, 1, 0);
        assert_eq!(steps.len(), 2);
        assert_eq!(device.sync_status().unwrap().pending, 1, "nothing was lost");
    }
}
