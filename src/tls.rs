//! rustls configurations for both sides of a connection.
//!
//! (Over 900 lines on purpose: both sides share PEM loading, the explicit ring provider and
//! the error type, and the TLS policy reads best in one place; its tests are in `tls_tests.rs`.)
//!
//! * Server: [`ServerTls`] holds a default [`Identity`] (certificate chain and private key) plus
//!   optional identities chosen by the client's SNI name, and builds one shared
//!   [`rustls::ServerConfig`].
//! * Client: [`ClientTrust`] says which server certificates to trust and builds a
//!   [`rustls::ClientConfig`].
//! * [`TlsInfo`] reports what a finished handshake settled (version, cipher suite, SNI).
//!
//! Every configuration uses the *ring* crypto provider explicitly (never the process default, so
//! linking a second provider cannot make it panic) and allows TLS 1.3 and TLS 1.2.
//!
//! Everything that can be wrong with certificates and keys is reported when they are loaded —
//! unreadable file, missing certificate or key, malformed PEM, a key that does not belong to the
//! certificate, an unsupported key type — never at the first handshake.
//!
//! ```no_run
//! use smtpkit::tls::{ClientTrust, Identity, ServerTls};
//!
//! # fn main() -> Result<(), smtpkit::tls::TlsError> {
//! let server = ServerTls::from_pem_files("/etc/smtp/mx.pem", "/etc/smtp/mx.key")?
//!     .add_sni("mail.example.org", Identity::from_pem_files("org.pem", "org.key")?)?
//!     .add_sni("*.example.net", Identity::from_pem_files("net.pem", "net.key")?)?;
//! let server_config = server.server_config(); // share this Arc between connections
//!
//! let client_config = ClientTrust::WebPki.client_config()?;
//! # let _ = (server_config, client_config);
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{
    ClientHello, ProducesTickets, ResolvesServerCert, ServerSessionMemoryCache, WantsServerCert,
};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, CommonState, ConfigBuilder, DigitallySignedStruct, InconsistentKeys,
    ProtocolVersion, RootCertStore, ServerConfig, SignatureScheme, SupportedProtocolVersion,
};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName, UnixTime};

/// The protocol versions every configuration enables, preferred first.
const VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// How many TLS 1.2 sessions (session IDs) the server remembers for resumption.
const SESSION_CACHE_SIZE: usize = 1024;

/// `what` for PEM data given as bytes.
const MEMORY: &str = "memory";

