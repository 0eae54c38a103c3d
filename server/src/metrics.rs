//! Prometheus text-format metrics: pushes, pulls, events, conflicts, connected live clients, errors by code.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters and gauges, rendered by `GET /metrics`.
#[derive(Default)]
pub struct Metrics {
    /// Push requests answered 200.
    pub pushes: AtomicU64,
    /// Pushed events stored now.
    pub events_accepted: AtomicU64,
    /// Pushed events already stored (retries).
    pub events_duplicate: AtomicU64,
    /// Pushed events rejected (conflicts).
    pub conflicts: AtomicU64,
    /// Pull requests answered 200.
    pub pulls: AtomicU64,
    /// Events returned by pulls.
    pub events_pulled: AtomicU64,
    /// Open SSE streams.
    pub live_clients: AtomicI64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts an error response by code.
    pub fn error(&self, code: &'static str) {
        *self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(code).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{backend=\"{backend}\"}} {value}");
        };
        let load = |value: &AtomicU64| value.load(Ordering::Relaxed);
        counter(&mut out, "eventlite_push_requests_total", "Push requests answered.", load(&self.pushes));
        let _ = writeln!(
            out,
            "# HELP eventlite_pushed_events_total Pushed events by outcome.\n# TYPE eventlite_pushed_events_total counter"
        );
        for (outcome, value) in
            [("accepted", &self.events_accepted), ("duplicate", &self.events_duplicate), ("rejected", &self.conflicts)]
        {
            let _ = writeln!(
                out,
                "eventlite_pushed_events_total{{backend=\"{backend}\",outcome=\"{outcome}\"}} {}",
                load(value)
            );
        }
        counter(
            &mut out,
            "eventlite_conflicts_total",
            "Pushed events rejected by an expectation.",
            load(&self.conflicts),
        );
        counter(&mut out, "eventlite_pull_requests_total", "Pull requests answered.", load(&self.pulls));
        counter(&mut out, "eventlite_pulled_events_total", "Events returned by pulls.", load(&self.events_pulled));
        let _ = writeln!(
            out,
            "# HELP eventlite_live_clients Connected live (SSE) clients.\n# TYPE eventlite_live_clients gauge\neventlite_live_clients{{backend=\"{backend}\"}} {}",
            self.live_clients.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP eventlite_errors_total Error responses by code.\n# TYPE eventlite_errors_total counter"
        );
        for (code, value) in self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(out, "eventlite_errors_total{{backend=\"{backend}\",code=\"{code}\"}} {value}");
        }
        out
    }
}
