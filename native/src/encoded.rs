//! The compact append encoding: one byte buffer in, one number out, for [`crate::append_encoded`].
//!
//! The generated bindings lower a `Vec<NewEvent>` field by field (Python: a `struct.pack` and a `memmove` per
//! primitive, an FFI allocation per string; Kotlin: a JNA call per buffer). The language packages instead write a
//! whole append in one pass into one buffer (Python `b"".join`, Kotlin a direct `ByteBuffer`), which UniFFI passes
//! as a zero-copy `&[u8]`, and read the answer from one buffer: one FFI call per append. Decoding is strict: a
//! buffer that does not follow this layout exactly is `INVALID_ARGUMENT` (`payload`) and nothing is written; the
//! events themselves are validated by core exactly as on the generated path, with the same errors.
//!
//! Layout, little-endian, strings UTF-8 with a `u32` byte length in front (`str`):
//!
//! ```text
//! append  := u8 format (= 1)  u8 expected (0 Any, 1 NoStream, 2 StreamExists, 3 Exact)  u64 version (Exact's, else 0)
//!            str stream  u32 count  event{count}
//! event   := u8 flags (1 binary data, 2 metadata, 4 event id)  str event_type  [str content_type if binary]
//!            u32 length + data bytes (JSON text unless binary)  [str metadata]  [str event_id]
//! result  := u8 already_appended (0 / 1)  u64 stream_version  u32 count  u64 position{count}
//! ```
//!
//! The answer is usually not a buffer but a `u64` ([`pack_result`]): a returned buffer costs the foreign side a
//! second FFI call to free it (and, under JNA, three more native structures). It holds the whole result when the
//! positions are consecutive (always so for a fresh append: one transaction), one per appended event, and the
//! numbers fit: bit 63 set, bit 62 `already_appended`, bits 38-61 the stream version (below 2^24), bits 0-37 the
//! first position (below 2^38; 0 for an empty batch; the others follow it). Otherwise the answer is 0 and the full result waits, encoded
//! as `result` above, in a slot of the calling thread for `take_append_result` (the same thread's next call).

use eventlite::{
    AppendResult as CoreAppendResult, EventData as CoreEventData, ExpectedVersion as CoreExpectedVersion,
    NewEvent as CoreNewEvent,
};

use crate::error::EventLiteError;
use crate::types::parse_uuid;

/// The only format this library reads.
pub(crate) const FORMAT: u8 = 1;

const BINARY: u8 = 1;
const METADATA: u8 = 2;
const EVENT_ID: u8 = 4;

/// A decoded append: borrows the stream name from the buffer.
#[derive(Debug)]
pub(crate) struct Append<'a> {
    pub(crate) stream: &'a str,
    pub(crate) expected: CoreExpectedVersion,
    pub(crate) events: Vec<CoreNewEvent>,
}

fn malformed(reason: &str) -> EventLiteError {
    EventLiteError::invalid_argument("payload", reason)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], EventLiteError> {
        if self.bytes.len() < count {
            return Err(malformed("ends early"));
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, EventLiteError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, EventLiteError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, EventLiteError> {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(bytes))
    }

    fn bytes(&mut self) -> Result<&'a [u8], EventLiteError> {
        let length = self.u32()? as usize;
        self.take(length)
    }

    /// A length-prefixed UTF-8 string; invalid UTF-8 is `INVALID_ARGUMENT` naming `argument`.
    fn str(&mut self, argument: impl FnOnce() -> String) -> Result<&'a str, EventLiteError> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| EventLiteError::invalid_argument(&argument(), "is not valid UTF-8"))
    }
}

