//! Exponential backoff with jitter: how long every transport waits before retrying a sync round or reconnecting.
//!
//! The randomness is the caller's (a seed): core takes no entropy of its own, so the same seed gives the same delays
//! in tests, and the browser and native transports share these exact rules.

use std::time::Duration;

/// Exponential backoff with jitter: each delay is drawn from `[base/2, base]`, and the base doubles from
/// [`Backoff::START`] up to [`Backoff::MAX`]. Invariant: every delay is at most [`Backoff::MAX`].
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    /// xorshift64* state; never zero.
    random: u64,
}

impl Backoff {
    /// The first base delay.
    pub const START: Duration = Duration::from_millis(100);
    /// The longest delay.
    pub const MAX: Duration = Duration::from_secs(10);

    /// A fresh backoff whose jitter comes from `seed` (any value; take it from the platform's randomness).
    pub fn new(seed: u64) -> Backoff {
        Backoff { base: Backoff::START, random: seed ^ 0x9E37_79B9_7F4A_7C15 | 1 }
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.base = Backoff::START;
    }

    /// Jumps to the longest delay (after a failure that retrying soon cannot fix).
    pub fn saturate(&mut self) {
        self.base = Backoff::MAX;
    }

    /// The next delay; doubles the base.
    pub fn next_delay(&mut self) -> Duration {
        self.random ^= self.random >> 12;
        self.random ^= self.random << 25;
        self.random ^= self.random >> 27;
        let unit = (self.random.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        let delay = self.base.mul_f64(0.5 + unit / 2.0);
        self.base = (self.base * 2).min(Backoff::MAX);
        delay
    }

    /// The delay after a failure: the next one, or the longest when `retryable` is false.
    pub fn after_failure(&mut self, retryable: bool) -> Duration {
        if !retryable {
            self.saturate();
        }
        self.next_delay()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_caps() {
        for seed in [0, 1, 42, u64::MAX] {
            let mut backoff = Backoff::new(seed);
            let delays: Vec<Duration> = (0..12).map(|_| backoff.next_delay()).collect();
            assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100), "{delays:?}");
            assert!(delays[3] >= Duration::from_millis(400) && delays[3] <= Duration::from_millis(800));
            assert!(delays.iter().all(|delay| *delay <= Backoff::MAX));
            assert!(delays[11] >= Backoff::MAX / 2);
        }
    }

    #[test]
    fn jitter_differs_between_draws_and_seeds() {
        let draws = |seed| {
            let mut backoff = Backoff::new(seed);
            (0..8).map(|_| backoff.next_delay()).collect::<Vec<_>>()
        };
        assert_ne!(draws(1), draws(2));
        assert_eq!(draws(7), draws(7), "the same seed gives the same delays");
        let mut backoff = Backoff::new(3);
        backoff.saturate();
        let spread: std::collections::HashSet<_> = (0..16).map(|_| backoff.next_delay()).collect();
        assert!(spread.len() > 8, "delays are spread, not fixed: {spread:?}");
    }

    #[test]
    fn a_saturated_backoff_waits_the_longest_until_reset() {
        let mut backoff = Backoff::new(9);
        backoff.next_delay();
        for _ in 0..3 {
            let delay = backoff.after_failure(false);
            assert!(delay >= Backoff::MAX / 2 && delay <= Backoff::MAX, "{delay:?}");
        }
        backoff.reset();
        assert!(backoff.after_failure(true) <= Backoff::START);
    }
}
