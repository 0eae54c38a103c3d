//! Local subscribers of a syncing store: confirmed events only, or also pending ones with rewind notices.
//!
//! Confirmed events form a prefix of the local log that a pull only ever extends, so a
//! [`SyncMode::ConfirmedOnly`] subscription is an ordinary position cursor bounded by that prefix: stable, never
//! rewound — except after a server log reset (its data was lost or restored from a backup,
//! [`crate::Store::restart_sync_after_log_reset`]), when the confirmed prefix is rebuilt from the new log and every
//! subscriber receives [`SyncedItem::Rewound`] from position 0. A [`SyncMode::IncludePending`] subscription also delivers pending events as soon as they are appended
//! (optimistic); when a rebase or a rejection rewrites the pending tail, it first delivers
//! [`SyncedItem::Rewound`] with the position after which the log was rewritten: every event it delivered after that
//! position is void, and the log's current events after it follow (their positions are new: positions are never
//! reused).

use rusqlite::Connection;

use crate::error::{InvalidArgument, ReadError};
use crate::event::RecordedEvent;
use crate::log::{EventFilter, ReadAllOptions};
use crate::store::{Store, read_log_page};
use crate::subscription::{StartFrom, SubscriptionOptions};
use crate::sync::replica::confirmed_through;

/// Which events a [`SyncedSubscription`] delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Only events the server confirmed: never rewound, but after a server log reset (a rewind to 0).
    ConfirmedOnly,
    /// Confirmed and pending events, with [`SyncedItem::Rewound`] notices when the pending tail is rewritten.
    IncludePending,
}

/// What a [`SyncedSubscription`] delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncedItem {
    /// The next event.
    Event(RecordedEvent),
    /// The local log was rewritten after this position: discard what was derived from events delivered after it.
    Rewound {
        /// The exclusive position the subscription resumes after.
        from_position: u64,
    },
}

/// A cursor over a syncing store's log. See the module docs.
#[derive(Debug)]
pub struct SyncedSubscription {
    store: Store,
    mode: SyncMode,
    filter: EventFilter,
    position: u64,
    epoch: i64,
    batch_size: usize,
}

impl Store {
    /// Subscribes to the log in `mode`. `options.name` is not supported (persist [`SyncedSubscription::position`]
    /// of a confirmed-only subscription yourself: it is stable).
    pub fn subscribe_synced(
        &self,
        mode: SyncMode,
        options: SubscriptionOptions,
    ) -> Result<SyncedSubscription, ReadError> {
        if options.name.is_some() {
            return Err(InvalidArgument::new("name", "synced subscriptions are not named").into());
        }
        if options.batch_size == 0 {
            return Err(InvalidArgument::new("batch_size", "must be at least 1").into());
        }
        options.filter.validate()?;
        let (position, epoch) = self.with_reader(|connection| -> rusqlite::Result<(u64, i64)> {
            let position = match (options.from, mode) {
                (StartFrom::Start, _) => 0,
                (StartFrom::After(position), _) => position,
                (StartFrom::End, SyncMode::ConfirmedOnly) => confirmed_through(connection)?,
                (StartFrom::End, SyncMode::IncludePending) => crate::store::head_position(connection)?,
            };
            Ok((position, last_epoch(connection)?))
        })?;
        Ok(SyncedSubscription {
            store: self.clone(),
            mode,
            filter: options.filter,
            position,
            epoch,
            batch_size: options.batch_size,
        })
    }
}

fn last_epoch(connection: &Connection) -> rusqlite::Result<i64> {
    connection.prepare_cached("SELECT coalesce(max(epoch), 0) FROM sync_rewrites")?.query_row([], |row| row.get(0))
}

impl SyncedSubscription {
    /// The exclusive cursor: the position of the last event delivered (or the rewind position).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The mode.
    pub fn mode(&self) -> SyncMode {
        self.mode
    }

    /// The next items after the cursor (at most the batch size of events; empty when caught up).
    pub fn poll(&mut self) -> Result<Vec<SyncedItem>, ReadError> {
        let (items, position, epoch) = self.store.with_reader(|connection| -> rusqlite::Result<_> {
            let transaction = connection.unchecked_transaction()?;
            let mut items = Vec::new();
            let mut position = self.position;
            let mut epoch = self.epoch;
            {
                // Pending mode sees every rewrite; confirmed-only mode only the log resets.
                let resets_only = i64::from(self.mode == SyncMode::ConfirmedOnly);
                let (newest, from): (i64, Option<i64>) = transaction
                    .prepare_cached(
                        "SELECT coalesce(max(epoch), 0), min(from_position) FROM sync_rewrites
                         WHERE epoch > ?1 AND log_reset >= ?2",
                    )?
                    .query_row([epoch, resets_only], |row| Ok((row.get(0)?, row.get(1)?)))?;
                if let Some(from) = from {
                    epoch = newest;
                    let from = from as u64;
                    if from < position {
                        position = from;
                        items.push(SyncedItem::Rewound { from_position: from });
                    }
                }
            }
            let options =
                ReadAllOptions::forwards().after(position).max_count(self.batch_size).filter(self.filter.clone());
            let mut events = read_log_page(&transaction, &options)?;
            if self.mode == SyncMode::ConfirmedOnly {
                let through = confirmed_through(&transaction)?;
                events.retain(|event| event.position <= through);
            }
            if let Some(last) = events.last() {
                position = last.position;
            }
            items.extend(events.into_iter().map(SyncedItem::Event));
            transaction.commit()?;
            Ok((items, position, epoch))
        })?;
        self.position = position;
        self.epoch = epoch;
        Ok(items)
    }

    /// Polls, waiting up to `timeout` for items when caught up (woken by this process's commits, pulls and
    /// rebases). Returns an empty batch on timeout.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    pub fn wait(&mut self, timeout: std::time::Duration) -> Result<Vec<SyncedItem>, ReadError> {
        crate::subscription::wait_for_items(self, timeout)
    }
}

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
impl crate::subscription::Waitable for SyncedSubscription {
    type Item = SyncedItem;

    fn store(&self) -> &Store {
        &self.store
    }

    fn poll_items(&mut self) -> Result<Vec<SyncedItem>, ReadError> {
        self.poll()
    }

    /// No connection of its own to ask: poll again every interval.
    fn external_commit_seen(&mut self) -> Result<bool, ReadError> {
        Ok(true)
    }
}
