//! The client's TLS policy against smtpkit's server over real sockets (issue 13, items 1-3):
//! what each TLS mode verifies and when it falls back, the credentials rule, readable
//! certificate errors, the name to verify, extra roots, client certificates, a caller-built
//! rustls configuration, and a proxy that strips STARTTLS and AUTH from the EHLO reply.

mod common;
#[path = "common/pki.rs"]
mod pki;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use smtpkit::Reply;
use smtpkit::client::{Client, Email, ErrorKind, Options, Status, TlsMode, TlsStatus};
use smtpkit::sasl::{Credentials, Mechanism};
use smtpkit::server::{Envelope, Handler, Server, ServerHandle};
use smtpkit::tls::{ClientTrust, Identity, ServerTls};

/// What the server saw: messages (with whether they came over TLS and who was
/// authenticated) and every AUTH attempt.
#[derive(Default)]
struct Seen {
    messages: Vec<(bool, Option<String>)>,
    auth_attempts: usize,
}

type Shared = Arc<Mutex<Seen>>;

struct Rec(Shared);

impl Handler for Rec {
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        self.0.lock().unwrap().auth_attempts += 1;
        if c.username() == "alice" && c.check_password("s3cret") {
            Ok(())
        } else {
            Err(Reply::AUTH_FAILED)
        }
    }
    fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        self.0
            .lock()
            .unwrap()
            .messages
            .push((env.tls.is_some(), env.auth.clone()));
        Ok(Reply::QUEUED)
    }
}

/// A server with STARTTLS (and an implicit TLS listener) presenting `identity`, offering AUTH
/// PLAIN and LOGIN (after TLS only).
fn server(identity: Identity) -> (ServerHandle, Shared) {
    let seen: Shared = Default::default();
    let s2 = Arc::clone(&seen);
    let h = Server::builder()
        .hostname("mx.example")
        .tls(ServerTls::new(identity))
        .auth_mechanisms(&[Mechanism::Plain, Mechanism::Login])
        .bind("127.0.0.1:0")
        .unwrap()
        .bind_implicit_tls("127.0.0.1:0")
        .unwrap()
        .spawn(move |_| Rec(Arc::clone(&s2)))
        .unwrap();
    (h, seen)
}

fn mx_identity() -> Identity {
    let p = pki::pki();
    Identity::from_pem(p.mx.cert.as_bytes(), p.mx.key.as_bytes()).unwrap()
}

fn other_identity() -> Identity {
    let p = pki::pki();
    Identity::from_pem(p.other.cert.as_bytes(), p.other.key.as_bytes()).unwrap()
}

fn ca_trust() -> ClientTrust {
    ClientTrust::roots_from_pem(pki::pki().ca.as_bytes()).unwrap()
}

fn opts(addr: SocketAddr) -> Options {
    Options::relay(addr.to_string())
        .hostname("client.example")
        .retries(0)
}

fn email() -> Email {
    Email::new("alice@example.org", &["bob@example.net"], "hi\r\n").unwrap()
}

fn seen(s: &Shared) -> (Vec<(bool, Option<String>)>, usize) {
    // The session ends after the client's QUIT; give the server a moment to record.
    thread::sleep(Duration::from_millis(50));
    let g = s.lock().unwrap();
    (g.messages.clone(), g.auth_attempts)
}

/// A certificate error must read as words, never as Rust Debug output.
fn assert_readable(msg: &str) {
    for debug in [
        "Other(",
        "OtherError",
        "InvalidCertificate(",
        "CaUsedAsEndEntity",
    ] {
        assert!(!msg.contains(debug), "Debug output in {msg:?}");
    }
    assert!(msg.contains("fix:"), "no fix in {msg:?}");
}

// ---------------------------------------------------------------------------------------
// The four modes

/// RFC 7435: opportunistic TLS encrypts even when the certificate does not verify; the
/// verification result goes to the receipt.
#[test]
fn opportunistic_encrypts_without_a_verified_certificate() {
    let (srv, rec) = server(mx_identity());
    // Default trust: the webpki roots, which do not know the test CA.
    let client = Client::new(opts(srv.local_addrs()[0]).tls(TlsMode::Opportunistic)).unwrap();
    let r = client.send(&email()).unwrap();
    assert_eq!(r.status(), Status::Delivered);
    match &r.tls {
        Some(TlsStatus::Unverified(why)) => {
            assert!(
                why.contains("the certificate of 127.0.0.1 was not accepted")
                    && why.contains("unknown certificate authority"),
                "{why}"
            );
            assert_readable(why);
        }
        other => panic!("expected an unverified TLS session, got {other:?}"),
    }
    assert_eq!(
        seen(&rec).0,
        [(true, None)],
        "the message must travel encrypted"
    );

    // The same with the CA trusted: verified.
    let client = Client::new(
        opts(srv.local_addrs()[0])
            .tls(TlsMode::Opportunistic)
            .trust(ca_trust()),
    )
    .unwrap();
    let r = client.send(&email()).unwrap();
    assert_eq!(r.tls, Some(TlsStatus::Verified));
}

