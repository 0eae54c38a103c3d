//! Live head notifications: one `watch` channel per tenant. Pushes through this process publish at once; the
//! PostgreSQL backend also publishes heads moved by other processes (`LISTEN`). Watchers only ever see the newest
//! head, so a slow SSE client holds no queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Per-tenant head positions that SSE streams watch.
#[derive(Clone, Default)]
pub struct Hub {
    heads: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
}

impl Hub {
    /// Records that `tenant`'s head is at least `head`, waking its watchers if it moved.
    pub fn publish(&self, tenant: &str, head: u64) {
        let mut heads = self.heads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let sender = heads.entry(tenant.to_owned()).or_insert_with(|| watch::channel(0).0);
        sender.send_if_modified(|current| {
            let moved = head > *current;
            if moved {
                *current = head;
            }
            moved
        });
    }

    /// A receiver of `tenant`'s head, starting at `head` if nothing newer is known.
    pub fn watch(&self, tenant: &str, head: u64) -> watch::Receiver<u64> {
        self.publish(tenant, head);
        let heads = self.heads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        heads[tenant].subscribe()
    }
}
