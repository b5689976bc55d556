//! TLS for both connections, with rustls: the modes libpq users know
//! (disable, prefer, require, verify-ca, verify-full) for Postgres and the
//! MySQL protocol alike, an optional CA file, and the web PKI roots when
//! none is given (Hosted Dolt, managed Postgres).
//!
//! As in libpq, prefer and require encrypt but do not check the server's
//! certificate; verify-ca checks it was issued by a trusted CA; verify-full
//! also checks it names the host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How a connection uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// plain TCP
    Disable,
    /// TLS when the server offers it, unverified
    #[default]
    Prefer,
    /// TLS or no connection, unverified
    Require,
    /// TLS with a certificate from a trusted CA
    VerifyCa,
    /// TLS with a certificate from a trusted CA naming the host
    VerifyFull,
}

impl TlsMode {
    /// Parses libpq's names (`verify-full`) and the mysql client's
    /// (`VERIFY_IDENTITY`, `PREFERRED`, …), any case.
    pub fn parse(text: &str) -> Result<TlsMode, String> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" | "disabled" => Ok(TlsMode::Disable),
            "prefer" | "preferred" => Ok(TlsMode::Prefer),
            "require" | "required" => Ok(TlsMode::Require),
            "verify-ca" => Ok(TlsMode::VerifyCa),
            "verify-full" | "verify-identity" => Ok(TlsMode::VerifyFull),
            _ => Err(format!(
                "unknown TLS mode {text:?} (disable, prefer, require, verify-ca, verify-full)"
            )),
        }
    }

    /// libpq's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }
}

/// One side's TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// the mode
    pub mode: TlsMode,
    /// trusted CA certificates (PEM); the web PKI roots when absent
    pub ca_file: Option<PathBuf>,
}

/// Takes TLS parameters out of a connection URL's query (the drivers do not
/// know verify-ca/verify-full or the CA file): returns the URL without them
/// and the values of `mode_keys` and `ca_keys` found.
#[must_use]
pub fn take_url_parameters(
    url: &str,
    mode_keys: &[&str],
    ca_keys: &[&str],
) -> (String, Option<String>, Option<String>) {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return take_key_value_parameters(url, mode_keys, ca_keys);
    };
    if parsed.query().is_none() {
        return (url.to_string(), None, None);
    }
    let (mut mode, mut ca) = (None, None);
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(key, value)| {
            if mode_keys.contains(&key.as_ref()) {
                mode = Some(value.into_owned());
                None
            } else if ca_keys.contains(&key.as_ref()) {
                ca = Some(value.into_owned());
                None
            } else {
                Some((key.into_owned(), value.into_owned()))
            }
        })
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    (parsed.to_string(), mode, ca)
}

/// The same for a Postgres `key=value` connection string.
fn take_key_value_parameters(
    text: &str,
    mode_keys: &[&str],
    ca_keys: &[&str],
) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut ca) = (None, None);
    let kept: Vec<&str> = text
        .split_whitespace()
        .filter(|part| {
            let Some((key, value)) = part.split_once('=') else {
                return true;
            };
            let value = value.trim_matches('\'').to_string();
            if mode_keys.contains(&key) {
                mode = Some(value);
                false
            } else if ca_keys.contains(&key) {
                ca = Some(value);
                false
            } else {
                true
            }
        })
        .collect();
    (kept.join(" "), mode, ca)
}

/// The rustls client configuration for a mode: a certificate verifier that
/// does what the mode says.
pub fn client_config(tls: &Tls) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let roots = Arc::new(root_store(tls.ca_file.as_deref())?);
    let webpki =
        WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider)).build()?;
    let verifier: Arc<dyn ServerCertVerifier> = match tls.mode {
        TlsMode::VerifyFull => webpki,
        TlsMode::VerifyCa => Arc::new(ModeVerifier {
            webpki,
            algorithms: provider.signature_verification_algorithms,
            check_chain: true,
        }),
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => Arc::new(ModeVerifier {
            webpki,
            algorithms: provider.signature_verification_algorithms,
            check_chain: false,
        }),
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The CA file's certificates, or the web PKI roots.
fn root_store(ca_file: Option<&Path>) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|error| {
                    anyhow::anyhow!("cannot read CA file {}: {error}", path.display())
                })?
                .collect::<Result<_, _>>()
                .map_err(|error| {
                    anyhow::anyhow!("CA file {} is not PEM: {error}", path.display())
                })?;
            anyhow::ensure!(
                !certificates.is_empty(),
                "CA file {} holds no certificate",
                path.display()
            );
            for certificate in certificates {
                roots.add(certificate)?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// verify-ca (chain checked, host name not) and prefer/require (nothing
/// checked, as libpq does); handshake signatures are always verified.
#[derive(Debug)]
struct ModeVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
    check_chain: bool,
}

impl ServerCertVerifier for ModeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A hint for a connection error that is about certificates.
#[must_use]
pub fn hint(message: &str, flag: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        format!(
            " (TLS: give the server's CA with {flag}, or choose a TLS mode that does not verify)"
        )
    } else {
        String::new()
    }
}

/// The Postgres connector for these settings.
pub fn postgres_connector(tls: &Tls) -> anyhow::Result<tokio_postgres_rustls::MakeRustlsConnect> {
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
        client_config(tls)?,
    ))
}

/// mysql_async's TLS options for these settings (`None`: plain).
#[must_use]
pub fn mysql_ssl_opts(tls: &Tls) -> Option<mysql_async::SslOpts> {
    if tls.mode == TlsMode::Disable {
        return None;
    }
    let mut opts = mysql_async::SslOpts::default()
        .with_danger_accept_invalid_certs(!tls.mode.verifies())
        .with_danger_skip_domain_validation(tls.mode == TlsMode::VerifyCa);
    if let Some(path) = &tls.ca_file {
        opts = opts
            .with_root_certs(vec![path.clone().into()])
            .with_disable_built_in_roots(true);
    }
    Some(opts)
}

/// Registers ring as the process's rustls provider, for code that builds
/// its own configuration (mysql_async). Idempotent.
pub fn install_default_provider() {
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_in_both_spellings() {
        assert_eq!(TlsMode::parse("verify-full"), Ok(TlsMode::VerifyFull));
        assert_eq!(TlsMode::parse("VERIFY_IDENTITY"), Ok(TlsMode::VerifyFull));
        assert_eq!(TlsMode::parse("Preferred"), Ok(TlsMode::Prefer));
        assert!(TlsMode::parse("allow").is_err());
    }

    #[test]
    fn tls_parameters_leave_the_url() {
        let (url, mode, ca) = take_url_parameters(
            "postgres://u:p@h:5432/db?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x",
            &["sslmode"],
            &["sslrootcert"],
        );
        assert_eq!(url, "postgres://u:p@h:5432/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(ca.as_deref(), Some("/ca.pem"));
        let (url, mode, _) =
            take_url_parameters("mysql://root@h:3306?ssl-mode=REQUIRED", &["ssl-mode"], &[]);
        assert_eq!(url, "mysql://root@h:3306");
        assert_eq!(mode.as_deref(), Some("REQUIRED"));
        let (text, mode, ca) = take_url_parameters(
            "host=h dbname=d sslmode=verify-ca sslrootcert='/ca.pem'",
            &["sslmode"],
            &["sslrootcert"],
        );
        assert_eq!(text, "host=h dbname=d");
        assert_eq!(mode.as_deref(), Some("verify-ca"));
        assert_eq!(ca.as_deref(), Some("/ca.pem"));
    }
}
