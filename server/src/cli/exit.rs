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

/// The CLI's own stable codes (core's are [`ErrorCode`]); each has one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliCode {
    /// The store file or tenant database does not exist (exit 4).
    StoreNotFound,
    /// An import line is not an event line (exit 5).
    MalformedLine,
    /// An output file already exists (exit 2).
    OutputExists,
    /// `check` found a problem (exit 3).
    Unhealthy,
    /// Reading or writing a file failed (exit 1).
    IoError,
    /// A store whose schema is older than a read-only open reads, so it cannot be read without migrating (exit 6).
    SchemaTooOld,
    /// An older command (`serve`, `sync`, `token`, `log`, `append`) failed with only a message (exit 1).
    Failed,
}

impl CliCode {
    /// The code's string form, e.g. `"STORE_NOT_FOUND"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CliCode::StoreNotFound => "STORE_NOT_FOUND",
            CliCode::MalformedLine => "MALFORMED_LINE",
            CliCode::OutputExists => "OUTPUT_EXISTS",
            CliCode::Unhealthy => "UNHEALTHY",
            CliCode::IoError => "IO_ERROR",
            CliCode::SchemaTooOld => "SCHEMA_TOO_OLD",
            CliCode::Failed => "FAILED",
        }
    }

    /// The exit code it always has.
    pub fn exit(self) -> u8 {
        match self {
            CliCode::StoreNotFound => NOT_FOUND,
            CliCode::MalformedLine => BAD_INPUT,
            CliCode::OutputExists => USAGE,
            CliCode::Unhealthy => UNHEALTHY,
            CliCode::IoError | CliCode::Failed => FAILURE,
            CliCode::SchemaTooOld => NOT_A_STORE,
        }
    }
}

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

    /// One of the CLI's own failures, with its exit code.
    pub fn cli(code: CliCode, message: impl Into<String>) -> CliError {
        CliError::new(code.exit(), code.as_str(), message)
    }

    /// A bad argument (exit 2, `INVALID_ARGUMENT`).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(USAGE, ErrorCode::InvalidArgument.as_str(), message)
    }

    /// An I/O failure on a file the command reads or writes (exit 1, `IO_ERROR`).
    pub fn io(what: &str, error: &std::io::Error) -> CliError {
        CliError::cli(CliCode::IoError, format!("{what}: {error}"))
    }

    /// A core error: its code and the exit code its family maps to. `usage` says whether an `INVALID_ARGUMENT` came
    /// from the command's arguments (exit 2) or from input data (exit 5).
    pub fn core(code: ErrorCode, message: String, invalid_is_usage: bool) -> CliError {
        let exit = match code {
            ErrorCode::InvalidArgument if invalid_is_usage => USAGE,
            ErrorCode::InvalidArgument
            | ErrorCode::IdempotencyConflict
            | ErrorCode::WrongExpectedVersion
            | ErrorCode::EventTooLarge
            // A projection's statement failed on an event of the input: the input is refused, as a whole batch.
            | ErrorCode::ProjectionFailed => BAD_INPUT,
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

/// A store too old to read without migrating it is not a store this binary can read (exit 6), however core codes it.
impl From<eventlite::OpenError> for CliError {
    fn from(error: eventlite::OpenError) -> Self {
        match error {
            eventlite::OpenError::SchemaTooOld { .. } => CliError::cli(CliCode::SchemaTooOld, error.to_string()),
            error => CliError::core(error.code(), error.to_string(), true),
        }
    }
}

from_core!(
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
        CliError::cli(CliCode::Failed, error.to_string())
    }
}
