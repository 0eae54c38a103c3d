//! Pull cursors: opaque to clients, `<position>.<tenant tag>.<check>` to the server.
//!
//! - The tenant tag (8 hex digits of SHA-256 of the tenant) makes another tenant's cursor `INVALID_CURSOR` instead
//!   of silently meaning something else.
//! - The check (8 hex digits of SHA-256 of the tenant, the log's identity, and the id and recorded time of the event
//!   at `position`; at position 0, of the tenant and the log's identity alone) binds the cursor to the log it came
//!   from. A log started again (data lost: another identity) or restored from an older backup (same identity, but
//!   the event at the cursor's position is missing, another one, or the same one stored again by a replica refilling
//!   the log, with a later recorded time) fails the check: `410 LOG_RESET`, and the client starts over
//!   (`docs/sync-protocol.md`, "Server reset and recovery"). So does a cursor beyond the head (no event there: the
//!   data was reset) and a two-part cursor from before logs had identities.
//!
//! Why the recorded time: a log is append-only between resets, so if the event at `p` is the very row the cursor
//! saw, every event up to `p` is too, and the replica's confirmed prefix is still the server's. The id alone cannot
//! tell: replicas refilling a restored log push the lost events again, often into the same positions. A row stored
//! again gets the server's clock at that time, later than the first (a server clock set back by more than the time
//! since the backup would defeat this).

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ProtocolError;

fn hex4(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn tag(tenant: &str) -> String {
    hex4(&Sha256::digest(tenant.as_bytes()))
}

/// The stored event a cursor points at: its id and the time the server stored it (ms since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMark {
    /// The event's id.
    pub event_id: Uuid,
    /// When the server stored it.
    pub recorded_at: i64,
}

impl From<(Uuid, i64)> for EventMark {
    fn from((event_id, recorded_at): (Uuid, i64)) -> Self {
        EventMark { event_id, recorded_at }
    }
}

/// Tenant names never hold a NUL ([`crate::auth::Tenant`]) and the rest is fixed-size, so the hashed input is
/// unambiguous.
fn check(tenant: &str, log_id: Uuid, event: Option<EventMark>) -> String {
    let mut hash = Sha256::new();
    hash.update(tenant.as_bytes());
    hash.update([0]);
    hash.update(log_id.as_bytes());
    if let Some(event) = event {
        hash.update(event.event_id.as_bytes());
        hash.update(event.recorded_at.to_be_bytes());
    }
    hex4(&hash.finalize())
}

/// The cursor covering the log of `tenant` (identity `log_id`) through `through`: the position of the last event
/// covered and that event, or `None` for the start (nothing covered).
pub fn encode(tenant: &str, log_id: Uuid, through: Option<(u64, EventMark)>) -> String {
    let position = through.map_or(0, |(position, _)| position);
    format!("{position}.{}.{}", tag(tenant), check(tenant, log_id, through.map(|(_, event)| event)))
}

/// The cursor a pull page answers with: covering the page's last event, or (an empty page) the cursor sent, or the
/// start of the log.
pub fn page_cursor(tenant: &str, log_id: Uuid, last: Option<(u64, EventMark)>, sent: Option<String>) -> String {
    match (last, sent) {
        (Some(last), _) => encode(tenant, log_id, Some(last)),
        (None, Some(sent)) => sent,
        (None, None) => encode(tenant, log_id, None),
    }
}

/// A well-formed cursor of this tenant: where it points, and what it must match to belong to the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    position: u64,
    /// `None`: a two-part cursor from before logs had identities; it matches no log.
    check: Option<String>,
}

/// A cursor refused because it came from another log than the server's: `410 LOG_RESET`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LogReset(String);

impl LogReset {
    /// Why the cursor was refused.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl From<LogReset> for ProtocolError {
    fn from(LogReset(message): LogReset) -> Self {
        ProtocolError::new(410, "LOG_RESET", message)
    }
}

