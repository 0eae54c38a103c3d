//! Bearer tokens mapped to tenants: static tokens (a token file or the environment) and JWT (HS256, `tenant` claim).
//!
//! Static tokens are kept only as SHA-256 digests and looked up by digest, so comparing them leaks no timing about
//! the secret. JWT signatures are checked with the HMAC crate's constant-time comparison; `exp` and `nbf` are
//! honoured when present; any other `alg` than `HS256` is refused (no `none`).

use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ProtocolError;

/// A tenant: the unit of isolation. Its name is 1 to 64 ASCII letters, digits, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

impl Tenant {
    /// Checks the name.
    pub fn new(name: &str) -> Result<Tenant, String> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid { Ok(Tenant(name.to_owned())) } else { Err(format!("invalid tenant name {name:?}")) }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who may call the server, as which tenant.
#[derive(Clone, Default)]
pub struct Auth {
    tokens: HashMap<[u8; 32], Tenant>,
    jwt_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("tokens", &self.tokens.len()).field("jwt", &self.jwt_secret.is_some()).finish()
    }
}

/// The shortest HS256 secret accepted: 32 bytes, the hash's output size (RFC 7518 section 3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Claims {
    tenant: String,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
}

impl Auth {
    /// Static `(token, tenant)` pairs. Refuses an invalid tenant name, an empty token, and a token listed for two
    /// different tenants (which one would it mean?); the same pair twice is harmless.
    pub fn from_tokens(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Auth, String> {
        let mut auth = Auth::default();
        for (token, tenant) in pairs {
            if token.trim().is_empty() {
                return Err(format!("an empty token for tenant {tenant:?}"));
            }
            let tenant = Tenant::new(&tenant)?;
            match auth.tokens.insert(digest(&token), tenant.clone()) {
                Some(previous) if previous != tenant => {
                    return Err(format!(
                        "a token is listed for two tenants, {:?} and {:?}: give each tenant its own token",
                        previous.as_str(),
                        tenant.as_str()
                    ));
                }
                _ => {}
            }
        }
        Ok(auth)
    }

    /// Also accept JWTs signed with this HS256 secret, which must be at least [`MIN_JWT_SECRET_BYTES`] long: a
    /// short secret can be found by brute force, and then anyone can mint tokens for any tenant.
    pub fn with_jwt_secret(mut self, secret: impl Into<Vec<u8>>) -> Result<Auth, String> {
        let secret = secret.into();
        check_jwt_secret(&secret)?;
        self.jwt_secret = Some(secret);
        Ok(self)
    }

    /// True when no token and no JWT secret is configured: nobody could call.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.jwt_secret.is_none()
    }