/// Decodes an append buffer. Every event is converted as [`crate::NewEvent`] is on the generated path.
pub(crate) fn decode_append(payload: &[u8]) -> Result<Append<'_>, EventLiteError> {
    let mut reader = Reader { bytes: payload };
    let format = reader.u8()?;
    if format != FORMAT {
        return Err(malformed("has an unknown format"));
    }
    let tag = reader.u8()?;
    let version = reader.u64()?;
    let expected = match (tag, version) {
        (0, 0) => CoreExpectedVersion::Any,
        (1, 0) => CoreExpectedVersion::NoStream,
        (2, 0) => CoreExpectedVersion::StreamExists,
        (3, version) => CoreExpectedVersion::Exact(version),
        _ => return Err(malformed("has an unknown expectation")),
    };
    let stream = reader.str(|| "stream".to_owned())?;
    let count = reader.u32()? as usize;
    // Each event takes at least 9 bytes (flags, type length, data length): a count the buffer cannot hold is refused
    // before anything is allocated for it.
    if count > reader.bytes.len() / 9 {
        return Err(malformed("holds fewer events than it counts"));
    }
    let mut events = Vec::with_capacity(count);
    for index in 0..count {
        let flags = reader.u8()?;
        if flags & !(BINARY | METADATA | EVENT_ID) != 0 {
            return Err(malformed("has unknown event flags"));
        }
        let event_type = reader.str(|| format!("events[{index}].type"))?.to_owned();
        let data = if flags & BINARY != 0 {
            let content_type = reader.str(|| format!("events[{index}].content_type"))?.to_owned();
            CoreEventData::Binary { content_type, bytes: reader.bytes()?.to_vec() }
        } else {
            CoreEventData::Json(reader.str(|| format!("events[{index}].data"))?.to_owned())
        };
        let metadata = match flags & METADATA {
            0 => None,
            _ => Some(reader.str(|| format!("events[{index}].metadata"))?.to_owned()),
        };
        let event_id = match flags & EVENT_ID {
            0 => None,
            _ => {
                let argument = format!("events[{index}].event_id");
                Some(parse_uuid(reader.str(|| argument.clone())?, &argument)?)
            }
        };
        events.push(CoreNewEvent { event_id, event_type, data, metadata });
    }
    if !reader.bytes.is_empty() {
        return Err(malformed("has bytes after its last event"));
    }
    Ok(Append { stream, expected, events })
}

const PACKED: u64 = 1 << 63;
const PACKED_ALREADY_APPENDED: u64 = 1 << 62;
const PACKED_VERSION_BITS: u32 = 24;
const PACKED_POSITION_BITS: u32 = 38;

std::thread_local! {
    /// The full result of this thread's last append whose result did not fit a `u64`.
    static FULL_RESULT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `result` as one `u64` when it fits (see the module docs), else 0 with the full result kept for
/// [`take_full_result`] on this thread.
pub(crate) fn pack_result(result: &CoreAppendResult, count: usize) -> u64 {
    let first = result.positions.first().copied().unwrap_or(0);
    let consecutive = result.positions.len() == count
        && result
            .positions
            .iter()
            .enumerate()
            .all(|(index, &position)| Some(position) == first.checked_add(index as u64));
    if consecutive && result.stream_version >> PACKED_VERSION_BITS == 0 && first >> PACKED_POSITION_BITS == 0 {
        let already_appended = if result.already_appended { PACKED_ALREADY_APPENDED } else { 0 };
        return PACKED | already_appended | result.stream_version << PACKED_POSITION_BITS | first;
    }
    FULL_RESULT.with(|slot| *slot.borrow_mut() = encode_result(result));
    0
}

/// Takes the full result [`pack_result`] kept on this thread (empty when none).
pub(crate) fn take_full_result() -> Vec<u8> {
    FULL_RESULT.with(|slot| std::mem::take(&mut *slot.borrow_mut()))
}

/// The result an [`crate::append_encoded`] of `count` events answered with `packed` (the reference for
/// the packages' decoders): `None` for 0 (take the full result) or a value that is not a packed result.
pub fn unpack_result(packed: u64, count: usize) -> Option<crate::AppendResult> {
    if packed & PACKED == 0 {
        return None;
    }
    let first = packed & ((1 << PACKED_POSITION_BITS) - 1);
    let stream_version = (packed >> PACKED_POSITION_BITS) & ((1 << PACKED_VERSION_BITS) - 1);
    let positions = (0..count as u64).map(|index| first + index).collect();
    Some(crate::AppendResult { stream_version, positions, already_appended: packed & PACKED_ALREADY_APPENDED != 0 })
}

/// Encodes an append's result in full.
pub(crate) fn encode_result(result: &CoreAppendResult) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + 8 * result.positions.len());
    out.push(u8::from(result.already_appended));
    out.extend_from_slice(&result.stream_version.to_le_bytes());
    out.extend_from_slice(&(result.positions.len() as u32).to_le_bytes());
    for position in &result.positions {
        out.extend_from_slice(&position.to_le_bytes());
    }
    out
}

