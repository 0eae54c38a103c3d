//! Counting SQLite VM instructions, for tests that an operation costs the same at two data sizes: unlike time, the
//! count does not depend on the machine or on what else it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

/// A count of the instructions `connection` runs between [`VmSteps::start`] and [`VmSteps::stop`].
pub(crate) struct VmSteps(Arc<AtomicU64>);

impl VmSteps {
    /// Starts counting (a progress handler called at every instruction).
    pub(crate) fn start(connection: &mut Connection) -> VmSteps {
        let steps = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&steps);
        connection
            .progress_handler(
                1,
                Some(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                    false
                }),
            )
            .expect("a progress handler");
        VmSteps(steps)
    }

    /// Stops counting; the instructions run since [`VmSteps::start`].
    pub(crate) fn stop(self, connection: &mut Connection) -> u64 {
        connection.progress_handler(0, None::<fn() -> bool>).expect("a progress handler");
        self.0.load(Ordering::Relaxed)
    }
}