impl Cursor {
    /// The position the cursor covers (0: the start).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether the cursor came from the log `log_id` whose event at [`Cursor::position`] is `event_at` (`None`: no
    /// event there). Refused with `LOG_RESET` otherwise.
    pub fn verify(&self, tenant: &str, log_id: Uuid, event_at: Option<EventMark>) -> Result<(), LogReset> {
        let reset = |why: &str| {
            LogReset(format!(
                "the server's log is not the one this cursor came from ({why}): its data was reset or restored from \
                 an older backup. Start over: pull from the start, then push every local event again (see \
                 docs/sync-protocol.md, \"Server reset and recovery\")"
            ))
        };
        let Some(check_sent) = &self.check else {
            return Err(reset("a cursor from before server logs had identities"));
        };
        if self.position > 0 && event_at.is_none() {
            return Err(reset("the log has no event at the cursor's position"));
        }
        if *check_sent != check(tenant, log_id, event_at.filter(|_| self.position > 0)) {
            return Err(reset("the event at the cursor's position, or the log's identity, is not the cursor's"));
        }
        Ok(())
    }
}

/// The cursor `cursor` of `tenant`; `None` (empty) means the start. Refuses malformed cursors and other tenants'
/// cursors (`400 INVALID_CURSOR`); whether the cursor belongs to the server's log is [`Cursor::verify`]'s question.
pub fn decode(tenant: &str, cursor: &str) -> Result<Option<Cursor>, ProtocolError> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let invalid = |message: &str| ProtocolError::new(400, "INVALID_CURSOR", message);
    let malformed = || invalid("malformed cursor");
    let mut parts = cursor.split('.');
    let (Some(position), Some(cursor_tag)) = (parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let check = parts.next();
    if parts.next().is_some() {
        return Err(malformed());
    }
    let position: u64 =
        position.parse().ok().filter(|_| position.bytes().all(|b| b.is_ascii_digit())).ok_or_else(malformed)?;
    let hex8 = |text: &str| text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex8(cursor_tag) || check.is_some_and(|check| !hex8(check)) {
        return Err(malformed());
    }
    if cursor_tag != tag(tenant) {
        return Err(invalid("the cursor belongs to another tenant"));
    }
    Ok(Some(Cursor { position, check: check.map(str::to_owned) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(tenant: &str, cursor: &str) -> Cursor {
        decode(tenant, cursor).unwrap().unwrap()
    }

    fn mark(n: u128, recorded_at: i64) -> EventMark {
        EventMark { event_id: Uuid::from_u128(n), recorded_at }
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_tenant() {
        let (log, event) = (Uuid::from_u128(7), mark(42, 1_000));
        let cursor = encode("acme", log, Some((42, event)));
        assert_eq!(decoded("acme", &cursor).position(), 42);
        assert!(decoded("acme", &cursor).verify("acme", log, Some(event)).is_ok());
        assert_eq!(decode("acme", "").unwrap(), None);
        assert_eq!(decode("globex", &cursor).unwrap_err().code, "INVALID_CURSOR");
        let bad_check = format!("{}.zzzzzzzz", &cursor[..cursor.rfind('.').unwrap()]);
        for bad in ["42", "x.y", "-1.abcd", "42.", "+4.2a97516c", "0", "1.2a97516c.", "1.2a97516c.00.1", &bad_check] {
            assert_eq!(decode("acme", bad).unwrap_err().code, "INVALID_CURSOR", "{bad}");
        }
    }

    #[test]
    fn a_cursor_from_another_log_is_a_log_reset() {
        let (log, event) = (Uuid::from_u128(7), mark(42, 1_000));
        let start = decoded("acme", &encode("acme", log, None));
        assert_eq!(start.position(), 0);
        assert!(start.verify("acme", log, None).is_ok());
        assert!(start.verify("acme", Uuid::from_u128(8), None).is_err(), "another log");
        let at_42 = decoded("acme", &encode("acme", log, Some((42, event))));
        assert!(at_42.verify("acme", Uuid::from_u128(8), Some(event)).is_err(), "another log");
        assert!(at_42.verify("acme", log, None).is_err(), "no event there: restored from an older backup");
        assert!(at_42.verify("acme", log, Some(mark(43, 1_000))).is_err(), "another event there");
        assert!(at_42.verify("acme", log, Some(mark(42, 2_000))).is_err(), "the same event stored again, later");
        let legacy = decoded("acme", &format!("42.{}", tag("acme")));
        let error = ProtocolError::from(legacy.verify("acme", log, Some(event)).unwrap_err());
        assert_eq!((error.status, error.code), (410, "LOG_RESET"));
    }
}