/// Encodes an append the way the language packages do (the reference for their encoders, and for tests).
pub fn encode_append(stream: &str, events: &[crate::NewEvent], expected: crate::ExpectedVersion) -> Vec<u8> {
    use crate::{EventData, ExpectedVersion};
    fn put_str(out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text);
    }
    let (tag, version) = match expected {
        ExpectedVersion::Any => (0, 0),
        ExpectedVersion::NoStream => (1, 0),
        ExpectedVersion::StreamExists => (2, 0),
        ExpectedVersion::Exact { version } => (3, version),
    };
    let mut out = vec![FORMAT, tag];
    out.extend_from_slice(&version.to_le_bytes());
    put_str(&mut out, stream.as_bytes());
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for event in events {
        let mut flags = 0;
        if matches!(event.data, EventData::Binary { .. }) {
            flags |= BINARY;
        }
        if event.metadata.is_some() {
            flags |= METADATA;
        }
        if event.event_id.is_some() {
            flags |= EVENT_ID;
        }
        out.push(flags);
        put_str(&mut out, event.event_type.as_bytes());
        match &event.data {
            EventData::Json { json } => put_str(&mut out, json.as_bytes()),
            EventData::Binary { content_type, bytes } => {
                put_str(&mut out, content_type.as_bytes());
                put_str(&mut out, bytes);
            }
        }
        for text in [&event.metadata, &event.event_id].into_iter().flatten() {
            put_str(&mut out, text.as_bytes());
        }
    }
    out
}

