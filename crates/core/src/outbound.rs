//! The HTTPS client for calls to outside services (the model, the moderation provider).
//!
//! It trusts the system's roots plus Mozilla's (bundled), so a runtime image without CA
//! certificates can still reach them over TLS. Building one loads the roots (several ms), so
//! callers build it on first use rather than at start.

/// A new client. reqwest takes rustls's process-wide crypto provider: *ring*, as sqlx uses.
pub fn https_client() -> reqwest::Result<reqwest::Client> {
    // An error means a provider is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bundled =
        webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().filter_map(|der| reqwest::Certificate::from_der(der).ok());
    reqwest::Client::builder().tls_certs_merge(bundled).build()
}
