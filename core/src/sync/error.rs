//! Errors of the sync engine.

use crate::error::{ErrorCode, InvalidArgument, ReadError, StorageError};

/// Why a sync step failed. A failed step changes nothing in the store (it runs in one transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A malformed message field: a stream name, event type, JSON body, expectation, duplicate id, ...
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// One event is larger than the limit.
    #[error("event {index} is {size} bytes, larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// The event's index in the batch.
        index: usize,
        /// Its size: type + data + metadata, in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A push holds more events than the limit.
    #[error("the batch holds {count} events, more than the limit of {limit}")]
    BatchTooLarge {
        /// Events in the batch.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The other side sent something the protocol does not allow: a response that does not match its request, a
    /// pulled event whose version does not continue the confirmed stream, ... Nothing was applied.
    #[error("sync protocol violation: {0}")]
    Protocol(String),
    /// SQLite failed; the transaction was rolled back.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl SyncError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            SyncError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            SyncError::EventTooLarge { .. } => ErrorCode::EventTooLarge,
            SyncError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
            SyncError::Protocol(_) => ErrorCode::SyncProtocol,
            SyncError::Storage(error) => error.code(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for SyncError {
    fn from(error: rusqlite::Error) -> Self {
        SyncError::Storage(error.into())
    }
}

impl From<ReadError> for SyncError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::InvalidArgument(error) => SyncError::InvalidArgument(error),
            ReadError::Storage(error) => SyncError::Storage(error),
        }
    }
}

/// Why a sync round failed ([`crate::sync::SyncRound`]). Nothing is lost: every step of a round is safe to repeat,
/// so start another round when [`RoundError::is_retryable`] says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoundError {
    /// The connection was refused or cut, or the request timed out, before an answer.
    #[error("transport: {0}")]
    Transport(String),
    /// The server answered with an error.
    #[error("server answered {status} {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The stable code from the `{code, message}` body, or `HTTP_<status>` when the body was not one.
        code: String,
        /// The message.
        message: String,
    },
    /// The local store refused a step, or the server broke the protocol.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl RoundError {
    /// The code of a pull refused because the cursor belongs to another log than the server's (its data was lost
    /// or restored from an older backup): the replica starts over ([`crate::Store::restart_sync_after_log_reset`]).
    pub const LOG_RESET: &'static str = "LOG_RESET";

    /// The longest part of a non-protocol error body kept as the message.
    const MESSAGE_BYTES: usize = 200;

    /// The failure an error answer stands for: its `{code, message}` body, or (a proxy's page, say) `HTTP_<status>`
    /// with the start of the body.
    pub fn from_http(status: u16, body: &[u8]) -> RoundError {
        #[derive(serde::Deserialize)]
        struct Body {
            code: String,
            #[serde(default)]
            message: String,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(Body { code, message }) => RoundError::Server { status, code, message },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let end = (0..=Self::MESSAGE_BYTES.min(text.len())).rev().find(|end| text.is_char_boundary(*end));
                let message = text[..end.unwrap_or(0)].to_owned();
                RoundError::Server { status, code: format!("HTTP_{status}"), message }
            }
        }
    }

    /// Transport failures, timeouts (`408` included), `5xx` and `429` answers, `LOG_RESET` (the next round starts
    /// over against the new log), and a busy local store are worth retrying with backoff; other `4xx` answers and
    /// protocol violations are not (retrying soon cannot fix them).
    pub fn is_retryable(&self) -> bool {
        match self {
            RoundError::Transport(_) => true,
            RoundError::Server { status, code, .. } => {
                *status >= 500 || *status == 429 || *status == 408 || code == Self::LOG_RESET
            }
            RoundError::Sync(error) => error.code() == ErrorCode::StorageBusy,
        }
    }

    /// The stable code: `NETWORK` for a transport failure, the server's code, or the local error's.
    pub fn code(&self) -> &str {
        match self {
            RoundError::Transport(_) => "NETWORK",
            RoundError::Server { code, .. } => code,
            RoundError::Sync(error) => error.code().as_str(),
        }
    }

    /// The HTTP status of a server answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            RoundError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<StorageError> for RoundError {
    fn from(error: StorageError) -> Self {
        RoundError::Sync(SyncError::Storage(error))
    }
}