    /// Parses a token file: one `token tenant` pair per line; blank lines and `#` comments are ignored.
    pub fn parse_token_file(text: &str) -> Result<Vec<(String, String)>, String> {
        let mut pairs = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(token), Some(tenant), None) => pairs.push((token.to_owned(), tenant.to_owned())),
                _ => return Err(format!("line {}: expected `token tenant`", number + 1)),
            }
        }
        Ok(pairs)
    }

    /// Parses `EVENTLITE_TOKENS`: `token:tenant` pairs separated by commas.
    pub fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                pair.rsplit_once(':')
                    .map(|(token, tenant)| (token.to_owned(), tenant.to_owned()))
                    .ok_or_else(|| "EVENTLITE_TOKENS: expected token:tenant pairs separated by commas".to_owned())
            })
            .collect()
    }

    /// The tenant an `Authorization` header's value (`Bearer <token>`) names, and when the credential expires (a
    /// JWT's `exp`, seconds since the epoch; `None` for static tokens and JWTs without `exp`): a live stream ends
    /// then. `None` (no header) is refused like a wrong token: `401 UNAUTHORIZED`.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    pub fn authenticate_bearer(&self, header: Option<&str>) -> Result<(Tenant, Option<u64>), ProtocolError> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |e| e.as_secs());
        self.authenticate_bearer_at(header, now)
    }

    /// [`Auth::authenticate_bearer`] at `now` (seconds since the Unix epoch): for hosts without a system clock in
    /// the standard library (wasm32-unknown-unknown).
    pub fn authenticate_bearer_at(
        &self,
        header: Option<&str>,
        now: u64,
    ) -> Result<(Tenant, Option<u64>), ProtocolError> {
        let header = header.ok_or_else(|| ProtocolError::unauthorized("missing bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ProtocolError::unauthorized("the Authorization header is not `Bearer <token>`"))?;
        if let Some(tenant) = self.tokens.get(&digest(token)) {
            return Ok((tenant.clone(), None));
        }
        match &self.jwt_secret {
            Some(secret) if token.matches('.').count() == 2 => verify_jwt(secret, token, now),
            _ => Err(ProtocolError::unauthorized("unknown token")),
        }
    }
}

/// Refuses an HS256 secret shorter than [`MIN_JWT_SECRET_BYTES`].
pub fn check_jwt_secret(secret: &[u8]) -> Result<(), String> {
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(format!(
            "the JWT secret is {} bytes; HS256 needs at least {MIN_JWT_SECRET_BYTES} random bytes (e.g. `openssl rand \
             -hex 32`)",
            secret.len()
        ));
    }
    Ok(())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn verify_jwt(secret: &[u8], token: &str, now: u64) -> Result<(Tenant, Option<u64>), ProtocolError> {
    let invalid = |why: &str| ProtocolError::unauthorized(format!("invalid token: {why}"));
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid("not a JWT"));
    };
    let header: JwtHeader = base64url_decode(header)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("malformed header"))?;
    if header.alg != "HS256" {
        return Err(invalid("only HS256 is accepted"));
    }
    if header.crit.is_some() {
        return Err(invalid("no `crit` extension is understood"));
    }
    let signature = base64url_decode(signature).ok_or_else(|| invalid("malformed signature"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| invalid("bad key"))?;
    mac.update(&token.as_bytes()[..header_and_payload_len(token)]);
    mac.verify_slice(&signature).map_err(|_| invalid("bad signature"))?;
    let claims: Claims =
        base64url_decode(payload).and_then(|bytes| serde_json::from_slice(&bytes).ok()).ok_or_else(|| {
            invalid("malformed claims (a string `tenant` claim is required; `exp` and `nbf` are integer seconds)")
        })?;
    if claims.exp.is_some_and(|exp| now >= exp) {
        return Err(invalid("expired"));
    }
    if claims.nbf.is_some_and(|nbf| now < nbf) {
        return Err(invalid("not yet valid"));
    }
    let tenant = Tenant::new(&claims.tenant).map_err(|error| invalid(&error))?;
    Ok((tenant, claims.exp))
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

/// Mints an HS256 JWT for `tenant` expiring at `exp` (seconds since the epoch): for tests, benchmarks and
/// `eventlite token`.
pub fn mint_jwt(secret: &[u8], tenant: &str, exp: Option<u64>) -> String {
    let header = base64url_encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({ "tenant": tenant, "exp": exp });
    let payload = base64url_encode(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", base64url_encode(&mac.finalize().into_bytes()))
}

const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(URL_ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let value = URL_ALPHABET.iter().position(|&a| a == c)? as u32;
            n |= value << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_seconds() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    fn headers(value: &str) -> Option<&str> {
        Some(value)
    }

    fn bearer(auth: &Auth, header: Option<&str>) -> Result<(Tenant, Option<u64>), ProtocolError> {
        auth.authenticate_bearer_at(header, now_seconds())
    }

    #[test]
    fn base64url_round_trips() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 200) as u8).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn static_tokens_map_to_tenants() {
        let auth = Auth::from_tokens([("t-acme".to_owned(), "acme".to_owned())]).unwrap();
        assert_eq!(bearer(&auth, headers("Bearer t-acme")).unwrap().0.as_str(), "acme");
        for bad in ["Bearer nope", "Basic t-acme", "Bearer ", "t-acme"] {
            assert_eq!(bearer(&auth, headers(bad)).unwrap_err().code, "UNAUTHORIZED", "{bad}");
        }
        assert_eq!(bearer(&auth, None).unwrap_err().code, "UNAUTHORIZED");
    }

    const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes";

    fn signed(header: &str, claims: &str) -> String {
        let input = format!("{}.{}", base64url_encode(header.as_bytes()), base64url_encode(claims.as_bytes()));
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", base64url_encode(&mac.finalize().into_bytes()))
    }

    #[test]
    fn jwt_claims_follow_the_documented_rules() {
        let auth = Auth::default().with_jwt_secret(SECRET.to_vec()).unwrap();
        let check = |header: &str, claims: &str| bearer(&auth, headers(&format!("Bearer {}", signed(header, claims))));
        let now = now_seconds();
        let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
        // No `exp` (or a null one): never expires. `exp` is returned so a live stream can end then.
        assert_eq!(check(hs256, r#"{"tenant":"acme"}"#).unwrap().1, None);
        assert_eq!(check(hs256, r#"{"tenant":"acme","exp":null}"#).unwrap().1, None);
        assert_eq!(check(hs256, &format!(r#"{{"tenant":"acme","exp":{}}}"#, now + 60)).unwrap().1, Some(now + 60));
        assert!(check(hs256, &format!(r#"{{"tenant":"acme","nbf":{now}}}"#)).is_ok(), "nbf = now is valid");
        assert!(
            check(r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#, r#"{"tenant":"acme"}"#).is_ok(),
            "typ, kid ignored"
        );
        let refused = [
            (hs256.to_owned(), format!(r#"{{"tenant":"acme","exp":{now}}}"#)), // exp = now: expired, no leeway
            (hs256.to_owned(), format!(r#"{{"tenant":"acme","nbf":{}}}"#, now + 2)), // not yet valid, no leeway
            (hs256.to_owned(), format!(r#"{{"tenant":"acme","exp":{}.5}}"#, now + 60)), // not an integer
            (hs256.to_owned(), format!(r#"{{"tenant":"acme","exp":"{}"}}"#, now + 60)), // not a number
            (hs256.to_owned(), r#"{"tenant":"acme","exp":-1}"#.to_owned()),
            (hs256.to_owned(), r#"{"tenant":7}"#.to_owned()),
            (hs256.to_owned(), r#"{}"#.to_owned()),
            (r#"{"alg":"HS256","crit":["exp"]}"#.to_owned(), r#"{"tenant":"acme"}"#.to_owned()),
            (r#"{"alg":"HS512"}"#.to_owned(), r#"{"tenant":"acme"}"#.to_owned()),
            (r#"{"alg":"hs256"}"#.to_owned(), r#"{"tenant":"acme"}"#.to_owned()),
        ];
        for (header, claims) in refused {
            assert_eq!(check(&header, &claims).unwrap_err().code, "UNAUTHORIZED", "{header} {claims}");
        }
    }

    #[test]
    fn short_jwt_secrets_and_ambiguous_tokens_are_refused() {
        assert!(Auth::default().with_jwt_secret(b"x".to_vec()).is_err());
        assert!(Auth::default().with_jwt_secret(vec![b'k'; MIN_JWT_SECRET_BYTES - 1]).is_err());
        assert!(Auth::default().with_jwt_secret(vec![b'k'; MIN_JWT_SECRET_BYTES]).is_ok());
        let pair = |token: &str, tenant: &str| (token.to_owned(), tenant.to_owned());
        let error = Auth::from_tokens([pair("t", "acme"), pair("t", "globex")]).unwrap_err();
        assert!(error.contains("two tenants"), "{error}");
        assert!(Auth::from_tokens([pair("t", "acme"), pair("t", "acme")]).is_ok());
        assert!(Auth::from_tokens([pair("t", "../etc")]).is_err());
        assert!(Auth::from_tokens([pair(" ", "acme")]).is_err());
    }

    #[test]
    fn jwts_are_verified() {
        let auth = Auth::default().with_jwt_secret(SECRET.to_vec()).unwrap();
        let good = mint_jwt(SECRET, "acme", Some(now_seconds() + 60));
        assert_eq!(bearer(&auth, headers(&format!("Bearer {good}"))).unwrap().0.as_str(), "acme");
        let expired = mint_jwt(SECRET, "acme", Some(now_seconds() - 1));
        let forged = mint_jwt(b"another-secret-of-at-least-32-bytes", "acme", None);
        let bad_tenant = mint_jwt(SECRET, "../etc", None);
        let none_alg =
            format!("{}.{}.", base64url_encode(br#"{"alg":"none"}"#), base64url_encode(br#"{"tenant":"acme"}"#));
        let mut tampered = good.clone();
        tampered.insert(good.find('.').unwrap() + 3, 'x');
        for token in [expired, forged, bad_tenant, none_alg, tampered, "a.b.c".to_owned()] {
            assert!(bearer(&auth, headers(&format!("Bearer {token}"))).is_err(), "{token}");
        }
    }

    #[test]
    fn token_files_and_env_parse() {
        let pairs = Auth::parse_token_file("# comment\n\nabc acme\n  def globex  \n").unwrap();
        assert_eq!(pairs, [("abc".into(), "acme".into()), ("def".into(), "globex".into())]);
        assert!(Auth::parse_token_file("just-one-field").is_err());
        assert_eq!(Auth::parse_env("a:x, b:y").unwrap().len(), 2);
        assert!(Auth::parse_env("nocolon").is_err());
    }
}
