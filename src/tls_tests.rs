//! Tests of `tls`.

use super::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
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
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
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
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04,
        0x20,
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
    assert!(CertificateProblem::from_rustls(&rustls::Error::HandshakeNotComplete, "x").is_none());
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
