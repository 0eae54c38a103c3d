//! Streams: optimistic-concurrency expectations, append results, and reading one stream.

use std::fmt;

use crate::event::RecordedEvent;

/// What the caller expects of a stream's version when appending.
///
/// Versions are 1-based: a stream with one event is at version 1; an absent (or empty) stream is at version 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist (version 0).
    NoStream,
    /// The stream must exist (version at least 1).
    StreamExists,
    /// The stream must be exactly at this version (0 means it must not exist).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` satisfies this expectation.
    pub fn is_satisfied_by(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(expected) => actual == expected,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("stream exists"),
            ExpectedVersion::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// The result of a successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's version after the batch: the version of its last event. For an empty batch, the current version.
    pub stream_version: u64,
    /// The global positions of the batch's events, in batch order.
    pub positions: Vec<u64>,
    /// True when every event was already stored by an earlier append of the same batch (an idempotent retry):
    /// the result is that earlier append's and nothing was written.
    pub already_appended: bool,
}

/// Reading direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Oldest first.
    #[default]
    Forwards,
    /// Newest first.
    Backwards,
}

/// Where and how far to read a stream. Built with [`ReadStreamOptions::forwards`] or [`ReadStreamOptions::backwards`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadStreamOptions {
    /// The first version to return, inclusive. `None`: the start (forwards) or the end (backwards).
    pub from_version: Option<u64>,
    /// Which way to read.
    pub direction: Direction,
    /// At most this many events.
    pub max_count: usize,
}

impl ReadStreamOptions {
    /// The default page size.
    pub const DEFAULT_MAX_COUNT: usize = 1_000;

    /// From the first event, oldest first, one page.
    pub fn forwards() -> Self {
        ReadStreamOptions { from_version: None, direction: Direction::Forwards, max_count: Self::DEFAULT_MAX_COUNT }
    }

    /// From the last event, newest first, one page.
    pub fn backwards() -> Self {
        ReadStreamOptions { direction: Direction::Backwards, ..Self::forwards() }
    }

    /// Starts at this version (inclusive).
    pub fn from_version(mut self, version: u64) -> Self {
        self.from_version = Some(version);
        self
    }

    /// Returns at most `max_count` events.
    pub fn max_count(mut self, max_count: usize) -> Self {
        self.max_count = max_count;
        self
    }
}

impl Default for ReadStreamOptions {
    fn default() -> Self {
        Self::forwards()
    }
}

/// A page of one stream, read in one consistent snapshot of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSlice {
    /// The events, in the requested direction.
    pub events: Vec<RecordedEvent>,
    /// The stream's current version (0 when it does not exist).
    pub stream_version: u64,
}
