//! `eventlite token`: mints an HS256 JWT for a tenant.

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Prints a JWT for `tenant`, valid for `ttl` seconds.
pub fn run(tenant: &str, secret: &str, ttl: u64) -> Result<(), Failure> {
    check_jwt_secret(secret)?;
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + ttl;
    println!("{}", eventlite_server::auth::mint_jwt(secret.as_bytes(), tenant, Some(exp)));
    Ok(())
}

/// A short secret would let anyone who finds it mint tokens for any tenant: refuse it rather than start.
pub fn check_jwt_secret(secret: &str) -> Result<(), Failure> {
    eventlite_server::auth::check_jwt_secret(secret.as_bytes()).map_err(|error| {
        format!(
            "{error} (--jwt-secret / EVENTLITE_JWT_SECRET, or token --secret); or leave it unset to use static \
             tokens only"
        )
        .into()
    })
}
