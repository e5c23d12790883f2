//! rustls configurations for both sides of a connection.
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
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert { provider })),
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

/// Runs `inner` and records a rejection instead of returning it.
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

/// Accepts any server certificate, but still checks that the server holds the key of the
/// certificate it sent (handshake signatures), so the connection is at least consistent.
#[derive(Debug)]
struct AcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
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

/// What a handshake settled, for logs and the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2" ("unknown" before the handshake has settled it).
    pub version: String,
    /// Cipher suite name, e.g. "TLS13_AES_256_GCM_SHA384" ("unknown" before the handshake).
    pub cipher: String,
    /// The SNI name the client sent (server side), if any; always `None` on the client side.
    pub sni: Option<String>,
}

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

impl fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)?;
        if let Some(sni) = &self.sni {
            write!(f, " sni={sni}")?;
        }
        Ok(())
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
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use rustls::{ClientConnection, ConnectionCommon, ServerConnection};
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A PEM certificate and its PEM private key.
    struct Leaf {
        cert: String,
        key: String,
    }

    /// A throw-away PKI, generated once per test run.
    struct Pki {
        ca: String,
        mx: Leaf,
        other: Leaf,
        wild: Leaf,
    }

    fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "smtpkit test CA");
            let ca_cert = ca_params.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca_params, ca_key);
            let leaf = |name: &str| {
                let key = KeyPair::generate().unwrap();
                let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
                params.distinguished_name.push(DnType::CommonName, name);
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                let cert = params.signed_by(&key, &issuer).unwrap();
                Leaf {
                    cert: cert.pem(),
                    key: key.serialize_pem(),
                }
            };
            Pki {
                mx: leaf("mx.example"),
                other: leaf("other.example"),
                wild: leaf("*.wild.example"),
                ca: ca_cert.pem(),
            }
        })
    }

    fn identity(leaf: &Leaf) -> Identity {
        Identity::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).unwrap()
    }

    fn ca_trust() -> ClientTrust {
        ClientTrust::roots_from_pem(pki().ca.as_bytes()).unwrap()
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "smtpkit-tls-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Minimal base64 (with padding) to build odd PEM sections in tests.
    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn pem_section(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            base64(der)
        )
    }

    /// Moves every pending TLS record from `from` to `to`; true if anything moved.
    fn transfer<A, B>(
        from: &mut ConnectionCommon<A>,
        to: &mut ConnectionCommon<B>,
    ) -> Result<bool, rustls::Error> {
        let mut moved = false;
        while from.wants_write() {
            let mut buf = Vec::new();
            from.write_tls(&mut buf).unwrap();
            let mut rd = &buf[..];
            while !rd.is_empty() {
                to.read_tls(&mut rd).unwrap();
                to.process_new_packets()?;
            }
            moved = true;
        }
        Ok(moved)
    }

    /// Runs a whole handshake in memory; the error is whichever side failed first.
    fn handshake(
        client: &mut ClientConnection,
        server: &mut ServerConnection,
    ) -> Result<(), rustls::Error> {
        for _ in 0..20 {
            let a = transfer(&mut **client, &mut **server)?;
            let b = transfer(&mut **server, &mut **client)?;
            if !a && !b && !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
        }
        panic!("handshake did not finish");
    }

    fn connect_with(
        client_config: Arc<ClientConfig>,
        server: &ServerTls,
        name: &str,
    ) -> Result<(TlsInfo, TlsInfo), rustls::Error> {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let mut client = ClientConnection::new(client_config, name).unwrap();
        let mut srv = ServerConnection::new(server.server_config()).unwrap();
        handshake(&mut client, &mut srv)?;
        // Application data flows both ways.
        srv.writer().write_all(b"220 ready\r\n").unwrap();
        client.writer().write_all(b"EHLO c\r\n").unwrap();
        handshake(&mut client, &mut srv)?;
        let mut buf = [0u8; 64];
        let n = client.reader().read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"220 ready\r\n");
        let n = srv.reader().read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"EHLO c\r\n");
        Ok((TlsInfo::from_client(&client), TlsInfo::from_server(&srv)))
    }

    fn connect(server: &ServerTls, name: &str) -> Result<(TlsInfo, TlsInfo), rustls::Error> {
        connect_with(ca_trust().client_config().unwrap(), server, name)
    }

    fn full_server() -> ServerTls {
        let p = pki();
        ServerTls::new(identity(&p.mx))
            .add_sni("other.example", identity(&p.other))
            .unwrap()
            .add_sni("*.wild.example", identity(&p.wild))
            .unwrap()
    }

    // --- loading -------------------------------------------------------------------------------

    #[test]
    fn loads_from_pem_bytes() {
        let p = pki();
        let id = identity(&p.mx);
        assert_eq!(id.cert_chain().len(), 1);
        assert!(format!("{id:?}").contains("certificates: 1"));
        // Chain with the CA appended, and key + chain in one buffer.
        let combined = format!("{}{}{}", p.mx.key, p.mx.cert, p.ca);
        let id = Identity::from_pem(combined.as_bytes(), combined.as_bytes()).unwrap();
        assert_eq!(id.cert_chain().len(), 2);
        assert_eq!(id.certified_key().cert.len(), 2);
    }

    #[test]
    fn loads_from_pem_files() {
        let p = pki();
        let dir = TempDir::new();
        let cert = dir.write("mx.pem", p.mx.cert.as_bytes());
        let key = dir.write("mx.key", p.mx.key.as_bytes());
        let ca = dir.write("ca.pem", p.ca.as_bytes());
        let server = ServerTls::from_pem_files(&cert, &key).unwrap();
        let trust = ClientTrust::roots_from_pem_file(&ca).unwrap();
        let (client, srv) =
            connect_with(trust.client_config().unwrap(), &server, "mx.example").unwrap();
        assert_eq!(client.version, "TLSv1.3");
        assert_eq!(srv.sni.as_deref(), Some("mx.example"));
    }

    #[test]
    fn missing_file_is_io_error_naming_the_path() {
        let dir = TempDir::new();
        let key = dir.write("k.pem", pki().mx.key.as_bytes());
        let missing = dir.0.join("no-such-cert.pem");
        let err = Identity::from_pem_files(&missing, &key).unwrap_err();
        assert!(
            matches!(&err, TlsError::Io { path, .. } if *path == missing),
            "{err:?}"
        );
        assert!(err.to_string().contains("no-such-cert.pem"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        let err = ClientTrust::roots_from_pem_file(&missing).unwrap_err();
        assert!(matches!(err, TlsError::Io { .. }), "{err:?}");
    }

    #[test]
    fn empty_file_has_no_certificate() {
        let dir = TempDir::new();
        let empty = dir.write("empty.pem", b"");
        let key = dir.write("k.pem", pki().mx.key.as_bytes());
        let err = Identity::from_pem_files(&empty, &key).unwrap_err();
        assert!(matches!(&err, TlsError::NoCertificate { what } if what.contains("empty.pem")));
        assert!(err.to_string().contains("empty.pem"), "{err}");
        // Text that is not PEM at all holds no certificate either.
        let err = Identity::from_pem(b"hello world\n", pki().mx.key.as_bytes()).unwrap_err();
        assert!(matches!(&err, TlsError::NoCertificate { what } if what == "memory"));
        let err = ClientTrust::roots_from_pem(b"").unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    }

    #[test]
    fn certificate_without_key() {
        let p = pki();
        let dir = TempDir::new();
        let cert = dir.write("cert-only.pem", p.mx.cert.as_bytes());
        let err = Identity::from_pem_files(&cert, &cert).unwrap_err();
        assert!(matches!(&err, TlsError::NoPrivateKey { what } if what.contains("cert-only")));
        assert!(err.to_string().contains("cert-only.pem"), "{err}");
    }

    #[test]
    fn garbage_pem() {
        let p = pki();
        let bad_base64 =
            b"-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n";
        let err = Identity::from_pem(bad_base64, p.mx.key.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");

        let truncated = &p.mx.cert.as_bytes()[..p.mx.cert.len() / 2];
        let err = Identity::from_pem(truncated, p.mx.key.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");

        let truncated_key = &p.mx.key.as_bytes()[..p.mx.key.len() - 20];
        let dir = TempDir::new();
        let cert = dir.write("c.pem", p.mx.cert.as_bytes());
        let key = dir.write("broken.key", truncated_key);
        let err = Identity::from_pem_files(&cert, &key).unwrap_err();
        assert!(matches!(&err, TlsError::Pem { what, .. } if what.contains("broken.key")));
        assert!(err.to_string().contains("broken.key"), "{err}");

        // Valid PEM and base64, but not a certificate.
        let not_x509 = pem_section("CERTIFICATE", b"this is not DER");
        let err = Identity::from_pem(not_x509.as_bytes(), p.mx.key.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");
        let err = ClientTrust::roots_from_pem(not_x509.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");
    }

    #[test]
    fn key_of_another_certificate() {
        let p = pki();
        let err = Identity::from_pem(p.mx.cert.as_bytes(), p.other.key.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
        // Leaf not first: the key is checked against the first certificate.
        let reversed = format!("{}{}", p.ca, p.mx.cert);
        let err = Identity::from_pem(reversed.as_bytes(), p.mx.key.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
        let dir = TempDir::new();
        let cert = dir.write("other.pem", p.other.cert.as_bytes());
        let key = dir.write("mx.key", p.mx.key.as_bytes());
        let err = Identity::from_pem_files(&cert, &key).unwrap_err();
        assert!(err.to_string().contains("mx.key"), "{err}");
    }

    #[test]
    fn unsupported_key_type() {
        // A well-formed PKCS#8 X25519 key: a key-agreement key no TLS signature can use.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&[0x42; 32]);
        let key = pem_section("PRIVATE KEY", &der);
        let err = Identity::from_pem(pki().mx.cert.as_bytes(), key.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::Rustls(_)), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn other_key_types_load() {
        for alg in [&rcgen::PKCS_ED25519, &rcgen::PKCS_ECDSA_P384_SHA384] {
            let key = KeyPair::generate_for(alg).unwrap();
            let cert = CertificateParams::new(vec!["k.example".to_owned()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let id = Identity::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes());
            assert!(id.is_ok(), "{alg:?}: {id:?}");
        }
    }

    #[test]
    fn invalid_sni_names() {
        let p = pki();
        for bad in [
            "",
            ".",
            "*",
            "*.",
            "a.*.example",
            "*.*.example",
            "bad name",
            "1.2.3.4",
        ] {
            let err = ServerTls::new(identity(&p.mx))
                .add_sni(bad, identity(&p.other))
                .unwrap_err();
            assert!(
                matches!(&err, TlsError::InvalidName { name } if name == bad),
                "{bad:?}"
            );
        }
        let ok = ServerTls::new(identity(&p.mx))
            .add_sni("Other.Example.", identity(&p.other))
            .unwrap();
        assert!(format!("{ok:?}").contains("other.example"));
    }

    #[test]
    fn error_messages() {
        let err = TlsError::Io {
            path: PathBuf::from("/etc/x.pem"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(
            err.to_string().starts_with("cannot read /etc/x.pem: "),
            "{err}"
        );
        let err = TlsError::KeyMismatch {
            what: "k.pem".to_owned(),
        };
        assert!(err.to_string().contains("k.pem"));
    }

    // --- handshakes ----------------------------------------------------------------------------

    #[test]
    fn default_identity_without_sni() {
        let server = full_server();
        let mut config = (*ca_trust().client_config().unwrap()).clone();
        config.enable_sni = false;
        let (_, srv) = connect_with(Arc::new(config.clone()), &server, "mx.example").unwrap();
        assert_eq!(srv.sni, None);
        // Without SNI the server cannot know the client wanted other.example.
        let err = connect_with(Arc::new(config), &server, "other.example").unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
    }

    #[test]
    fn identity_per_sni_name() {
        let server = full_server();
        let (client, srv) = connect(&server, "other.example").unwrap();
        assert_eq!(srv.sni.as_deref(), Some("other.example"));
        assert_eq!(client.sni, None);
        connect(&server, "mx.example").unwrap();
        // Unknown name: the default (mx.example) certificate, which the client rejects.
        let err = connect(&server, "unknown.example").unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
        // A server without the SNI entry serves mx.example to everyone.
        let plain = ServerTls::new(identity(&pki().mx));
        let err = connect(&plain, "other.example").unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
    }

    #[test]
    fn sni_is_case_insensitive() {
        let p = pki();
        let server = ServerTls::new(identity(&p.mx))
            .add_sni("OTHER.example", identity(&p.other))
            .unwrap();
        let (_, srv) = connect(&server, "Other.EXAMPLE").unwrap();
        assert_eq!(srv.sni.as_deref(), Some("other.example"));
    }

    #[test]
    fn wildcard_matches_one_label() {
        let server = full_server();
        let (_, srv) = connect(&server, "smtp.wild.example").unwrap();
        assert_eq!(srv.sni.as_deref(), Some("smtp.wild.example"));
        // Neither the bare parent nor two labels deep: default certificate, rejected.
        for name in ["wild.example", "a.b.wild.example"] {
            let err = connect(&server, name).unwrap_err();
            assert!(
                matches!(err, rustls::Error::InvalidCertificate(_)),
                "{err:?}"
            );
        }
        // Exact names win over a wildcard.
        let p = pki();
        let server = ServerTls::new(identity(&p.mx))
            .add_sni("*.wild.example", identity(&p.other))
            .unwrap()
            .add_sni("x.wild.example", identity(&p.wild))
            .unwrap();
        connect(&server, "x.wild.example").unwrap();
        let err = connect(&server, "y.wild.example").unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
    }

    #[test]
    fn tls13_and_tls12() {
        let server = full_server();
        let (client, srv) = connect(&server, "mx.example").unwrap();
        assert_eq!(client.version, "TLSv1.3");
        assert_eq!(client.cipher, "TLS13_AES_256_GCM_SHA384");
        assert_eq!(
            srv,
            TlsInfo {
                sni: Some("mx.example".to_owned()),
                ..client.clone()
            }
        );
        assert_eq!(
            srv.to_string(),
            "TLSv1.3 TLS13_AES_256_GCM_SHA384 sni=mx.example"
        );

        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki().ca.as_bytes()).unwrap())
            .unwrap();
        let tls12 = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (client, srv) = connect_with(Arc::new(tls12), &server, "other.example").unwrap();
        assert_eq!(client.version, "TLSv1.2");
        assert!(
            client.cipher.starts_with("TLS_ECDHE_ECDSA_WITH_"),
            "{client:?}"
        );
        assert_eq!(srv.version, "TLSv1.2");
        assert_eq!(srv.cipher, client.cipher);
        assert_eq!(srv.sni.as_deref(), Some("other.example"));
    }

    #[test]
    fn info_before_handshake() {
        let conn = ServerConnection::new(full_server().server_config()).unwrap();
        let info = TlsInfo::from_server(&conn);
        assert_eq!(
            (info.version.as_str(), info.cipher.as_str()),
            ("unknown", "unknown")
        );
    }

    #[test]
    fn session_resumption() {
        let server = full_server();
        let client_config = ca_trust().client_config().unwrap();
        for expect_resumed in [false, true] {
            let name = ServerName::try_from("mx.example").unwrap();
            let mut client = ClientConnection::new(client_config.clone(), name).unwrap();
            let mut srv = ServerConnection::new(server.server_config()).unwrap();
            handshake(&mut client, &mut srv).unwrap();
            let kind = client.handshake_kind().unwrap();
            assert_eq!(
                kind == rustls::HandshakeKind::Resumed,
                expect_resumed,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn danger_accepts_self_signed() {
        let cert = rcgen::generate_simple_self_signed(vec!["self.example".to_owned()]).unwrap();
        let id = Identity::from_pem(
            cert.cert.pem().as_bytes(),
            cert.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let server = ServerTls::new(id);
        // Verified clients refuse it ...
        let err = connect(&server, "self.example").unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
        // ... the danger one accepts it, under any name.
        let danger = ClientTrust::DangerAcceptAnyCertificate
            .client_config()
            .unwrap();
        let (client, _) = connect_with(danger.clone(), &server, "anything.example").unwrap();
        assert_eq!(client.version, "TLSv1.3");
        let (client, _) = connect_with(danger, &full_server(), "mx.example").unwrap();
        assert_eq!(client.version, "TLSv1.3");
    }

    #[test]
    fn certificate_problems_read_as_words() {
        use rustls::CertificateError as C;
        let words = |c: C| {
            CertificateProblem::from_rustls(&rustls::Error::InvalidCertificate(c), "mx.example")
                .map(|p| p.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            words(C::Expired),
            "the certificate of mx.example was not accepted: it has expired; fix: the server \
             must renew its certificate (or check this machine's clock)"
        );
        assert!(words(C::NotValidYet).contains("not valid yet; fix: check this machine's clock"));
        assert!(words(C::UnknownIssuer).contains("unknown certificate authority"));
        assert!(words(C::NotValidForName).contains("not valid for the name mx.example"));
        // Only certificate errors are explained.
        assert!(
            CertificateProblem::from_rustls(&rustls::Error::HandshakeNotComplete, "x").is_none()
        );
        assert_eq!(presented_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(
            presented_name("IpAddress(V4(Ipv4Addr([127, 0, 0, 1])))"),
            "127.0.0.1"
        );
        assert_eq!(presented_name("something else"), "something else");
    }

    #[test]
    fn roots_are_added() {
        let ca = pki().ca.as_bytes();
        let t = ClientTrust::WebPki.add_roots_from_pem(ca).unwrap();
        assert!(matches!(&t, ClientTrust::WebPkiAnd(v) if v.len() == 1));
        let t = t.add_roots_from_pem(ca).unwrap();
        assert!(matches!(&t, ClientTrust::WebPkiAnd(v) if v.len() == 2));
        let t = ca_trust().add_roots_from_pem(ca).unwrap();
        assert!(matches!(&t, ClientTrust::Roots(v) if v.len() == 2));
        let t = ClientTrust::DangerAcceptAnyCertificate
            .add_roots_from_pem(ca)
            .unwrap();
        assert!(!t.verifies() && t.server_verifier().unwrap().is_none());
        assert!(ClientTrust::WebPki.server_verifier().unwrap().is_some());
        assert!(ClientTrust::WebPki.add_roots_from_pem(b"junk").is_err());
    }

    #[test]
    fn webpki_and_empty_roots() {
        let config = ClientTrust::WebPki.client_config().unwrap();
        assert!(config.enable_sni);
        assert!(matches!(ClientTrust::default(), ClientTrust::WebPki));
        let err = ClientTrust::Roots(Vec::new()).client_config().unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    }

    #[test]
    fn handshake_over_tcp() {
        use std::net::{TcpListener, TcpStream};
        use std::time::Duration;

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = full_server().server_config();
        let server = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut conn = ServerConnection::new(config).unwrap();
            while conn.is_handshaking() {
                conn.complete_io(&mut sock).unwrap();
            }
            let info = TlsInfo::from_server(&conn);
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            tls.write_all(b"220 mx.example ESMTP\r\n").unwrap();
            let mut line = [0u8; 6];
            tls.read_exact(&mut line).unwrap();
            assert_eq!(&line, b"QUIT\r\n");
            conn.send_close_notify();
            conn.complete_io(&mut sock).unwrap();
            info
        });

        let mut sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let name = ServerName::try_from("x.wild.example").unwrap();
        let mut conn = ClientConnection::new(ca_trust().client_config().unwrap(), name).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        let mut greeting = [0u8; 22];
        tls.read_exact(&mut greeting).unwrap();
        assert_eq!(&greeting, b"220 mx.example ESMTP\r\n");
        tls.write_all(b"QUIT\r\n").unwrap();
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        let client = TlsInfo::from_client(&conn);
        let srv = server.join().unwrap();
        assert_eq!(srv.sni.as_deref(), Some("x.wild.example"));
        assert_eq!((srv.version, srv.cipher), (client.version, client.cipher));
    }
}
