//! Pull cursors: opaque to clients, `<position>.<tenant tag>` to the server, so a cursor used by another tenant is
//! refused (`INVALID_CURSOR`) instead of silently meaning something else.

use sha2::{Digest, Sha256};

use crate::error::ApiError;

fn tag(tenant: &str) -> String {
    let digest = Sha256::digest(tenant.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The cursor covering `position` for `tenant`.
pub fn encode(tenant: &str, position: u64) -> String {
    format!("{position}.{}", tag(tenant))
}

/// The position a cursor covers; empty means the start. Refuses malformed cursors and other tenants' cursors.
pub fn decode(tenant: &str, cursor: &str) -> Result<u64, ApiError> {
    if cursor.is_empty() {
        return Ok(0);
    }
    let invalid = |message: &str| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "INVALID_CURSOR", message);
    let (position, cursor_tag) = cursor.split_once('.').ok_or_else(|| invalid("malformed cursor"))?;
    let position: u64 = position.parse().map_err(|_| invalid("malformed cursor"))?;
    if cursor_tag != tag(tenant) {
        return Err(invalid("the cursor belongs to another tenant"));
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_tenant() {
        let cursor = encode("acme", 42);
        assert_eq!(decode("acme", &cursor).unwrap(), 42);
        assert_eq!(decode("acme", "").unwrap(), 0);
        assert_eq!(decode("globex", &cursor).unwrap_err().code, "INVALID_CURSOR");
        for bad in ["42", "x.y", "-1.abcd", "42."] {
            assert_eq!(decode("acme", bad).unwrap_err().code, "INVALID_CURSOR", "{bad}");
        }
    }
}
