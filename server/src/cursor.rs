//! Pull cursors, `<position>.<tenant tag>.<check>`: the rules are `eventlite_protocol::cursor`'s (shared with the
//! Durable Object backend, `server/edge/`), where the format and why it binds a cursor to its log are explained.

pub use eventlite_protocol::cursor::{Cursor, EventMark, LogReset, decode, encode, page_cursor};
