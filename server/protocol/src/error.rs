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