/// Decodes a result buffer (the reference for the packages' decoders, and for tests).
pub fn decode_result(bytes: &[u8]) -> Option<crate::AppendResult> {
    let mut reader = Reader { bytes };
    let already_appended = match reader.u8().ok()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let stream_version = reader.u64().ok()?;
    let count = reader.u32().ok()? as usize;
    let positions = (0..count).map(|_| reader.u64().ok()).collect::<Option<Vec<_>>>()?;
    reader.bytes.is_empty().then_some(crate::AppendResult { stream_version, positions, already_appended })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventData, ExpectedVersion, NewEvent};

    fn sample() -> Vec<NewEvent> {
        vec![
            NewEvent {
                event_type: "Placed".into(),
                data: EventData::Json { json: r#"{"total":42}"#.into() },
                metadata: Some(r#"{"correlationId":"c-1"}"#.into()),
                event_id: Some("0190b1a2-7c4e-7d1a-9f3e-1c2d3e4f5a6b".into()),
            },
            NewEvent {
                event_type: "Scanned".into(),
                data: EventData::Binary { content_type: "image/png".into(), bytes: vec![0, 159, 255] },
                metadata: None,
                event_id: None,
            },
        ]
    }

    #[test]
    fn an_encoded_append_decodes_to_what_the_generated_path_converts() {
        let events = sample();
        let payload = encode_append("order-1", &events, ExpectedVersion::Exact { version: 7 });
        let append = decode_append(&payload).unwrap();
        assert_eq!(append.stream, "order-1");
        assert_eq!(append.expected, CoreExpectedVersion::Exact(7));
        let converted: Vec<_> =
            events.into_iter().enumerate().map(|(index, event)| event.into_core(index).unwrap()).collect();
        assert_eq!(append.events, converted);
    }

    #[test]
    fn every_expectation_round_trips() {
        for expected in [
            ExpectedVersion::Any,
            ExpectedVersion::NoStream,
            ExpectedVersion::StreamExists,
            ExpectedVersion::Exact { version: 0 },
            ExpectedVersion::Exact { version: u64::MAX },
        ] {
            let append = encode_append("s-1", &[], expected);
            assert_eq!(ExpectedVersion::from(decode_append(&append).unwrap().expected), expected);
        }
    }

    fn packs(result: &CoreAppendResult, count: usize) -> Option<crate::AppendResult> {
        let packed = pack_result(result, count);
        let full = take_full_result();
        match packed {
            0 => {
                assert_eq!(decode_result(&full).unwrap(), crate::AppendResult::from(result.clone()));
                None
            }
            _ => {
                assert!(full.is_empty());
                Some(unpack_result(packed, count).unwrap())
            }
        }
    }

    #[test]
    fn a_result_is_packed_when_it_fits_and_kept_in_full_otherwise() {
        let fresh = CoreAppendResult { stream_version: 3, positions: vec![41, 42, 43], already_appended: false };
        assert_eq!(packs(&fresh, 3), Some(fresh.clone().into()));
        let retried = CoreAppendResult { already_appended: true, ..fresh.clone() };
        assert_eq!(packs(&retried, 3), Some(retried.clone().into()));
        let empty = CoreAppendResult { stream_version: 7, positions: vec![], already_appended: false };
        assert_eq!(packs(&empty, 0), Some(empty.into()));
        let largest = CoreAppendResult {
            stream_version: (1 << 24) - 1,
            positions: vec![(1 << 38) - 2, (1 << 38) - 1],
            already_appended: true,
        };
        assert_eq!(packs(&largest, 2), Some(largest.clone().into()));

        let gap = CoreAppendResult { stream_version: 2, positions: vec![5, 7], already_appended: true };
        let long_stream = CoreAppendResult { stream_version: 1 << 24, positions: vec![9], already_appended: false };
        let far = CoreAppendResult { stream_version: 1, positions: vec![1 << 38], already_appended: false };
        let top = CoreAppendResult { stream_version: 1, positions: vec![u64::MAX], already_appended: false };
        for (result, count) in [(gap, 2), (long_stream, 1), (far, 1), (top, 1), (fresh, 2)] {
            assert_eq!(packs(&result, count), None, "{result:?}");
        }
        assert!(take_full_result().is_empty());
        assert_eq!(unpack_result(0, 1), None);
    }

    #[test]
    fn a_result_round_trips() {
        let result = CoreAppendResult { stream_version: 9, positions: vec![3, 5, u64::MAX], already_appended: true };
        let decoded = decode_result(&encode_result(&result)).unwrap();
        assert_eq!(decoded, crate::AppendResult::from(result));
    }

    fn invalid(payload: &[u8]) -> (String, String) {
        match decode_append(payload).unwrap_err() {
            EventLiteError::InvalidArgument { code, argument, .. } => (code, argument),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_truncation_and_any_trailing_byte_is_refused() {
        let payload = encode_append("order-1", &sample(), ExpectedVersion::Any);
        for length in 0..payload.len() {
            assert_eq!(invalid(&payload[..length]), ("INVALID_ARGUMENT".into(), "payload".into()), "length {length}");
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert_eq!(invalid(&longer).1, "payload");
    }

    #[test]
    fn unknown_formats_expectations_flags_and_huge_counts_are_refused() {
        let payload = encode_append("order-1", &sample(), ExpectedVersion::Any);
        let mut format = payload.clone();
        format[0] = 2;
        assert_eq!(invalid(&format).1, "payload");
        let mut expectation = payload.clone();
        expectation[1] = 4;
        assert_eq!(invalid(&expectation).1, "payload");
        let mut any_with_version = payload.clone();
        any_with_version[2] = 1;
        assert_eq!(invalid(&any_with_version).1, "payload");
        let flags_at = 1 + 1 + 8 + 4 + "order-1".len() + 4;
        let mut flags = payload.clone();
        flags[flags_at] |= 8;
        assert_eq!(invalid(&flags).1, "payload");
        let mut count = payload;
        count[flags_at - 4..flags_at].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(invalid(&count).1, "payload");
    }

    #[test]
    fn invalid_utf8_names_its_field() {
        let mut events = sample();
        events[0].event_type = "ÿ".into();
        let mut payload = encode_append("order-1", &events[..1], ExpectedVersion::Any);
        let at = payload.iter().position(|&byte| byte == 0xC3).unwrap();
        payload[at] = 0xFF;
        assert_eq!(invalid(&payload).1, "events[0].type");
        let mut stream = encode_append("ÿ", &[], ExpectedVersion::Any);
        stream[14] = 0xFF;
        assert_eq!(invalid(&stream).1, "stream");
    }

    #[test]
    fn a_malformed_event_id_is_the_generated_paths_error() {
        let mut events = sample();
        events[1].event_id = Some("not-a-uuid".into());
        let payload = encode_append("order-1", &events, ExpectedVersion::Any);
        let generated = events[1].clone().into_core(1).unwrap_err();
        assert_eq!(decode_append(&payload).unwrap_err(), generated);
    }
}
