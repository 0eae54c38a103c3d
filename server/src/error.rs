//! HTTP errors: one JSON shape, `{"code": "...", "message": "..."}`, with a status per code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eventlite::sync::SyncError;
use eventlite_protocol::ProtocolError;
use serde::{Deserialize, Serialize};

use crate::backend::BackendError;
use crate::cursor::LogReset;

/// The JSON body of every error response. Codes are API (see `docs/sync-protocol.md`); messages are for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `INVALID_REQUEST`.
    pub code: String,
    /// Human-readable detail.
    pub message: String,
}

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code.
    pub code: &'static str,
    /// Detail.
    pub message: String,
}

impl ApiError {
    /// An error with this status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    /// 400 `INVALID_REQUEST`: the body is not the message the endpoint takes (malformed JSON, wrong types, unknown
    /// or missing fields).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// 500 `INTERNAL`.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }
}

impl From<ProtocolError> for ApiError {
    fn from(error: ProtocolError) -> Self {
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError { status, code: error.code, message: error.message }
    }
}

/// The statuses are `eventlite_protocol`'s, which every server backend shares.
impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        ProtocolError::from(error).into()
    }
}

impl From<LogReset> for ApiError {
    fn from(reset: LogReset) -> Self {
        ProtocolError::from(reset).into()
    }
}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::Sync(error) => error.into(),
            BackendError::Unavailable(message) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", message)
            }
            BackendError::Internal(message) => ApiError::internal(message),
            BackendError::LogReset(reset) => reset.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code, message = %self.message, "request refused");
        }
        let body = ErrorBody { code: self.code.to_owned(), message: self.message };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorCodeTag(self.code));
        response
    }
}

/// The code of an error response, for the metrics middleware.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCodeTag(pub &'static str);
