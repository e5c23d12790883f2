//! STARTTLS, implicit TLS and AUTH over real sockets: every reply path, hostile handshakes,
//! plaintext injection, SNI.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use pki::*;
use smtpkit::Reply;
use smtpkit::sasl::{self, Credentials, Mechanism};
use smtpkit::server::{ErrorAction, Handler, Server, ServerBuilder, SessionError};
use smtpkit::tls::TlsInfo;

/// Records TLS and AUTH events on top of the usual recording.
struct TlsRecorder {
    inner: Recorder,
    tls: Arc<Mutex<Vec<TlsInfo>>>,
}

impl Handler for TlsRecorder {
    fn on_starttls(&mut self, info: &TlsInfo) {
        self.tls.lock().unwrap().push(info.clone());
    }
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        let ok = match c {
            Credentials::XOAuth2 { user, token } => user == "alice" && token == "tok3n",
            _ => c.username() == "alice" && c.check_password("s3cret"),
        };
        if ok { Ok(()) } else { Err(Reply::AUTH_FAILED) }
    }
    fn on_data(
        &mut self,
        env: &smtpkit::server::Envelope,
        data: &mut dyn std::io::Read,
    ) -> Result<Reply, Reply> {
        let r = self.inner.on_data(env, data);
        if let Some(m) = self.inner.rec.lock().unwrap().messages.last_mut() {
            m.from = Some(format!(
                "{} auth={} tls={}",
                m.from.clone().unwrap_or_default(),
                env.auth.clone().unwrap_or_default(),
                env.tls.is_some()
            ));
        }
        r
    }
    fn on_error(&mut self, e: &SessionError) -> ErrorAction {
        self.inner.on_error(e)
    }
    fn on_close(&mut self) {
        self.inner.on_close()
    }
    fn on_connect(&mut self, c: &smtpkit::server::ConnInfo) -> smtpkit::server::Greeting {
        self.inner.on_connect(c)
    }
}

struct Srv {
    handle: smtpkit::server::ServerHandle,
    rec: common::Shared,
    tls: Arc<Mutex<Vec<TlsInfo>>>,
}

fn tls_server(b: ServerBuilder, implicit: bool) -> Srv {
    let rec: common::Shared = Default::default();
    let tls: Arc<Mutex<Vec<TlsInfo>>> = Default::default();
    let (r2, t2) = (Arc::clone(&rec), Arc::clone(&tls));
    let mut server = b
        .hostname("mx.example")
        .tls(server_tls())
        .auth_mechanisms(&Mechanism::ALL)
        .bind("127.0.0.1:0")
        .unwrap();
    if implicit {
        server = server.bind_implicit_tls("127.0.0.1:0").unwrap();
    }
    let handle = server
        .spawn(move |_| TlsRecorder {
            inner: Recorder {
                rec: Arc::clone(&r2),
            },
            tls: Arc::clone(&t2),
        })
        .unwrap();
    Srv { handle, rec, tls }
}

/// EHLO, STARTTLS, handshake; returns the TLS client before its second EHLO.
fn starttls(addr: std::net::SocketAddr) -> TlsClient {
    let mut c = Client::greeted(addr);
    c.cmd("EHLO client.example", "250 ");
    assert_eq!(c.cmd("STARTTLS", "220 "), "220 2.0.0 Ready to start TLS");
    assert!(c.reader.buffer().is_empty());
    TlsClient::handshake(c.stream, "mx.example").expect("handshake")
}

fn ehlo_lines(lines: Vec<String>) -> Vec<String> {
    lines.into_iter().map(|l| l[4..].to_string()).collect()
}

