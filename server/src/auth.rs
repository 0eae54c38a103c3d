//! Bearer tokens mapped to tenants: static tokens (a token file or the environment) and JWT (HS256, `tenant` claim).
//! The rules are `eventlite_protocol::auth`'s, shared with the Durable Object backend (`server/edge/`); this module
//! reads them from axum's headers.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
pub use eventlite_protocol::auth::{Auth, MIN_JWT_SECRET_BYTES, Tenant, check_jwt_secret, mint_jwt};

use crate::error::ApiError;

/// The tenant a request's `Authorization: Bearer ...` header names, and when the credential expires (a JWT's `exp`,
/// seconds since the epoch; `None` for static tokens and JWTs without `exp`): a live stream ends then.
pub fn authenticate_until(auth: &Auth, headers: &HeaderMap) -> Result<(Tenant, Option<u64>), ApiError> {
    // A value that is not visible ASCII is no `Bearer <token>`.
    let header = headers.get(AUTHORIZATION).map(|value| value.to_str().unwrap_or_default());
    Ok(auth.authenticate_bearer(header)?)
}

/// [`authenticate_until`] without the expiry.
pub fn authenticate(auth: &Auth, headers: &HeaderMap) -> Result<Tenant, ApiError> {
    authenticate_until(auth, headers).map(|(tenant, _)| tenant)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_authorization_header_names_the_tenant() {
        let auth = Auth::from_tokens([("t-acme".to_owned(), "acme".to_owned())]).unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(authenticate(&auth, &headers).unwrap_err().code, "UNAUTHORIZED");
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t-acme"));
        assert_eq!(authenticate(&auth, &headers).unwrap().as_str(), "acme");
        headers.insert(AUTHORIZATION, HeaderValue::from_bytes(b"Bearer t-acm\xe9").unwrap());
        assert_eq!(authenticate(&auth, &headers).unwrap_err().code, "UNAUTHORIZED");
    }
}
