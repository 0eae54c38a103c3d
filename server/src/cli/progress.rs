//! Progress on stderr: a bar (indicatif) when stderr is a terminal, nothing otherwise; a summary line at the end
//! either way.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// `total`: the expected count (events or bytes), if known.
    pub fn new(total: Option<u64>, unit: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let template = match (total.is_some(), unit) {
                (true, "bytes") => "{bar:40} {bytes}/{total_bytes} ({elapsed}, eta {eta})".to_owned(),
                (false, "bytes") => "{spinner} {bytes} ({elapsed})".to_owned(),
                (true, _) => format!("{{bar:40}} {{human_pos}}/{{human_len}} {unit} ({{elapsed}}, eta {{eta}})"),
                (false, _) => format!("{{spinner}} {{human_pos}} {unit} ({{elapsed}})"),
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar, started: Instant::now() }
    }

    pub fn advance(&self, by: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(by);
        }
    }

    /// Clears the bar; returns the seconds since the start.
    pub fn finish(&self) -> f64 {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.started.elapsed().as_secs_f64()
    }
}

/// `n / seconds`, 0 when no time passed.
pub fn rate(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { n as f64 / seconds } else { 0.0 }
}
