//! HTTPS (feature `tls`, on by default): rustls with the `ring` provider, trusting Mozilla's root certificates
//! (`webpki-roots`) and the roots the app adds ([`crate::SyncClient::with_root_certificate_pem`]).
//!
//! Why this setup: it is the same on Android, iOS, Linux, macOS and Windows and needs no platform setup.
//! - **ring, not aws-lc-rs.** aws-lc-rs (reqwest's default `rustls` feature) builds AWS-LC with CMake, and NASM on
//!   some Windows targets. ring needs only a C compiler for the target, which the app build already has: core's
//!   SQLite (`libsqlite3-sys`) is C too. For Android that is the NDK's clang (cargo-ndk sets it up), for iOS Xcode's
//!   clang, for Windows MSVC or clang. Nothing else this module adds compiles C.
//! - **Mozilla's roots, not the OS trust store.** rustls-platform-verifier asks the OS, but on Android it needs a
//!   Kotlin component initialised through JNI by the app before the first connection; rustls-native-certs covers
//!   neither Android nor iOS. Mozilla's list is compiled in (updated with the `webpki-roots` crate), so a public
//!   deployment works everywhere out of the box. A private CA (a company's, a test's) is added explicitly with
//!   [`crate::SyncClient::with_root_certificate_pem`]; roots installed only in the OS store are not trusted. An app
//!   that must follow the OS store can build its own `reqwest::Client` and pass it to
//!   [`crate::SyncClient::with_http_client`].
//!
//! reqwest's `rustls-no-provider` feature still compiles rustls-platform-verifier (reqwest has no feature without
//! it), but a client given a preconfigured rustls config never calls it, so its Android component is not needed.
//! TLS 1.2 and 1.3 with rustls' safe defaults; certificates are checked against the URL's host name or IP address.

use std::sync::Arc;

use eventlite::InvalidArgument;
use eventlite::sync::SyncError;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::ClientError;

/// The argument name a bad certificate is reported under (`INVALID_ARGUMENT`).
const ARGUMENT: &str = "root_certificate_pem";

/// Adds every certificate in `pem` (one or more `BEGIN CERTIFICATE` sections; other sections are skipped) to
/// `roots`. Nothing is added when any of them is malformed, or when there is none.
pub(crate) fn add_pem_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), ClientError> {
    let invalid = |reason: String| {
        ClientError::Sync(SyncError::InvalidArgument(InvalidArgument { argument: ARGUMENT.to_owned(), reason }))
    };
    let mut added = RootCertStore::empty();
    for (index, certificate) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let certificate = certificate.map_err(|error| invalid(format!("is not valid PEM: {error}")))?;
        added
            .add(certificate)
            .map_err(|error| invalid(format!("certificate {index} is not a usable root certificate: {error}")))?;
    }
    if added.is_empty() {
        return Err(invalid("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned()));
    }
    roots.roots.extend(added.roots);
    Ok(())
}

/// The rustls configuration handed to reqwest: ring, Mozilla's roots and `extra` roots.
pub(crate) fn client_config(extra: &RootCertStore) -> rustls::ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.roots.extend(extra.roots.iter().cloned());
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_an_invalid_argument_and_adds_nothing() {
        let mut roots = RootCertStore::empty();
        for pem in [
            &b""[..],
            b"not a certificate",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n",
        ] {
            let error = add_pem_roots(&mut roots, pem).unwrap_err();
            assert_eq!(error.code(), "INVALID_ARGUMENT", "{error}");
            assert!(!error.is_retryable());
            assert!(error.to_string().contains(ARGUMENT), "{error}");
        }
        assert!(roots.is_empty());
    }

    #[test]
    fn a_bundle_adds_every_certificate_and_skips_other_sections() {
        let first = rcgen::generate_simple_self_signed(["a.example".to_owned()]).unwrap();
        let second = rcgen::generate_simple_self_signed(["b.example".to_owned()]).unwrap();
        let bundle = format!("{}{}{}", first.cert.pem(), first.signing_key.serialize_pem(), second.cert.pem());
        let mut roots = RootCertStore::empty();
        add_pem_roots(&mut roots, bundle.as_bytes()).unwrap();
        assert_eq!(roots.len(), 2);
        let broken = format!("{}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", first.cert.pem());
        assert!(add_pem_roots(&mut roots, broken.as_bytes()).is_err());
        assert_eq!(roots.len(), 2, "a bundle with one bad certificate adds none");
    }
}
