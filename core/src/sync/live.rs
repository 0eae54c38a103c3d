//! The live notifications (`GET /v1/live`, Server-Sent Events) as bytes in, "the head moved" out, and the
//! reconnection policy around them. No I/O: the transport reads the stream and feeds its chunks here.

use std::time::Duration;

use crate::sync::backoff::Backoff;
use crate::sync::error::{RoundError, SyncError};

/// A live connection's state: the partial SSE frame read so far, and the backoff between reconnections.
///
/// The transport connects, feeds every chunk to [`LiveFeed::on_bytes`] and runs a sync round whenever it returns
/// true (the first `head` event arrives on connecting); after a round succeeds it calls [`LiveFeed::on_synced`].
/// When the connection ends, fails or stays silent longer than [`LiveFeed::SILENCE`], it waits
/// [`LiveFeed::on_lost`] and connects again, resuming from the stored cursor.
#[derive(Debug, Clone)]
pub struct LiveFeed {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The `event:` field of the frame being read.
    event: Option<String>,
    backoff: Backoff,
}

impl LiveFeed {
    /// The longest silence of a live connection before it counts as dead: the server sends a keep-alive every 15 s.
    pub const SILENCE: Duration = Duration::from_secs(45);
    /// The longest line accepted; a longer one is not the protocol.
    const MAX_LINE: usize = 64 * 1024;

    /// A feed with no connection yet; `seed` drives the reconnection jitter.
    pub fn new(seed: u64) -> LiveFeed {
        LiveFeed { line: Vec::new(), event: None, backoff: Backoff::new(seed) }
    }

    /// A new connection begins: forget any partial frame of the previous one.
    pub fn on_connect(&mut self) {
        self.line.clear();
        self.event = None;
    }

    /// Reads a chunk of the stream; true when it completed a `head` event (the server's head moved: sync now).
    /// Lines may end in `\n` or `\r\n`, and chunks may split them anywhere.
    pub fn on_bytes(&mut self, chunk: &[u8]) -> Result<bool, RoundError> {
        let mut head = false;
        for &byte in chunk {
            if byte != b'\n' {
                if self.line.len() >= LiveFeed::MAX_LINE {
                    return Err(RoundError::Sync(SyncError::Protocol("a live stream line is too long".into())));
                }
                self.line.push(byte);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = std::mem::take(&mut self.line);
            if line.is_empty() {
                head |= self.event.take().as_deref() == Some("head");
            } else if let Some(name) = line.strip_prefix(b"event:") {
                let name = String::from_utf8_lossy(name);
                self.event = Some(name.strip_prefix(' ').unwrap_or(&name).to_owned());
            }
        }
        Ok(head)
    }

    /// A round triggered by the feed succeeded: the server and the connection work, so the next loss starts
    /// backing off afresh.
    pub fn on_synced(&mut self) {
        self.backoff.reset();
    }

    /// The connection ended or failed with `error`: how long to wait before connecting again (the longest delay when
    /// retrying cannot fix it, a refused token say).
    pub fn on_lost(&mut self, error: &RoundError) -> Duration {
        self.on_connect();
        self.backoff.after_failure(error.is_retryable())
    }

    /// Skip the rest of the backoff (the network came back): the next loss starts from the shortest delay.
    pub fn reset_backoff(&mut self) {
        self.backoff.reset();
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn head_events_are_found_across_chunks_and_line_endings() {
        let mut feed = LiveFeed::new(1);
        assert!(!feed.on_bytes(b"event: head\ndata: {\"position\":1}\n").unwrap());
        assert!(feed.on_bytes(b"\nevent: hea").unwrap());
        assert!(!feed.on_bytes(b"d\r\ndata: {}\r\n").unwrap());
        assert!(feed.on_bytes(b"\r\n").unwrap());
        assert!(!feed.on_bytes(b": keep-alive\n\n").unwrap(), "comments are not heads");
        assert!(!feed.on_bytes(b"event: other\n\n").unwrap());
        assert!(feed.on_bytes(b"event:head\n\n").unwrap());
    }

    #[test]
    fn a_new_connection_drops_a_partial_frame() {
        let mut feed = LiveFeed::new(1);
        feed.on_bytes(b"event: head\n").unwrap();
        feed.on_connect();
        assert!(!feed.on_bytes(b"\n").unwrap());
    }

    #[test]
    fn an_endless_line_is_a_protocol_error() {
        let mut feed = LiveFeed::new(1);
        let error = feed.on_bytes(&vec![b'x'; LiveFeed::MAX_LINE + 1]).unwrap_err();
        assert_eq!(error.code(), "SYNC_PROTOCOL");
    }

    #[test]
    fn losses_back_off_and_a_sync_resets() {
        let mut feed = LiveFeed::new(5);
        let transient = RoundError::Transport("cut".into());
        let first = feed.on_lost(&transient);
        let second = feed.on_lost(&transient);
        assert!(first <= Backoff::START && second <= Backoff::START * 2);
        let refused = RoundError::Server { status: 401, code: "UNAUTHORIZED".into(), message: String::new() };
        assert!(feed.on_lost(&refused) >= Backoff::MAX / 2);
        feed.on_synced();
        assert!(feed.on_lost(&transient) <= Backoff::START);
    }
}