#[test]
fn required_and_implicit_verify_and_explain_a_failure() {
    let (srv, rec) = server(mx_identity());
    for (mode, addr) in [
        (TlsMode::Required, srv.local_addrs()[0]),
        (TlsMode::Implicit, srv.local_addrs()[1]),
    ] {
        let client = Client::new(opts(addr).tls(mode)).unwrap();
        let e = client.send(&email()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{mode:?}: {e}");
        let msg = e.to_string();
        assert!(
            msg.contains("the certificate of 127.0.0.1 was not accepted: it is signed by an unknown certificate authority"),
            "{mode:?}: {msg}"
        );
        assert_readable(&msg);
        // The typed explanation is the error's source.
        let src = std::error::Error::source(&e).expect("a source");
        assert!(
            src.downcast_ref::<smtpkit::tls::CertificateProblem>()
                .is_some(),
            "{src:?}"
        );

        let client = Client::new(opts(addr).tls(mode).trust(ca_trust())).unwrap();
        let r = client.send(&email()).unwrap();
        assert_eq!(r.tls, Some(TlsStatus::Verified), "{mode:?}");
    }
    assert_eq!(seen(&rec).0, [(true, None), (true, None)]);
}

#[test]
fn never_sends_in_cleartext_even_when_starttls_is_offered() {
    let (srv, rec) = server(mx_identity());
    let client = Client::new(opts(srv.local_addrs()[0]).tls(TlsMode::Never)).unwrap();
    let r = client.send(&email()).unwrap();
    assert_eq!(r.tls, None);
    assert_eq!(seen(&rec).0, [(false, None)]);
}

// ---------------------------------------------------------------------------------------
// TLS options (item 3)

/// A relay reached by IP whose certificate names something else: the error says which
/// names the certificate has; `tls_name` verifies the right one.
#[test]
fn tls_name_for_a_relay_reached_by_ip() {
    let (srv, _rec) = server(other_identity());
    let addr = srv.local_addrs()[0];
    let client = Client::new(opts(addr).tls(TlsMode::Required).trust(ca_trust())).unwrap();
    let e = client.send(&email()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("it is not valid for the name 127.0.0.1 (it lists other.example)"),
        "{msg}"
    );
    assert!(msg.contains("tls_name"), "{msg}");
    assert_readable(&msg);

    let client = Client::new(
        opts(addr)
            .tls(TlsMode::Required)
            .trust(ca_trust())
            .tls_name("other.example"),
    )
    .unwrap();
    let r = client.send(&email()).unwrap();
    assert_eq!(r.tls, Some(TlsStatus::Verified));
    assert!(
        Client::new(opts(addr).tls_name("bad name!")).is_err(),
        "an invalid tls_name is refused up front"
    );
}

/// A test CA with its key, and a leaf for 127.0.0.1 usable as a server or client certificate.
struct OwnCa {
    ca_pem: String,
    ca_key_pem: String,
    leaf: (String, String),
}

fn own_ca() -> OwnCa {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "client_tls test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "client.example");
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let leaf = p.signed_by(&key, &issuer).unwrap();
    OwnCa {
        ca_pem: ca_cert.pem(),
        ca_key_pem,
        leaf: (leaf.pem(), key.serialize_pem()),
    }
}

/// The example: a server presenting a CA certificate as its own used to print
/// `Other(OtherError(CaUsedAsEndEntity))`.
#[test]
fn ca_used_as_end_entity_reads_as_words() {
    let ca = own_ca();
    let identity = Identity::from_pem(ca.ca_pem.as_bytes(), ca.ca_key_pem.as_bytes()).unwrap();
    let (srv, _rec) = server(identity);
    let client = Client::new(
        opts(srv.local_addrs()[0])
            .tls(TlsMode::Required)
            .trust(ClientTrust::roots_from_pem(ca.ca_pem.as_bytes()).unwrap()),
    )
    .unwrap();
    let e = client.send(&email()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("the server presented a CA certificate as its own"),
        "{msg}"
    );
    assert_readable(&msg);
}

/// Extra roots beside the webpki ones.
#[test]
fn extra_roots_beside_webpki() {
    let (srv, _rec) = server(mx_identity());
    let trust = ClientTrust::WebPki
        .add_roots_from_pem(pki::pki().ca.as_bytes())
        .unwrap();
    assert!(matches!(trust, ClientTrust::WebPkiAnd(ref v) if v.len() == 1));
    let client = Client::new(
        opts(srv.local_addrs()[0])
            .tls(TlsMode::Required)
            .trust(trust),
    )
    .unwrap();
    assert_eq!(
        client.send(&email()).unwrap().tls,
        Some(TlsStatus::Verified)
    );
}

/// A caller-built rustls configuration decides for Required (here it trusts the test CA
/// while `trust` is left at the webpki roots).
#[test]
fn caller_built_rustls_config() {
    let (srv, _rec) = server(mx_identity());
    let config = ca_trust().client_config().unwrap();
    let client = Client::new(
        opts(srv.local_addrs()[0])
            .tls(TlsMode::Required)
            .rustls_config(config.clone()),
    )
    .unwrap();
    assert_eq!(
        client.send(&email()).unwrap().tls,
        Some(TlsStatus::Verified)
    );
    // Opportunistic on a copy of it records the verification against `trust`.
    let client = Client::new(
        opts(srv.local_addrs()[0])
            .tls(TlsMode::Opportunistic)
            .rustls_config(config),
    )
    .unwrap();
    let r = client.send(&email()).unwrap();
    assert!(
        matches!(r.tls, Some(TlsStatus::Unverified(_))),
        "{:?}",
        r.tls
    );
}

/// Mutual TLS: a rustls server (implicit TLS) that requires a client certificate from its
/// CA gets the one set with `client_identity`.
#[test]
fn client_certificate_is_presented() {
    let ca = own_ca();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca.ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(ca.leaf.0.as_bytes())
        .map(|c| c.unwrap())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(ca.leaf.1.as_bytes()).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut subjects = Vec::new();
        for _ in 0..2 {
            let (sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut ok = true;
            while tls.conn.is_handshaking() {
                if tls.conn.complete_io(&mut tls.sock).is_err() {
                    ok = false;
                    break;
                }
            }
            subjects.push(ok && tls.conn.peer_certificates().is_some_and(|c| !c.is_empty()));
            if ok {
                let _ = tls.write_all(b"554 5.7.1 seen you\r\n");
                let mut line = String::new();
                let _ = BufReader::new(&mut tls).read_line(&mut line);
            }
        }
        subjects
    });
    let trust = ClientTrust::roots_from_pem(ca.ca_pem.as_bytes()).unwrap();
    let id = Identity::from_pem(ca.leaf.0.as_bytes(), ca.leaf.1.as_bytes()).unwrap();
    let with = Client::new(
        opts(addr)
            .tls(TlsMode::Implicit)
            .trust(trust.clone())
            .client_identity(id),
    )
    .unwrap();
    let e = with.send(&email()).unwrap_err();
    assert_eq!(e.reply().map(|r| r.code), Some(554), "{e}");
    let without = Client::new(opts(addr).tls(TlsMode::Implicit).trust(trust)).unwrap();
    let e = without.send(&email()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("client_identity"), "{e}");
    assert_eq!(server.join().unwrap(), [true, false]);
}