/// The ring crypto provider, built once and shared by every configuration.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a TLS configuration could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No certificate found in the PEM data (`what` names the file or "memory").
    NoCertificate {
        /// The file, or "memory".
        what: String,
    },
    /// No private key found.
    NoPrivateKey {
        /// The file, or "memory".
        what: String,
    },
    /// Malformed PEM (or a PEM section whose content is not a certificate).
    Pem {
        /// The file, or "memory".
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// The private key does not belong to the certificate.
    KeyMismatch {
        /// The key file, or "memory".
        what: String,
    },
    /// A name given to [`ServerTls::add_sni`] is not a valid DNS name (or `*.` wildcard).
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// rustls refused the configuration (for example an unsupported key type).
    Rustls(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsError::NoCertificate { what } => {
                write!(f, "no certificate found in {what}")
            }
            TlsError::NoPrivateKey { what } => write!(f, "no private key found in {what}"),
            TlsError::Pem { what, message } => write!(f, "malformed PEM in {what}: {message}"),
            TlsError::KeyMismatch { what } => write!(
                f,
                "the private key in {what} does not belong to the first certificate of the chain \
                 (the leaf certificate must come first)"
            ),
            TlsError::InvalidName { name } => {
                write!(f, "{name:?} is not a valid DNS name or *. wildcard for SNI")
            }
            TlsError::Rustls(e) => write!(f, "TLS configuration refused by rustls: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Io { source, .. } => Some(source),
            TlsError::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(what: &str, error: pem::Error) -> TlsError {
    let message = match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "no \"-----END {}-----\" line",
            String::from_utf8_lossy(&end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => {
            format!("malformed BEGIN line {:?}", String::from_utf8_lossy(&line))
        }
        other => other.to_string(),
    };
    TlsError::Pem {
        what: what.to_owned(),
        message,
    }
}

/// Every certificate in `pem`, in order; other PEM sections are skipped.
fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what: what.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in `pem`; other PEM sections are skipped.
fn parse_key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::pem_slice_iter(pem).next() {
        Some(Ok(key)) => Ok(key),
        Some(Err(e)) => Err(pem_error(what, e)),
        None => Err(TlsError::NoPrivateKey {
            what: what.to_owned(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

/// The parts of a server configuration whose construction can fail, made when an [`Identity`]
/// is loaded so that [`ServerTls::new`] cannot fail.
#[derive(Clone)]
struct ServerParts {
    builder: ConfigBuilder<ServerConfig, WantsServerCert>,
    ticketer: Arc<dyn ProducesTickets>,
}

impl ServerParts {
    fn new() -> Result<ServerParts, TlsError> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(TlsError::Rustls)?
            .with_no_client_auth();
        let ticketer = rustls::crypto::ring::Ticketer::new().map_err(TlsError::Rustls)?;
        Ok(ServerParts { builder, ticketer })
    }
}

/// A certificate chain and its private key, loaded and checked.
///
/// Loading parses the key with the ring provider (RSA, ECDSA P-256/P-384 and Ed25519 keys are
/// supported) and checks with [`CertifiedKey::keys_match`] that it belongs to the first
/// certificate of the chain. The DNS names in the leaf certificate's subjectAltName are *not*
/// parsed (there is no X.509 parser here): SNI names are given explicitly to
/// [`ServerTls::add_sni`]. Cloning is cheap (shared).
#[derive(Clone)]
pub struct Identity {
    key: Arc<CertifiedKey>,
    server: ServerParts,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.key.cert.len())
            .field("key", &self.key.key.algorithm())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads a PEM certificate chain (leaf first, then intermediates) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1) from two files. Both may be the same file.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Identity, TlsError> {
        let (cert_path, key_path) = (cert_chain.as_ref(), key.as_ref());
        let cert_pem = read_file(cert_path)?;
        let key_pem = read_file(key_path)?;
        Identity::load(
            &cert_pem,
            &cert_path.display().to_string(),
            &key_pem,
            &key_path.display().to_string(),
        )
    }

    /// Loads a PEM certificate chain (leaf first) and a PEM private key from memory. Both may be
    /// the same buffer.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Identity, TlsError> {
        Identity::load(cert_chain, MEMORY, key, MEMORY)
    }

    fn load(
        cert_pem: &[u8],
        cert_what: &str,
        key_pem: &[u8],
        key_what: &str,
    ) -> Result<Identity, TlsError> {
        let chain = parse_certs(cert_pem, cert_what)?;
        let key = parse_key(key_pem, key_what)?;
        let signing_key = provider()
            .key_provider
            .load_private_key(key)
            .map_err(TlsError::Rustls)?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                return Err(TlsError::KeyMismatch {
                    what: key_what.to_owned(),
                });
            }
            // The leaf is not parseable X.509.
            Err(rustls::Error::InvalidCertificate(e)) => {
                return Err(TlsError::Pem {
                    what: cert_what.to_owned(),
                    message: format!("the first certificate is not valid X.509 ({e:?})"),
                });
            }
            // Includes InconsistentKeys::Unknown (a key that cannot report its public key, which
            // ring's keys never are): refuse rather than find out at a handshake.
            Err(e) => return Err(TlsError::Rustls(e)),
        }
        Ok(Identity {
            key: Arc::new(certified),
            server: ServerParts::new()?,
        })
    }

    /// The certificate chain, leaf first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.key.cert
    }

    /// The chain and signing key as rustls uses them (for example for client authentication).
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.key.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/// Picks a certificate from the client's SNI name; clients without SNI, or with an unknown
/// name, get the default.
#[derive(Debug, Clone)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    /// Lower-case exact names.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Lower-case parent domains of `*.` wildcards (`wild.example` for `*.wild.example`).
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    fn pick(&self, sni: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = sni else {
            return &self.default;
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(key) = self.exact.get(&name) {
            return key;
        }
        // A wildcard covers exactly one label: `*.wild.example` matches `a.wild.example`,
        // neither `wild.example` nor `a.b.wild.example`.
        match name.split_once('.') {
            Some((label, parent)) if !label.is_empty() => {
                self.wildcard.get(parent).unwrap_or(&self.default)
            }
            _ => &self.default,
        }
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(client_hello.server_name()).clone())
    }
}

