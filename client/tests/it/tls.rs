//! HTTPS: the client against the same fake as `transport.rs` behind TLS (tokio-rustls), with a CA and a server
//! certificate made for each test (rcgen).

use std::sync::Arc;

use eventlite::sync::SyncError;
use eventlite::{ExpectedVersion, InvalidArgument};
use eventlite_client::{ClientError, SyncClient};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, RootCertStore};

use crate::transport::{self, Fake, device_with, log};

/// A test CA, and what a server whose certificate it signed for `names` needs.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    acceptor: TlsAcceptor,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "EventLite test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let server = CertificateParams::new(names).unwrap().signed_by(&server_key, &issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![server.der().clone()], key)
        .unwrap();
    Pki { ca_pem: ca.pem(), ca_der: ca.der().clone(), acceptor: TlsAcceptor::from(Arc::new(config)) }
}

/// The fake behind TLS on 127.0.0.1: its `https://` URL. Failed handshakes are dropped, as a server would.
async fn start_https(acceptor: TlsAcceptor) -> (String, Arc<Fake>) {
    let fake = Fake::new(0, 1_000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let shared = fake.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let (acceptor, fake) = (acceptor.clone(), shared.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(socket).await {
                    fake.serve(tls).await;
                }
            });
        }
    });
    (url, fake)
}

#[tokio::test]
async fn devices_sync_over_https_after_trusting_the_servers_ca() {
    let pki = pki(&["127.0.0.1"]);
    let (url, fake) = start_https(pki.acceptor.clone()).await;
    let a = device_with("todo-1", 3, ExpectedVersion::NoStream);
    let b = device_with("todo-2", 2, ExpectedVersion::NoStream);
    for device in [&a, &b, &a] {
        let client = SyncClient::new(&url, "t", device.clone()).with_root_certificate_pem(pki.ca_pem.as_bytes());
        let report = client.unwrap().sync().await.unwrap();
        assert!(report.conflicts.is_empty(), "{report:?}");
    }
    assert_eq!(log(&a), log(&b));
    assert_eq!(log(&a), log(&fake.hub));
    assert_eq!(log(&a).len(), 5);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_retryable_transport_error_that_names_it() {
    let pki = pki(&["127.0.0.1"]);
    let (url, fake) = start_https(pki.acceptor).await;
    let client = SyncClient::new(&url, "t", device_with("todo-1", 1, ExpectedVersion::Any));
    let error = client.sync().await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)) && error.is_retryable(), "{error:?}");
    assert_eq!(error.code(), "NETWORK");
    assert!(error.to_string().contains("invalid peer certificate: UnknownIssuer"), "{error}");
    assert_eq!(client.store().sync_status().unwrap().pending, 1, "nothing was lost");
    assert!(log(&fake.hub).is_empty(), "no request got through");
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_even_from_a_trusted_ca() {
    let pki = pki(&["sync.example.com"]);
    let (url, _fake) = start_https(pki.acceptor).await;
    let client = SyncClient::new(&url, "t", device_with("todo-1", 1, ExpectedVersion::Any))
        .with_root_certificate_pem(pki.ca_pem.as_bytes())
        .unwrap();
    let error = client.sync().await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)) && error.is_retryable(), "{error:?}");
    assert!(error.to_string().contains("certificate not valid for name"), "{error}");
}

#[tokio::test]
async fn plain_http_still_works_with_a_private_ca_added() {
    let pki = pki(&["127.0.0.1"]);
    let (url, fake) = transport::start(0, 1_000).await;
    assert!(url.starts_with("http://"));
    let device = device_with("todo-1", 2, ExpectedVersion::Any);
    let client = SyncClient::new(&url, "t", device.clone()).with_root_certificate_pem(pki.ca_pem.as_bytes());
    assert_eq!(client.unwrap().sync().await.unwrap().pushed, 2);
    assert_eq!(log(&device), log(&fake.hub));
}

#[test]
fn a_bad_certificate_is_an_invalid_argument() {
    let store = device_with("todo-1", 1, ExpectedVersion::Any);
    let pem = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    for pem in [&b"not a certificate"[..], pem] {
        let error = SyncClient::new("https://127.0.0.1:1", "t", store.clone()).with_root_certificate_pem(pem);
        let error = error.unwrap_err();
        assert_eq!((error.code(), error.is_retryable()), ("INVALID_ARGUMENT", false), "{error}");
        let ClientError::Sync(SyncError::InvalidArgument(InvalidArgument { argument, .. })) = error else {
            panic!("{error:?}");
        };
        assert_eq!(argument, "root_certificate_pem");
    }
}

#[tokio::test]
async fn an_http_client_of_the_apps_own_decides_what_it_trusts() {
    let pki = pki(&["127.0.0.1"]);
    let (url, fake) = start_https(pki.acceptor).await;
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let http = reqwest::Client::builder().tls_backend_preconfigured(config).build().unwrap();
    let device = device_with("todo-1", 2, ExpectedVersion::Any);
    let report = SyncClient::new(&url, "t", device.clone()).with_http_client(http).sync().await.unwrap();
    assert_eq!(report.pushed, 2);
    assert_eq!(log(&device), log(&fake.hub));
}
