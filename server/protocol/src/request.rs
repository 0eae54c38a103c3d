//! Reading a request's query string, `Content-Type` and push body as `docs/sync-protocol.md` §3 says: the same
//! answers on every server.

use eventlite::sync::PushRequest;

use crate::auth::Tenant;
use crate::cursor::{self, Cursor};
use crate::error::ProtocolError;

/// The longest request target (path and query) answered: longer ones get `414 URI_TOO_LONG`.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header fields, and header bytes (names and values), answered: more get `431 HEADERS_TOO_LARGE`.
pub const MAX_HEADER_FIELDS: usize = 100;
/// See [`MAX_HEADER_FIELDS`].
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Checks a request's head before anything else: its target's length (`414 URI_TOO_LONG`), then its header fields'
/// count and bytes (names and values: `431 HEADERS_TOO_LARGE`).
pub fn check_head(target_bytes: usize, header_fields: usize, header_bytes: usize) -> Result<(), ProtocolError> {
    if target_bytes > MAX_URI_BYTES {
        let message = format!("the request target is {target_bytes} bytes, more than {MAX_URI_BYTES}");
        return Err(ProtocolError::new(414, "URI_TOO_LONG", message));
    }
    if header_fields > MAX_HEADER_FIELDS || header_bytes > MAX_HEADER_BYTES {
        let message = format!(
            "{header_fields} header fields of {header_bytes} bytes; at most {MAX_HEADER_FIELDS} fields and \
             {MAX_HEADER_BYTES} bytes"
        );
        return Err(ProtocolError::new(431, "HEADERS_TOO_LARGE", message));
    }
    Ok(())
}

/// Decodes `%XX` escapes; `None` for a malformed escape. `+` is not a space.
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Some(out)
}

/// Splits a query into `key=value` pairs: `&`-separated, empty pairs skipped, keys and values percent-decoded
/// (`+` is not a space), each key at most once, only `allowed` keys.
pub fn query_pairs(query: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, ProtocolError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_decode(text)
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| ProtocolError::invalid_request(format!("malformed percent-encoding in {pair:?}")))
        };
        let (key, value) = (decode(key)?, decode(value)?);
        if !allowed.contains(&key.as_str()) {
            return Err(ProtocolError::invalid_request(format!("unknown query parameter {key:?}")));
        }
        if pairs.iter().any(|(seen, _)| *seen == key) {
            return Err(ProtocolError::invalid_request(format!("query parameter {key:?} given twice")));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// A push's query: `after`, the pushing replica's pull cursor. Empty or absent (a replica that never pulled):
/// `None`, not checked.
pub fn parse_push_query(tenant: &Tenant, query: Option<&str>) -> Result<Option<Cursor>, ProtocolError> {
    let mut after = None;
    for (_, value) in query_pairs(query, &["after"])? {
        after = cursor::decode(tenant.as_str(), &value)?;
    }
    Ok(after)
}

/// A pull's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullQuery {
    /// The cursor as sent (an empty page answers with it) and as decoded; `None`: from the start.
    pub after: Option<(String, Cursor)>,
    /// Events per page, 1 to the server's maximum.
    pub limit: usize,
}

impl PullQuery {
    /// The position the page starts after (0: the start).
    pub fn position(&self) -> u64 {
        self.after.as_ref().map_or(0, |(_, after)| after.position())
    }
}

/// Reads a pull's query: `after` (a cursor of `tenant`), `limit` (plain decimal digits, 1 to `max`, default
/// `max`); `access_token` is ignored here.
pub fn parse_pull_query(tenant: &Tenant, query: Option<&str>, max: usize) -> Result<PullQuery, ProtocolError> {
    let mut parsed = PullQuery { after: None, limit: max };
    for (key, value) in query_pairs(query, &["after", "limit", "access_token"])? {
        match key.as_str() {
            "after" => parsed.after = cursor::decode(tenant.as_str(), &value)?.map(|decoded| (value, decoded)),
            "limit" => {
                parsed.limit = Some(value.as_str())
                    .filter(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|value| value.parse::<usize>().ok())
                    .filter(|limit| (1..=max).contains(limit))
                    .ok_or_else(|| {
                        ProtocolError::invalid_request(format!("limit must be an integer from 1 to {max}"))
                    })?;
            }
            _ => {}
        }
    }
    Ok(parsed)
}

/// A live stream's query: only `access_token` (for browsers' `EventSource`, which cannot set headers), returned
/// percent-decoded. The `Authorization` header wins when both are given.
pub fn parse_live_query(query: Option<&str>) -> Result<Option<String>, ProtocolError> {
    Ok(query_pairs(query, &["access_token"])?.into_iter().next().map(|(_, token)| token))
}