#[test]
fn starttls_then_auth_and_mail() {
    let s = tls_server(Server::builder(), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.line("EHLO client.example");
    let before = ehlo_lines(c.reply());
    assert!(before.contains(&"STARTTLS".to_string()), "{before:?}");
    // AUTH is not offered in plaintext, and refused.
    assert!(!before.iter().any(|l| l.starts_with("AUTH")), "{before:?}");
    assert_eq!(
        c.cmd("AUTH PLAIN", "538 "),
        "538 5.7.11 Encryption required for requested authentication mechanism"
    );
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    drop(c);

    let mut t = starttls(s.handle.local_addr());
    // The session starts over: no EHLO yet.
    t.cmd("MAIL FROM:<a@b.example>", "503 5.5.1");
    t.line("EHLO client.example");
    let after = ehlo_lines(t.reply());
    assert!(!after.contains(&"STARTTLS".to_string()), "{after:?}");
    assert!(
        after.contains(&"AUTH CRAM-MD5 LOGIN PLAIN XOAUTH2".to_string()),
        "{after:?}"
    );
    assert_eq!(
        t.cmd("STARTTLS", "503 "),
        "503 5.5.1 Error: TLS already active"
    );
    let resp = sasl::plain_response("", "alice", "s3cret");
    assert_eq!(
        t.cmd(&format!("AUTH PLAIN {resp}"), "235 "),
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(
        t.cmd("AUTH PLAIN", "503 "),
        "503 5.5.1 Error: already authenticated"
    );
    t.cmd("MAIL FROM:<a@b.example>", "250 ");
    t.cmd("RCPT TO:<c@d.example>", "250 ");
    t.cmd("DATA", "354 ");
    t.send("secret body\r\n.\r\n");
    t.expect("250 ");
    t.cmd("QUIT", "221 ");
    wait_closed(&s.rec, 2);
    let r = s.rec.lock().unwrap();
    assert_eq!(
        r.messages[0].from.as_deref(),
        Some("a@b.example auth=alice tls=true")
    );
    assert_eq!(r.messages[0].body, b"secret body\r\n");
    let tls = s.tls.lock().unwrap();
    assert_eq!(tls.len(), 1);
    assert!(tls[0].version == "TLSv1.3", "{:?}", tls[0]);
    assert_eq!(tls[0].sni.as_deref(), Some("mx.example"));
    assert_eq!(s.handle.stats().tls_handshakes, 1);
}

#[test]
fn starttls_syntax_and_unconfigured() {
    let s = tls_server(Server::builder(), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.cmd("EHLO x.example", "250 ");
    assert_eq!(c.cmd("STARTTLS now", "501 "), "501 5.5.4 Syntax: STARTTLS");
    let (plain, _rec) = default_server();
    let mut c = Client::greeted(plain.local_addr());
    c.line("EHLO x.example");
    assert!(!c.reply().iter().any(|l| l.contains("STARTTLS")));
    c.cmd("STARTTLS", "502 5.5.1");
    c.cmd("AUTH PLAIN", "503 5.5.1");
}

#[test]
fn plaintext_pipelined_after_starttls_never_runs() {
    let s = tls_server(Server::builder(), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.cmd("EHLO x.example", "250 ");
    // CVE-2011-0411: commands injected in the same packet as STARTTLS.
    c.send("STARTTLS\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@d.example>\r\n");
    assert_eq!(c.expect("220 "), "220 2.0.0 Ready to start TLS");
    std::thread::sleep(Duration::from_millis(100));
    let mut t = TlsClient::handshake(c.stream, "mx.example").unwrap();
    t.cmd("EHLO x.example", "250 ");
    // Had the injected MAIL run, this would be 250, and RCPT too.
    t.cmd("RCPT TO:<c@d.example>", "503 5.5.1");
    t.cmd("MAIL FROM:<a@b.example>", "250 ");
    t.cmd("QUIT", "221 ");
}

#[test]
fn garbage_instead_of_client_hello() {
    let s = tls_server(Server::builder(), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("STARTTLS", "220 ");
    c.send("this is not TLS at all\r\n");
    assert!(c.closed());
    wait_closed(&s.rec, 1);
    let e = s.rec.lock().unwrap().errors.clone();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0], "TlsHandshake(NotTls)");
    assert_eq!(s.handle.stats().tls_failures, 1);
    // The server still serves.
    let mut t = starttls(s.handle.local_addr());
    t.cmd("EHLO x.example", "250 ");
}

#[test]
fn tls_record_that_is_not_a_client_hello() {
    let s = tls_server(Server::builder(), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("STARTTLS", "220 ");
    // A well-formed handshake record holding junk: rustls itself refuses it.
    c.send_raw(&[0x16, 0x03, 0x01, 0x00, 0x05, 0xff, 0x00, 0x00, 0x01, 0x00]);
    assert!(c.closed());
    wait_closed(&s.rec, 1);
    let e = s.rec.lock().unwrap().errors.clone();
    assert!(
        e.len() == 1 && e[0].starts_with("TlsHandshake(Tls("),
        "{e:?}"
    );
}

#[test]
fn peer_closes_mid_handshake() {
    let s = tls_server(Server::builder(), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("STARTTLS", "220 ");
    // The first bytes of a TLS record header (handshake, TLS 1.0 record version), then FIN.
    c.send_raw(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(c.closed());
    wait_closed(&s.rec, 1);
    assert_eq!(s.rec.lock().unwrap().errors, ["TlsHandshake(Closed)"]);
}

#[test]
fn handshake_deadline() {
    let s = tls_server(
        Server::builder().tls_handshake_timeout(Duration::from_millis(300)),
        false,
    );
    let mut c = Client::greeted(s.handle.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("STARTTLS", "220 ");
    // Trickle a record header byte by byte: each byte arrives within the time, the whole never does.
    for b in [0x16u8, 0x03, 0x01] {
        let _ = c.stream.write_all(&[b]);
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(c.closed());
    wait_closed(&s.rec, 1);
    assert_eq!(s.rec.lock().unwrap().errors, ["TlsHandshake(TimedOut)"]);
}

#[test]
fn implicit_tls_listener() {
    let s = tls_server(Server::builder(), true);
    let addrs = s.handle.local_addrs().to_vec();
    assert_eq!(addrs.len(), 2);
    let sock = TcpStream::connect(addrs[1]).unwrap();
    let mut t = TlsClient::handshake(sock, "mx.example").unwrap();
    assert_eq!(t.read_line(), "220 mx.example ESMTP");
    t.line("EHLO x.example");
    let ehlo = ehlo_lines(t.reply());
    assert!(!ehlo.contains(&"STARTTLS".to_string()));
    assert!(ehlo.iter().any(|l| l.starts_with("AUTH ")));
    t.cmd("STARTTLS", "503 5.5.1");
    t.cmd("QUIT", "221 ");
    // The first listener still speaks plaintext + STARTTLS.
    let mut p = starttls(addrs[0]);
    p.cmd("EHLO x.example", "250 ");
    p.cmd("QUIT", "221 ");
    wait_closed(&s.rec, 2);
    // A plaintext client on the TLS port gets nothing readable and a closed connection.
    let mut c = Client::connect(addrs[1]);
    c.line("EHLO x.example");
    assert!(c.closed());
    wait_for(&s.rec, "the plaintext session to end", |r| {
        r.errors.iter().any(|e| e == "TlsHandshake(NotTls)")
    });
}

#[test]
fn sni_selects_the_certificate() {
    let p = pki();
    let other =
        smtpkit::tls::Identity::from_pem(p.other.cert.as_bytes(), p.other.key.as_bytes()).unwrap();
    let tls = server_tls().add_sni("other.example", other).unwrap();
    let srv = Server::builder()
        .tls(tls)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| Recorder {
            rec: Default::default(),
        })
        .unwrap();
    for name in ["mx.example", "other.example"] {
        let mut c = Client::greeted(srv.local_addr());
        c.cmd("EHLO x.example", "250 ");
        c.cmd("STARTTLS", "220 ");
        // The client verifies the certificate against `name`: it passes only if the server chose it.
        let mut t = TlsClient::handshake(c.stream, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        t.cmd("EHLO x.example", "250 ");
    }
}

#[test]
fn require_tls() {
    let s = tls_server(Server::builder().require_tls(true), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.script(&[
        ("EHLO x.example", "250 "),
        ("NOOP", "250 "),
        ("RSET", "250 "),
        ("MAIL FROM:<a@b.example>", "530 5.7.0"),
        ("VRFY a", "530 5.7.0"),
        ("AUTH PLAIN", "530 5.7.0"),
    ]);
    c.cmd("STARTTLS", "220 ");
    let mut t = TlsClient::handshake(c.stream, "mx.example").unwrap();
    t.cmd("EHLO x.example", "250 ");
    t.cmd("MAIL FROM:<a@b.example>", "250 ");
}

#[test]
fn auth_mechanisms_and_failures() {
    let s = tls_server(Server::builder(), false);
    let mut t = starttls(s.handle.local_addr());
    t.cmd("EHLO x.example", "250 ");
    // PLAIN with a 334 continuation, wrong password.
    assert_eq!(t.cmd("AUTH PLAIN", "334"), "334 ");
    assert_eq!(
        t.cmd(&sasl::plain_response("", "alice", "wrong"), "535 "),
        "535 5.7.8 Authentication credentials invalid"
    );
    // Cancel, bad base64, unknown mechanism, malformed PLAIN.
    t.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6");
    assert_eq!(t.cmd("*", "501 "), "501 5.7.0 Authentication cancelled");
    assert_eq!(
        t.cmd("AUTH PLAIN !!!notbase64", "501 "),
        "501 5.5.2 Invalid base64 data"
    );
    t.cmd("AUTH GSSAPI", "504 5.5.4");
    t.cmd("AUTH PLAIN YWxpY2U=", "501 5.5.2");
    // Over-long SASL line.
    t.cmd("AUTH PLAIN", "334");
    t.line(&"A".repeat(13000));
    assert_eq!(
        t.expect("500 "),
        "500 5.5.6 Authentication exchange line is too long"
    );
    // LOGIN, then AUTH is done.
    t.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6");
    let u = sasl::login_response("VXNlcm5hbWU6", 0, "alice", "s3cret").unwrap();
    t.cmd(&u, "334 UGFzc3dvcmQ6");
    let p = sasl::login_response("UGFzc3dvcmQ6", 1, "alice", "s3cret").unwrap();
    t.cmd(&p, "235 2.7.0");
    // AUTH is not allowed inside a transaction (a fresh session to check).
    let mut t2 = starttls(s.handle.local_addr());
    t2.cmd("EHLO x.example", "250 ");
    t2.cmd("MAIL FROM:<a@b.example>", "250 ");
    t2.cmd("AUTH PLAIN", "503 5.5.1");
    t2.cmd("RSET", "250 ");
    // CRAM-MD5.
    let challenge = t2.cmd("AUTH CRAM-MD5", "334 ");
    let resp = sasl::cram_md5_response(&challenge[4..], "alice", "s3cret").unwrap();
    t2.cmd(&resp, "235 ");
    let mut t3 = starttls(s.handle.local_addr());
    t3.cmd("EHLO x.example", "250 ");
    t3.cmd(
        &format!("AUTH XOAUTH2 {}", sasl::xoauth2_response("alice", "tok3n")),
        "235 ",
    );
    assert_eq!(s.handle.stats().auth_failures, 5);
}

#[test]
fn failed_auth_counts_toward_error_budget_and_require_auth() {
    let s = tls_server(Server::builder().max_errors(3).require_auth(true), false);
    let mut t = starttls(s.handle.local_addr());
    t.cmd("EHLO x.example", "250 ");
    t.cmd("MAIL FROM:<a@b.example>", "530 5.7.0");
    let bad = sasl::plain_response("", "alice", "nope");
    t.cmd(&format!("AUTH PLAIN {bad}"), "535 ");
    t.cmd(&format!("AUTH PLAIN {bad}"), "535 ");
    assert_eq!(
        t.cmd("NOOP", "421 "),
        "421 4.7.0 Too many errors, closing connection"
    );
}

#[test]
fn insecure_auth_when_allowed() {
    let s = tls_server(Server::builder().allow_insecure_auth(true), false);
    let mut c = Client::greeted(s.handle.local_addr());
    c.line("EHLO x.example");
    assert!(
        c.reply()
            .iter()
            .any(|l| l.contains("AUTH CRAM-MD5 LOGIN PLAIN XOAUTH2"))
    );
    let resp = sasl::plain_response("", "alice", "s3cret");
    c.cmd(&format!("AUTH PLAIN {resp}"), "235 ");
}
