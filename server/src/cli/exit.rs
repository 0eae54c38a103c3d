//! Exit codes and the one error type every command returns. Codes are API (documented in `docs/cli.md`): scripts
//! branch on them, so a code never changes meaning.

use eventlite::ErrorCode;

/// Success.
pub const OK: u8 = 0;
/// A failure that fits no other code: storage, network, I/O.
pub const FAILURE: u8 = 1;
/// Bad arguments (clap uses 2 too).
pub const USAGE: u8 = 2;
/// `check` found a problem: the store is not healthy.
pub const UNHEALTHY: u8 = 3;
/// The store file (or the tenant's database) does not exist.
pub const NOT_FOUND: u8 = 4;
/// The input (an import file) is malformed, or holds an event the store refuses.
pub const BAD_INPUT: u8 = 5;
/// The file is not an EventLite store this version can read (another file, a newer schema, corrupt).
pub const NOT_A_STORE: u8 = 6;

/// A command's failure: the exit code, a stable error code (core's, or the CLI's own) and a message for humans.
#[derive(Debug)]
pub struct CliError {
    /// The process's exit code.
    pub exit: u8,
    /// A stable code, e.g. `INVALID_ARGUMENT`, `STORE_NOT_FOUND`, `MALFORMED_LINE`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl CliError {
    pub fn new(exit: u8, code: impl Into<String>, message: impl Into<String>) -> CliError {
        CliError { exit, code: code.into(), message: message.into() }
    }

    /// A bad argument (exit 2, `INVALID_ARGUMENT`).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(USAGE, ErrorCode::InvalidArgument.as_str(), message)
    }

    /// An I/O failure on a file the command reads or writes (exit 1, `IO_ERROR`).
    pub fn io(what: &str, error: &std::io::Error) -> CliError {
        CliError::new(FAILURE, "IO_ERROR", format!("{what}: {error}"))
    }

    /// A core error: its code and the exit code its family maps to. `usage` says whether an `INVALID_ARGUMENT` came
    /// from the command's arguments (exit 2) or from input data (exit 5).
    pub fn core(code: ErrorCode, message: String, invalid_is_usage: bool) -> CliError {
        let exit = match code {
            ErrorCode::InvalidArgument if invalid_is_usage => USAGE,
            ErrorCode::InvalidArgument
            | ErrorCode::IdempotencyConflict
            | ErrorCode::WrongExpectedVersion
            | ErrorCode::EventTooLarge => BAD_INPUT,
            ErrorCode::NotADatabase | ErrorCode::SchemaTooNew | ErrorCode::Corrupt => NOT_A_STORE,
            _ => FAILURE,
        };
        CliError::new(exit, code.as_str(), message)
    }
}

macro_rules! from_core {
    ($($family:ty),*) => {$(
        impl From<$family> for CliError {
            fn from(error: $family) -> Self {
                CliError::core(error.code(), error.to_string(), true)
            }
        }
    )*};
}

from_core!(
    eventlite::OpenError,
    eventlite::AppendError,
    eventlite::ReadError,
    eventlite::ImportError,
    eventlite::sync::SyncError,
    eventlite::Error
);

impl From<eventlite_client::ClientError> for CliError {
    fn from(error: eventlite_client::ClientError) -> Self {
        CliError::new(FAILURE, error.code(), error.to_string())
    }
}

/// Failures of the older commands (serve, sync, token), which report only a message.
impl From<Box<dyn std::error::Error + Send + Sync>> for CliError {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        CliError::new(FAILURE, "FAILED", error.to_string())
    }
}