/// Server-side TLS settings: a default identity plus optional identities chosen by SNI.
///
/// The [`rustls::ServerConfig`] is built once (and again by each [`ServerTls::add_sni`]);
/// clones share it, including its session cache and ticket keys.
#[derive(Clone)]
pub struct ServerTls {
    resolver: SniResolver,
    parts: ServerParts,
    config: Arc<ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = self.resolver.exact.keys().cloned().collect();
        names.extend(self.resolver.wildcard.keys().map(|p| format!("*.{p}")));
        names.sort();
        f.debug_struct("ServerTls")
            .field("default_certificates", &self.resolver.default.cert.len())
            .field("sni", &names)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// One certificate for every client.
    pub fn new(identity: Identity) -> ServerTls {
        let resolver = SniResolver {
            default: identity.key,
            exact: HashMap::new(),
            wildcard: HashMap::new(),
        };
        let config = build_server_config(&identity.server, &resolver);
        ServerTls {
            resolver,
            parts: identity.server,
            config,
        }
    }

    /// Shortcut: `ServerTls::new(Identity::from_pem_files(..)?)`.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ServerTls, TlsError> {
        Ok(ServerTls::new(Identity::from_pem_files(cert_chain, key)?))
    }

    /// Uses `identity` when the client's SNI is `name` (case-insensitive; exact names, plus a
    /// leading `*.` wildcard matching one label). Clients without SNI or with another name get
    /// the default. Exact names win over wildcards; adding a name again replaces it.
    pub fn add_sni(mut self, name: &str, identity: Identity) -> Result<ServerTls, TlsError> {
        let invalid = || TlsError::InvalidName {
            name: name.to_owned(),
        };
        let normalized = name.trim_end_matches('.').to_ascii_lowercase();
        let (map, key) = match normalized.strip_prefix("*.") {
            Some(parent) => (&mut self.resolver.wildcard, parent.to_owned()),
            None => (&mut self.resolver.exact, normalized),
        };
        if DnsName::try_from(key.as_str()).is_err() {
            return Err(invalid());
        }
        map.insert(key, identity.key);
        self.config = build_server_config(&self.parts, &self.resolver);
        Ok(self)
    }

    /// The rustls config (TLS 1.2 and 1.3, ring provider, no ALPN, session resumption on with
    /// both tickets and a session cache). Cheap: the same `Arc` every time.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }
}

