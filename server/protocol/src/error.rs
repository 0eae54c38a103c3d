//! Refusals: an HTTP status and a stable code (`docs/sync-protocol.md` §4), without an HTTP library's types.

use eventlite::sync::SyncError;

/// A refused request: the status and code every server answers it with, and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ProtocolError {
    /// The HTTP status, e.g. 400.
    pub status: u16,
    /// The stable code, e.g. `INVALID_REQUEST`.
    pub code: &'static str,
    /// Detail.
    pub message: String,
}

impl ProtocolError {
    /// A refusal with this status and code.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ProtocolError { status, code, message: message.into() }
    }

    /// 400 `INVALID_REQUEST`: the body or query is not the message the endpoint takes.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        ProtocolError::new(400, "INVALID_REQUEST", message)
    }

    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ProtocolError::new(401, "UNAUTHORIZED", message)
    }

    /// 413 `REQUEST_TOO_LARGE`: a body over `max_body_bytes`.
    pub fn request_too_large(max_body_bytes: usize) -> Self {
        ProtocolError::new(413, "REQUEST_TOO_LARGE", format!("the request body is larger than {max_body_bytes} bytes"))
    }

    /// 429 `TOO_MANY_LIVE_STREAMS`: the tenant already has `max` live streams open.
    pub fn too_many_live_streams(max: usize) -> Self {
        ProtocolError::new(429, "TOO_MANY_LIVE_STREAMS", format!("the tenant already has {max} live streams open"))
    }

    /// A failure of the storage, from its message: `507 STORAGE_FULL` when SQLite says the database is full
    /// (`SQLITE_FULL`, "database or disk is full"), else `500 INTERNAL`. The message says only which; the detail
    /// is the caller's to log, not to send.
    pub fn storage_failure(detail: &str) -> Self {
        if detail.contains("SQLITE_FULL") || detail.contains("database or disk is full") {
            ProtocolError::new(507, "STORAGE_FULL", "the storage is full")
        } else {
            ProtocolError::internal("internal error")
        }
    }

    /// 500 `INTERNAL`.
    pub fn internal(message: impl Into<String>) -> Self {
        ProtocolError::new(500, "INTERNAL", message)
    }

    /// The JSON body of the answer: `{"code": ..., "message": ...}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "code": self.code, "message": self.message }).to_string()
    }
}

/// The status of a sync rule's refusal: bad input is 400, sizes 413, a busy store 503, a full one 507.
impl From<SyncError> for ProtocolError {
    fn from(error: SyncError) -> Self {
        let code = error.code().as_str();
        let status = match &error {
            SyncError::InvalidArgument(_) | SyncError::Protocol(_) => 400,
            SyncError::EventTooLarge { .. } | SyncError::BatchTooLarge { .. } => 413,
            SyncError::Storage(storage) => match storage.code() {
                eventlite::ErrorCode::StorageBusy => 503,
                eventlite::ErrorCode::StorageFull => 507,
                _ => 500,
            },
            _ => 500,
        };
        ProtocolError { status, code, message: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_failures_are_full_or_internal_without_their_detail() {
        for full in ["Error: SQLITE_FULL: database or disk is full", "database or disk is full"] {
            let error = ProtocolError::storage_failure(full);
            assert_eq!((error.status, error.code, error.message.contains("SQLITE")), (507, "STORAGE_FULL", false));
        }
        let error = ProtocolError::storage_failure("TypeError: x of tenant t-secret is undefined");
        assert_eq!((error.status, error.code), (500, "INTERNAL"));
        assert!(!error.message.contains("t-secret"));
    }
}