// ---------------------------------------------------------------------------------------
// Credentials (item 1) over TLS

/// Credentials and opportunistic TLS whose certificate does not verify: no AUTH (so no
/// transaction) unless `allow_unverified_auth`.
#[test]
fn credentials_never_go_over_unverified_tls_unless_allowed() {
    let (srv, rec) = server(mx_identity());
    let addr = srv.local_addrs()[0];
    let base = || {
        opts(addr)
            .tls(TlsMode::Opportunistic)
            .login("alice", "s3cret")
    };
    let e = Client::new(base()).unwrap().send(&email()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    assert!(e.to_string().contains("did not verify"), "{e}");
    assert_eq!(seen(&rec), (vec![], 0), "no AUTH, no message");

    let r = Client::new(base().allow_unverified_auth(true))
        .unwrap()
        .send(&email())
        .unwrap();
    assert!(matches!(r.tls, Some(TlsStatus::Unverified(_))));
    assert_eq!(seen(&rec), (vec![(true, Some("alice".into()))], 1));
}

/// Credentials without a TLS mode: Required (verified). An unverifiable server gets no
/// credentials; an explicit DangerAcceptAnyCertificate is consent to send them.
#[test]
fn credentials_default_to_verified_tls() {
    let (srv, rec) = server(mx_identity());
    let addr = srv.local_addrs()[0];
    let e = Client::new(opts(addr).login("alice", "s3cret"))
        .unwrap()
        .send(&email())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert_eq!(seen(&rec), (vec![], 0));

    let r = Client::new(opts(addr).login("alice", "s3cret").trust(ca_trust()))
        .unwrap()
        .send(&email())
        .unwrap();
    assert_eq!(r.tls, Some(TlsStatus::Verified));

    let r = Client::new(
        opts(addr)
            .login("alice", "s3cret")
            .trust(ClientTrust::DangerAcceptAnyCertificate),
    )
    .unwrap()
    .send(&email())
    .unwrap();
    assert_eq!(r.tls, Some(TlsStatus::NotChecked));
    assert_eq!(
        seen(&rec).0,
        [(true, Some("alice".into())), (true, Some("alice".into()))]
    );
}

// ---------------------------------------------------------------------------------------
// A man in the middle that strips STARTTLS and AUTH from the EHLO reply

/// A TCP proxy to `upstream` that removes the STARTTLS and AUTH lines of every EHLO reply
/// (fixing the continuation marks), and counts the commands the client sent through it.
fn stripping_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let commands: Arc<Mutex<Vec<String>>> = Default::default();
    let c2 = Arc::clone(&commands);
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(upstream) else {
                return;
            };
            // Client to server: copied, each line recorded.
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let c3 = Arc::clone(&c2);
            thread::spawn(move || {
                let mut r = BufReader::new(&mut c_read);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    c3.lock().unwrap().push(line.trim_end().to_string());
                    if s_write.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
                let _ = s_write.shutdown(std::net::Shutdown::Write);
            });
            // Server to client: whole replies, filtered.
            let mut c_write = client;
            thread::spawn(move || {
                let mut r = BufReader::new(server);
                let mut reply: Vec<String> = Vec::new();
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let more = line.as_bytes().get(3) == Some(&b'-');
                    reply.push(line.trim_end().to_string());
                    line.clear();
                    if more {
                        continue;
                    }
                    let kept: Vec<&String> = reply
                        .iter()
                        .enumerate()
                        .filter(|(i, l)| {
                            *i == 0 || {
                                let kw = l.get(4..).unwrap_or("").to_ascii_uppercase();
                                !(kw.starts_with("STARTTLS") || kw.starts_with("AUTH"))
                            }
                        })
                        .map(|(_, l)| l)
                        .collect();
                    let n = kept.len();
                    let mut out = String::new();
                    for (i, l) in kept.iter().enumerate() {
                        let sep = if i + 1 == n { ' ' } else { '-' };
                        out.push_str(&format!("{}{sep}{}\r\n", &l[..3], l.get(4..).unwrap_or("")));
                    }
                    reply.clear();
                    if c_write.write_all(out.as_bytes()).is_err() {
                        break;
                    }
                }
                let _ = c_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (addr, commands)
}

#[test]
fn stripped_starttls_and_auth() {
    let (srv, rec) = server(mx_identity());
    let (proxy, commands) = stripping_proxy(srv.local_addrs()[0]);

    // Credentials (TLS Required by default): nothing but EHLO and QUIT crosses the proxy.
    let e = Client::new(opts(proxy).login("alice", "s3cret").trust(ca_trust()))
        .unwrap()
        .send(&email())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        std::mem::take(&mut *commands.lock().unwrap()),
        ["EHLO client.example", "QUIT"]
    );

    // Credentials with opportunistic TLS and insecure AUTH allowed, but the AUTH offer is
    // gone too: still no transaction.
    let e = Client::new(
        opts(proxy)
            .tls(TlsMode::Opportunistic)
            .allow_insecure_auth(true)
            .login("alice", "s3cret"),
    )
    .unwrap()
    .send(&email())
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    assert!(e.to_string().contains("does not offer AUTH"), "{e}");
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        std::mem::take(&mut *commands.lock().unwrap()),
        ["EHLO client.example", "QUIT"]
    );

    // Required without credentials: refused, nothing sent.
    let e = Client::new(opts(proxy).tls(TlsMode::Required).trust(ca_trust()))
        .unwrap()
        .send(&email())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");

    // Opportunistic without credentials: STARTTLS absent is the one case of cleartext
    // fallback (RFC 7435), and the receipt says so.
    let r = Client::new(opts(proxy).tls(TlsMode::Opportunistic))
        .unwrap()
        .send(&email())
        .unwrap();
    assert_eq!(r.tls, None);
    assert_eq!(seen(&rec), (vec![(false, None)], 0));
}