fn build_server_config(parts: &ServerParts, resolver: &SniResolver) -> Arc<ServerConfig> {
    let mut config = parts
        .builder
        .clone()
        .with_cert_resolver(Arc::new(resolver.clone()));
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    config.ticketer = parts.ticketer.clone();
    Arc::new(config)
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Client-side trust settings: which server certificates are accepted.
#[derive(Debug, Clone, Default)]
pub enum ClientTrust {
    /// The Mozilla roots from webpki-roots (the default).
    #[default]
    WebPki,
    /// Only these CA certificates (PEM).
    Roots(Vec<CertificateDer<'static>>),
    /// The Mozilla roots plus these CA certificates (a private CA beside the public ones).
    WebPkiAnd(Vec<CertificateDer<'static>>),
    /// No verification at all: the connection is encrypted, but anyone in the middle can read
    /// it. Choosing it is an explicit decision (the client then also sends credentials over
    /// such a connection). The name says it.
    DangerAcceptAnyCertificate,
}

impl ClientTrust {
    /// Loads CA certificates from PEM bytes; each must be a parseable trust anchor.
    pub fn roots_from_pem(pem: &[u8]) -> Result<ClientTrust, TlsError> {
        Ok(ClientTrust::Roots(load_roots(pem, MEMORY)?))
    }

    /// Loads CA certificates from a PEM file; each must be a parseable trust anchor.
    pub fn roots_from_pem_file(path: impl AsRef<Path>) -> Result<ClientTrust, TlsError> {
        let path = path.as_ref();
        Ok(ClientTrust::Roots(load_roots(
            &read_file(path)?,
            &path.display().to_string(),
        )?))
    }

    /// Adds the CA certificates of a PEM file to these roots: `WebPki` becomes `WebPkiAnd`,
    /// `Roots` and `WebPkiAnd` grow. Adding roots to `DangerAcceptAnyCertificate` changes
    /// nothing (it verifies nothing).
    pub fn add_roots_from_pem_file(self, path: impl AsRef<Path>) -> Result<ClientTrust, TlsError> {
        let path = path.as_ref();
        let certs = load_roots(&read_file(path)?, &path.display().to_string())?;
        Ok(self.add_roots(certs))
    }

    /// Adds CA certificates from PEM bytes, like [`ClientTrust::add_roots_from_pem_file`].
    pub fn add_roots_from_pem(self, pem: &[u8]) -> Result<ClientTrust, TlsError> {
        let certs = load_roots(pem, MEMORY)?;
        Ok(self.add_roots(certs))
    }

    fn add_roots(self, certs: Vec<CertificateDer<'static>>) -> ClientTrust {
        match self {
            ClientTrust::WebPki => ClientTrust::WebPkiAnd(certs),
            ClientTrust::Roots(mut r) => {
                r.extend(certs);
                ClientTrust::Roots(r)
            }
            ClientTrust::WebPkiAnd(mut r) => {
                r.extend(certs);
                ClientTrust::WebPkiAnd(r)
            }
            ClientTrust::DangerAcceptAnyCertificate => ClientTrust::DangerAcceptAnyCertificate,
        }
    }

    /// False only for [`ClientTrust::DangerAcceptAnyCertificate`].
    pub fn verifies(&self) -> bool {
        !matches!(self, ClientTrust::DangerAcceptAnyCertificate)
    }

    /// The root store for the verifying variants.
    fn root_store(&self) -> Result<Option<RootCertStore>, TlsError> {
        let (webpki, extra): (bool, &[CertificateDer<'static>]) = match self {
            ClientTrust::WebPki => (true, &[]),
            ClientTrust::Roots(certs) => (false, certs),
            ClientTrust::WebPkiAnd(certs) => (true, certs),
            ClientTrust::DangerAcceptAnyCertificate => return Ok(None),
        };
        let mut store = if webpki {
            RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }
        } else {
            RootCertStore::empty()
        };
        for cert in extra {
            store.add(cert.clone()).map_err(TlsError::Rustls)?;
        }
        if store.is_empty() {
            return Err(TlsError::NoCertificate {
                what: "ClientTrust::Roots".to_owned(),
            });
        }
        Ok(Some(store))
    }

    /// The certificate verifier these roots make (`None` for
    /// [`ClientTrust::DangerAcceptAnyCertificate`]). The client uses it to record, without
    /// failing the handshake, whether an opportunistic TLS peer's certificate verified.
    pub fn server_verifier(&self) -> Result<Option<Arc<dyn ServerCertVerifier>>, TlsError> {
        let Some(store) = self.root_store()? else {
            return Ok(None);
        };
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
            .build()
            .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
        Ok(Some(verifier))
    }

    /// A rustls ClientConfig (TLS 1.2 and 1.3, ring provider, SNI on, in-memory session
    /// resumption). Build it once and share the `Arc`: the resumption cache lives in it.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        self.client_config_with(None)
    }

    /// Like [`ClientTrust::client_config`], presenting `identity` as the client certificate
    /// when the server asks for one (mutual TLS).
    pub fn client_config_with(
        &self,
        identity: Option<&Identity>,
    ) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(TlsError::Rustls)?;
        let builder = match self.root_store()? {
            Some(store) => builder.with_root_certificates(store),
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(RecordingVerifier {
                    inner: None,
                    slot: VerifySlot::default(),
                    provider,
                })),
        };
        let config = match identity {
            Some(id) => {
                builder.with_client_cert_resolver(Arc::new(FixedClientCert(id.certified_key())))
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// Every certificate of `pem`, each checked to be a usable trust anchor.
fn load_roots(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = parse_certs(pem, what)?;
    // Parse each now, so that a bad root fails here rather than in client_config().
    for (i, cert) in certs.iter().enumerate() {
        RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| TlsError::Pem {
                what: what.to_owned(),
                message: format!("certificate #{} is not a usable CA ({e})", i + 1),
            })?;
    }
    Ok(certs)
}

/// Presents one certificate whenever the server asks for a client certificate.
#[derive(Debug)]
struct FixedClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Where a [`recording_config`] puts the certificate verification's outcome.
pub(crate) type VerifySlot = Arc<Mutex<Option<rustls::Error>>>;

#[cfg(feature = "client")]
/// A copy of `base` (same resumption cache, client certificate, versions) whose certificate
/// check never fails the handshake: `inner`'s verdict goes to the returned slot instead
/// (opportunistic TLS, RFC 7435: encrypt even when the certificate does not verify). The
/// handshake signatures are still checked, so the peer holds the key of what it presented.
pub(crate) fn recording_config(
    base: &ClientConfig,
    inner: Option<Arc<dyn ServerCertVerifier>>,
) -> (Arc<ClientConfig>, VerifySlot) {
    let slot: VerifySlot = Arc::default();
    let mut config = base.clone();
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(RecordingVerifier {
            inner,
            slot: slot.clone(),
            provider: provider(),
        }));
    (Arc::new(config), slot)
}

/// Runs `inner` and records a rejection instead of returning it. Without `inner` it accepts any
/// certificate (`DangerAcceptAnyCertificate`). Either way the handshake signatures are still
/// checked, so the server holds the key of the certificate it sent.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Option<Arc<dyn ServerCertVerifier>>,
    slot: VerifySlot,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(inner) = &self.inner {
            if let Err(e) =
                inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            {
                *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// rustls lists a certificate's names in Debug form (`DnsName("mx.example")`): the bare name.
fn presented_name(n: &str) -> String {
    if let Some(inner) = n
        .strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
    {
        return inner.to_owned();
    }
    // IpAddress(V4(Ipv4Addr([127, 0, 0, 1]))) and the like: keep the digits.
    if n.starts_with("IpAddress(V4(") {
        let inner = n.split_once('[').and_then(|(_, r)| r.split_once(']'));
        if let Some((octets, _)) = inner {
            let octets: Vec<&str> = octets.split(',').map(str::trim).collect();
            if octets.len() == 4 && octets.iter().all(|o| o.parse::<u8>().is_ok()) {
                return octets.join(".");
            }
        }
    }
    n.to_owned()
}

/// A server certificate that was not accepted, in words: what failed, for which name, and the
/// usual fix. Built from the rustls error of a handshake or of a recorded verification.
#[derive(Debug, Clone)]
pub struct CertificateProblem {
    /// The name the certificate was checked against.
    pub name: String,
    /// What failed ("it is signed by an unknown certificate authority", ...).
    pub what: String,
    /// The usual fix.
    pub fix: &'static str,
    error: rustls::Error,
}

impl CertificateProblem {
    /// Explains `error` when it is about the server's certificate; `None` for other TLS
    /// failures (no common cipher suite, an alert, ...).
    pub fn from_rustls(error: &rustls::Error, name: &str) -> Option<CertificateProblem> {
        use rustls::CertificateError as C;
        let rustls::Error::InvalidCertificate(cert) = error else {
            return None;
        };
        const TRUST: &str = "trust the CA that signed it (--ca, ClientTrust::roots_from_pem_file or \
             add_roots_from_pem_file), or use opportunistic TLS, which encrypts without verifying";
        let (what, fix): (String, &'static str) = match cert {
            C::UnknownIssuer => (
                "it is signed by an unknown certificate authority (self-signed, or a private CA)"
                    .into(),
                TRUST,
            ),
            C::NotValidForName => (
                format!("it is not valid for the name {name}"),
                "connect by a name the certificate lists, or set the name to verify (tls_name)",
            ),
            C::NotValidForNameContext { presented, .. } => (
                format!(
                    "it is not valid for the name {name} (it lists {})",
                    if presented.is_empty() {
                        "no name".to_string()
                    } else {
                        presented
                            .iter()
                            .map(|n| presented_name(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
                "connect by a name the certificate lists, or set the name to verify (tls_name)",
            ),
            C::Expired | C::ExpiredContext { .. } => (
                "it has expired".into(),
                "the server must renew its certificate (or check this machine's clock)",
            ),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                ("it is not valid yet".into(), "check this machine's clock")
            }
            C::Revoked => (
                "it has been revoked".into(),
                "the server must get a new certificate",
            ),
            C::BadSignature => (
                "its signature does not match its issuer".into(),
                "the server must send the right intermediate certificates",
            ),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => (
                "it is not meant for a TLS server (extended key usage)".into(),
                "the server needs a certificate issued for serverAuth",
            ),
            C::BadEncoding => (
                "it is not valid X.509".into(),
                "the server must send a well-formed certificate",
            ),
            C::Other(other) => {
                let text = other.to_string();
                if text.contains("CaUsedAsEndEntity") {
                    (
                        "the server presented a CA certificate as its own".into(),
                        "the server must present a leaf certificate issued by that CA, not the CA itself",
                    )
                } else if text.contains("UnknownIssuer") {
                    (
                        "it is signed by an unknown certificate authority".into(),
                        TRUST,
                    )
                } else {
                    (format!("it was refused ({text})"), TRUST)
                }
            }
            other => (format!("it was refused ({other:?})"), TRUST),
        };
        Some(CertificateProblem {
            name: name.to_owned(),
            what,
            fix,
            error: error.clone(),
        })
    }

    /// The rustls error it explains.
    pub fn rustls_error(&self) -> &rustls::Error {
        &self.error
    }
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the certificate of {} was not accepted: {}; fix: {}",
            self.name, self.what, self.fix
        )
    }
}

impl std::error::Error for CertificateProblem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

// ---------------------------------------------------------------------------------------------
// Handshake results
// ---------------------------------------------------------------------------------------------

pub use crate::proto::TlsInfo;

impl TlsInfo {
    /// Reads them from a server connection after the handshake.
    pub fn from_server(conn: &rustls::ServerConnection) -> TlsInfo {
        TlsInfo::from_common(conn, conn.server_name().map(str::to_owned))
    }

    /// Reads them from a client connection after the handshake.
    pub fn from_client(conn: &rustls::ClientConnection) -> TlsInfo {
        TlsInfo::from_common(conn, None)
    }

    fn from_common(state: &CommonState, sni: Option<String>) -> TlsInfo {
        let version = match state.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => "unknown".to_owned(),
        };
        let cipher = match state.negotiated_cipher_suite() {
            Some(suite) => {
                let id = suite.suite();
                id.as_str().map_or_else(|| format!("{id:?}"), str::to_owned)
            }
            None => "unknown".to_owned(),
        };
        TlsInfo {
            version,
            cipher,
            sni,
        }
    }
}

/// A self-signed identity for `localhost`, for the crate's own tests.
#[cfg(test)]
pub(crate) fn test_server_tls() -> ServerTls {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let id = Identity::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
        .expect("identity");
    ServerTls::new(id)
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