/// A push's `Content-Type` (its raw bytes), when given, must be `application/json` (any case; parameters such as
/// `charset=utf-8` allowed, another charset is not): else `415 UNSUPPORTED_MEDIA_TYPE`. A value with other bytes
/// than visible ASCII, space and tab is refused too.
pub fn check_json_content_type(value: Option<&[u8]>) -> Result<(), ProtocolError> {
    let Some(value) = value else {
        return Ok(());
    };
    let unsupported =
        || ProtocolError::new(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be JSON: Content-Type: application/json");
    if !value.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        return Err(unsupported());
    }
    let value = std::str::from_utf8(value).map_err(|_| unsupported())?;
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(unsupported());
    }
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        if name.trim().eq_ignore_ascii_case("charset") && !value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err(unsupported());
        }
    }
    Ok(())
}

/// The checks of a push that need only its head, in the order `docs/sync-protocol.md` §3.1 documents, the first
/// failure winning (authentication comes before them): the query (`after`: `400 INVALID_REQUEST` or
/// `INVALID_CURSOR`), then the `Content-Type` (`415 UNSUPPORTED_MEDIA_TYPE`), then the declared `Content-Length`
/// against `max_body_bytes` (`413 REQUEST_TOO_LARGE`). A body without a declared length is counted as it is read,
/// and refused with [`ProtocolError::request_too_large`] at `max_body_bytes + 1` bytes. Returns the `after` cursor.
pub fn check_push_head(
    tenant: &Tenant,
    query: Option<&str>,
    content_type: Option<&[u8]>,
    declared_length: Option<u64>,
    max_body_bytes: usize,
) -> Result<Option<Cursor>, ProtocolError> {
    let after = parse_push_query(tenant, query)?;
    check_json_content_type(content_type)?;
    if declared_length.is_some_and(|length| length > max_body_bytes as u64) {
        return Err(ProtocolError::request_too_large(max_body_bytes));
    }
    Ok(after)
}

/// A push body: the JSON message of §3.1, or `400 INVALID_REQUEST`.
pub fn parse_push_body(body: &[u8]) -> Result<PushRequest, ProtocolError> {
    serde_json::from_slice(body).map_err(|error| ProtocolError::invalid_request(format!("push body: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_split_decoded_and_checked() {
        let pairs = query_pairs(Some("&&a=%31&b=+"), &["a", "b"]).unwrap();
        assert_eq!(pairs, [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "+".to_owned())]);
        for bad in ["c=1", "a=1&a=2", "a=%zz", "a=%FF"] {
            assert_eq!(query_pairs(Some(bad), &["a"]).unwrap_err().code, "INVALID_REQUEST", "{bad}");
        }
        let tenant = Tenant::new("acme").unwrap();
        assert_eq!(parse_pull_query(&tenant, Some("limit=7"), 1_000).unwrap().limit, 7);
        for bad in ["limit=0", "limit=1001", "limit=+5", "limit=", "Limit=1"] {
            assert_eq!(parse_pull_query(&tenant, Some(bad), 1_000).unwrap_err().code, "INVALID_REQUEST", "{bad}");
        }
        assert_eq!(parse_pull_query(&tenant, Some("after=0"), 1_000).unwrap_err().code, "INVALID_CURSOR");
        assert_eq!(parse_live_query(Some("access_token=a%2Db")).unwrap().as_deref(), Some("a-b"));
    }

    #[test]
    fn a_push_head_is_checked_query_then_content_type_then_length() {
        let tenant = Tenant::new("acme").unwrap();
        let code = |query, content_type: Option<&str>, length| {
            check_push_head(&tenant, query, content_type.map(str::as_bytes), length, 100).unwrap_err().code
        };
        assert_eq!(code(Some("after=garbage"), Some("text/plain"), Some(101)), "INVALID_CURSOR");
        assert_eq!(code(Some("since=1"), Some("text/plain"), Some(101)), "INVALID_REQUEST");
        assert_eq!(code(None, Some("text/plain"), Some(101)), "UNSUPPORTED_MEDIA_TYPE");
        assert_eq!(code(Some(""), Some("application/json"), Some(101)), "REQUEST_TOO_LARGE");
        assert_eq!(check_push_head(&tenant, None, None, Some(100), 100), Ok(None));
        assert_eq!(check_push_head(&tenant, None, None, None, 100), Ok(None));
    }

    #[test]
    fn the_push_content_type_is_json_or_absent() {
        for accepted in [None, Some("application/json"), Some("Application/JSON; charset=\"UTF-8\"")] {
            assert!(check_json_content_type(accepted.map(str::as_bytes)).is_ok(), "{accepted:?}");
        }
        for refused in ["text/plain", "application/json; charset=latin1", "json", "application/json; x=\u{e9}"] {
            let error = check_json_content_type(Some(refused.as_bytes())).unwrap_err();
            assert_eq!((error.status, error.code), (415, "UNSUPPORTED_MEDIA_TYPE"), "{refused}");
        }
    }
}
