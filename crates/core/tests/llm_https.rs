//! The model's client speaks HTTPS as it must in production (DashScope, OpenAI): a TLS handshake
//! with *ring*, the server's chain checked against the system's trust store, the request and the
//! reply through it; and a server whose certificate the store does not trust is refused, as an
//! error, not a panic. (A test binary of its own: it points the process's trust store, through
//! `SSL_CERT_FILE`, at a CA made for the test.)

use std::{sync::Arc, time::Duration};

use app_core::{
    chat::llm::{Llm, Prompt},
    config::LlmConfig,
    entities::MessageRole,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use test_support::{Behaviour, Upstream};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::ring,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

#[tokio::test]
async fn the_model_client_talks_https_to_a_trusted_server_and_refuses_an_untrusted_one() {
    let trusted = TestCa::new("trusted test CA");
    let dir = std::env::temp_dir().join(format!("llm-https-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, trusted.issuer.pem()).unwrap();
    // SAFETY: the only test in this binary; set before any other thread reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca_file) };

    let upstream = Upstream::start(Behaviour::reply("over tls")).await;
    let base_url = tls_front(&upstream, &trusted).await;
    assert!(base_url.starts_with("https://localhost:"), "{base_url}");
    let prompt = Prompt::text("system".into(), vec![(MessageRole::User, "hi".into())]);
    let completion = llm(&base_url).complete(&prompt, false).await.expect("a TLS connection to a trusted server");
    assert_eq!(completion.text, "over tls");
    assert_eq!(upstream.received().len(), 1, "the request went through the TLS front");

    // The same upstream behind a certificate from a CA nobody trusts.
    let untrusted = TestCa::new("untrusted test CA");
    let base_url = tls_front(&upstream, &untrusted).await;
    let error = llm(&base_url).complete(&prompt, false).await.expect_err("an untrusted certificate is refused");
    assert!(error.to_string().contains("the model endpoint failed"), "{error}");
    assert_eq!(upstream.received().len(), 1, "nothing reached the upstream through the untrusted front");

    let _ = std::fs::remove_dir_all(dir);
}

fn llm(base_url: &str) -> Llm {
    Llm::new(&LlmConfig {
        api_key: "key".into(),
        base_url: base_url.into(),
        model: "m".into(),
        max_tokens: 16,
        timeout: Duration::from_secs(10),
        title_model: None,
        max_retries: 1,
        thinking: app_core::config::ThinkingConfig { mode: Default::default(), model: "m".into(), budget: None },
        vision_model: None,
        tongue_model: None,
    })
}

/// A CA and a `localhost` server certificate it signed.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server =
            CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&server_key, &issuer).unwrap();
        Self {
            server_chain: vec![server.der().clone(), issuer.der().clone()],
            server_key: server_key.serialize_der(),
            issuer,
        }
    }
}

/// Terminates TLS with `ca`'s server certificate on a port of its own and relays the plain bytes
/// to `upstream`. Returns the base URL to reach the upstream through it.
async fn tls_front(upstream: &Upstream, ca: &TestCa) -> String {
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            ca.server_chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.server_key.clone())),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let plain = upstream.base_url.strip_prefix("http://").and_then(|rest| rest.split_once('/')).unwrap().0.to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, plain) = (acceptor.clone(), plain.clone());
            tokio::spawn(async move {
                // A refused handshake ends here: the client saw the error it should.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut upstream) = TcpStream::connect(&plain).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    format!("https://localhost:{port}/v1")
}
