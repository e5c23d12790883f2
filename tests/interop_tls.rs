//! Interop over TLS: real clients (Python smtplib, swaks, openssl s_client, curl) doing
//! STARTTLS, implicit TLS and AUTH against an in-test `Server`, each verifying the server's
//! certificate against the test CA. A test whose tool is missing is skipped, or fails when
//! `CI=true`.

mod common;
use common::pki;
use common::tools::{Output, assert_exit, run, tool};

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::{self};
use std::time::{Duration, Instant};

use smtpkit::Reply;
use smtpkit::sasl::{Credentials, Mechanism};
use smtpkit::server::{
    Envelope, ErrorAction, Handler, Server, ServerBuilder, ServerHandle, SessionError,
};
use smtpkit::tls::TlsInfo;

const TIMEOUT: Duration = Duration::from_secs(30);
const USER: &str = "alice";
const PASS: &str = "s3cret";
/// The EHLO keyword line for `Mechanism::ALL`, in the server's order.
const AUTH_ALL: &str = "AUTH CRAM-MD5 LOGIN PLAIN XOAUTH2";

// ---------------------------------------------------------------------------------------------
// The server

/// A stored message, with what the session knew when it arrived.
#[derive(Debug, Clone)]
struct Msg {
    from: Option<String>,
    to: Vec<String>,
    body: Vec<u8>,
    auth: Option<String>,
    tls: Option<TlsInfo>,
}

impl Msg {
    /// "from -> to auth=USER tls=VERSION sni=NAME", for one `assert_eq!`.
    fn summary(&self) -> String {
        format!(
            "{} -> {} auth={} tls={} sni={}",
            self.from.as_deref().unwrap_or(""),
            self.to.join(","),
            self.auth.as_deref().unwrap_or("-"),
            self.tls.as_ref().map_or("-", |t| t.version.as_str()),
            self.tls
                .as_ref()
                .and_then(|t| t.sni.as_deref())
                .unwrap_or("-"),
        )
    }
}

/// Everything the handlers saw, across sessions.
#[derive(Default)]
struct Seen {
    messages: Vec<Msg>,
    /// (user, mechanism, accepted) for each AUTH that reached the handler.
    auths: Vec<(String, Mechanism, bool)>,
    /// Each completed handshake (STARTTLS or implicit).
    handshakes: Vec<TlsInfo>,
    errors: Vec<String>,
    closes: usize,
}

/// Accepts alice/s3cret with any password mechanism and records everything.
struct AuthCatcher(Arc<Mutex<Seen>>);

impl Handler for AuthCatcher {
    fn on_starttls(&mut self, info: &TlsInfo) {
        self.0.lock().unwrap().handshakes.push(info.clone());
    }
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        let ok = c.username() == USER && c.check_password(PASS);
        self.0
            .lock()
            .unwrap()
            .auths
            .push((c.username().to_string(), c.mechanism(), ok));
        if ok { Ok(()) } else { Err(Reply::AUTH_FAILED) }
    }
    fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let body = smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        self.0.lock().unwrap().messages.push(Msg {
            from: env.from.as_ref().map(|m| m.to_string()),
            to: env
                .recipients
                .iter()
                .map(|r| r.mailbox.to_string())
                .collect(),
            body,
            auth: env.auth.clone(),
            tls: env.tls.clone(),
        });
        Ok(Reply::QUEUED)
    }
    fn on_error(&mut self, e: &SessionError) -> ErrorAction {
        self.0.lock().unwrap().errors.push(format!("{e:?}"));
        ErrorAction::Continue
    }
    fn on_close(&mut self) {
        self.0.lock().unwrap().closes += 1;
    }
}

/// A running server with a STARTTLS listener and an implicit-TLS listener; shut down on drop.
struct Srv {
    handle: ServerHandle,
    seen: Arc<Mutex<Seen>>,
    starttls: SocketAddr,
    implicit: SocketAddr,
}

impl Srv {
    /// `b` plus hostname mx.example, the mx.example certificate and every AUTH mechanism.
    fn start(b: ServerBuilder) -> Srv {
        let seen: Arc<Mutex<Seen>> = Default::default();
        let s2 = Arc::clone(&seen);
        let handle = b
            .hostname("mx.example")
            .tls(pki::server_tls())
            .auth_mechanisms(&Mechanism::ALL)
            .bind("127.0.0.1:0")
            .unwrap()
            .bind_implicit_tls("127.0.0.1:0")
            .unwrap()
            .spawn(move |_| AuthCatcher(Arc::clone(&s2)))
            .unwrap();
        let addrs = handle.local_addrs().to_vec();
        Srv {
            handle,
            seen,
            starttls: addrs[0],
            implicit: addrs[1],
        }
    }

    /// Waits (bounded) until `n` sessions have ended, so that everything is recorded.
    fn wait_closes(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            {
                let s = self.seen.lock().unwrap();
                if s.closes >= n {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {n} sessions to end: closes={} messages={:?} errors={:?}",
                    s.closes,
                    s.messages,
                    s.errors
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn messages(&self) -> Vec<Msg> {
        self.seen.lock().unwrap().messages.clone()
    }

    fn auths(&self) -> Vec<(String, Mechanism, bool)> {
        self.seen.lock().unwrap().auths.clone()
    }

    fn errors(&self) -> Vec<String> {
        self.seen.lock().unwrap().errors.clone()
    }

    fn handshakes(&self) -> Vec<TlsInfo> {
        self.seen.lock().unwrap().handshakes.clone()
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        self.handle.shutdown(Duration::from_secs(2));
    }
}

/// The test CA (and room for message files) in a temporary directory, for the tools.
struct Files {
    dir: pki::TempDir,
    ca: PathBuf,
}

fn files() -> Files {
    let dir = pki::TempDir::new("interop-tls");
    let ca = dir.write("ca.pem", pki::pki().ca.as_bytes());
    Files { dir, ca }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

// ---------------------------------------------------------------------------------------------
// Python smtplib

/// argv: mode (plain | starttls | ssl), port, CA file, how to authenticate (none | login |
/// MECH | MECH/noir: `SMTP.auth` with that mechanism, without the initial response), user,
/// password, message. Verifies the server against the CA and the name "localhost".
const PY_SCRIPT: &str = r#"
import smtplib, ssl, sys
mode, port, cafile, how, user, password, msg = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=cafile)
assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
if mode == "ssl":
    s = smtplib.SMTP_SSL("localhost", int(port), context=ctx, timeout=10)
else:
    s = smtplib.SMTP("localhost", int(port), timeout=10)
def ehlo():
    code, _ = s.ehlo("client.example")
    auth = "AUTH " + s.esmtp_features["auth"].strip() if s.has_extn("auth") else "no-AUTH"
    print("ehlo", code, "STARTTLS" if s.has_extn("starttls") else "no-STARTTLS", auth)
ehlo()
if mode == "starttls":
    print("starttls", s.starttls(context=ctx)[0])
    ehlo()
print("tls", s.sock.version() if isinstance(s.sock, ssl.SSLSocket) else "none")
try:
    if how == "login":
        print("auth", s.login(user, password)[0])
    elif how != "none":
        mech, _, opt = how.partition("/")
        s.user, s.password = user, password
        method = getattr(s, "auth_" + mech.lower().replace("-", "_"))
        print("auth", s.auth(mech, method, initial_response_ok=(opt != "noir"))[0])
except smtplib.SMTPAuthenticationError as e:
    print("auth failed", e.smtp_code, e.smtp_error.decode())
    print("quit", s.quit()[0])
    sys.exit(0)
except smtplib.SMTPNotSupportedError as e:
    print("auth not supported")
try:
    print("sent", s.sendmail("sender@example.org", ["rcpt@example.net"], msg.encode()))
except smtplib.SMTPSenderRefused as e:
    print("refused", e.smtp_code, e.smtp_error.decode())
print("quit", s.quit()[0])
"#;

fn python(py: &Path, f: &Files, mode: &str, port: u16, how: &str, pass: &str, msg: &str) -> Output {
    run(
        Command::new(py).arg("-c").arg(PY_SCRIPT).args([
            mode,
            &port.to_string(),
            s(&f.ca),
            how,
            USER,
            pass,
            msg,
        ]),
        None,
        TIMEOUT,
    )
}

/// What the script prints for a STARTTLS session that authenticates and sends.
fn py_starttls_ok() -> String {
    format!(
        "ehlo 250 STARTTLS no-AUTH\n\
         starttls 220\n\
         ehlo 250 no-STARTTLS {AUTH_ALL}\n\
         tls TLSv1.3\n\
         auth 235\n\
         sent {{}}\n\
         quit 221\n"
    )
}

#[test]
fn python_starttls_login_with_each_mechanism() {
    let Some(py) = tool("python3") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    // (how, the mechanism the server must see). `login` lets smtplib choose: CRAM-MD5 comes
    // first in its preference list (CRAM-MD5, PLAIN, LOGIN).
    let cases = [
        ("login", Mechanism::CramMd5),
        ("CRAM-MD5", Mechanism::CramMd5),
        ("PLAIN", Mechanism::Plain),
        ("PLAIN/noir", Mechanism::Plain),
        ("LOGIN", Mechanism::Login),
        ("LOGIN/noir", Mechanism::Login),
    ];
    for (i, (how, mech)) in cases.iter().enumerate() {
        let msg = format!("Subject: python {how}\r\n\r\nsecret body {i}\r\n");
        let o = python(&py, &f, "starttls", srv.starttls.port(), how, PASS, &msg);
        assert_exit(&o, 0, &format!("smtplib {how}"));
        assert_eq!(o.stdout, py_starttls_ok(), "{how}; stderr:\n{}", o.stderr);
        srv.wait_closes(i + 1);
        let m = srv.messages();
        assert_eq!(m.len(), i + 1, "{how}");
        assert_eq!(
            m[i].summary(),
            "sender@example.org -> rcpt@example.net auth=alice tls=TLSv1.3 sni=localhost",
            "{how}"
        );
        assert_eq!(String::from_utf8_lossy(&m[i].body), msg, "{how}");
        assert_eq!(
            srv.auths().last(),
            Some(&(USER.to_string(), *mech, true)),
            "{how}"
        );
    }
    assert_eq!(srv.auths().len(), cases.len());
    assert_eq!(srv.errors(), Vec::<String>::new());
    assert_eq!(srv.handle.stats().tls_handshakes, cases.len() as u64);
}

#[test]
fn python_wrong_password_is_535() {
    let Some(py) = tool("python3") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    let o = python(
        &py,
        &f,
        "starttls",
        srv.starttls.port(),
        "login",
        "wrong",
        "x",
    );
    assert_exit(&o, 0, "smtplib login with a wrong password");
    assert_eq!(
        o.stdout,
        format!(
            "ehlo 250 STARTTLS no-AUTH\n\
             starttls 220\n\
             ehlo 250 no-STARTTLS {AUTH_ALL}\n\
             tls TLSv1.3\n\
             auth failed 535 5.7.8 Authentication credentials invalid\n\
             quit 221\n"
        ),
        "stderr:\n{}",
        o.stderr
    );
    srv.wait_closes(1);
    // smtplib.login tries every mechanism it knows that the server offers, in its order.
    let user = USER.to_string();
    assert_eq!(
        srv.auths(),
        [
            (user.clone(), Mechanism::CramMd5, false),
            (user.clone(), Mechanism::Plain, false),
            (user, Mechanism::Login, false),
        ]
    );
    assert_eq!(srv.handle.stats().auth_failures, 3);
    assert!(srv.messages().is_empty());

    // One forced mechanism: one failure.
    let o = python(
        &py,
        &f,
        "starttls",
        srv.starttls.port(),
        "PLAIN",
        "wrong",
        "x",
    );
    assert_exit(&o, 0, "smtplib AUTH PLAIN with a wrong password");
    assert!(
        o.stdout
            .contains("auth failed 535 5.7.8 Authentication credentials invalid\n"),
        "{}",
        o.stdout
    );
    srv.wait_closes(2);
    assert_eq!(srv.handle.stats().auth_failures, 4);
}

#[test]
fn python_smtp_ssl_implicit_tls() {
    let Some(py) = tool("python3") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    let msg = "Subject: implicit\r\n\r\nover port-465 style TLS\r\n";
    let o = python(&py, &f, "ssl", srv.implicit.port(), "login", PASS, msg);
    assert_exit(&o, 0, "smtplib SMTP_SSL");
    assert_eq!(
        o.stdout,
        format!(
            "ehlo 250 no-STARTTLS {AUTH_ALL}\n\
             tls TLSv1.3\n\
             auth 235\n\
             sent {{}}\n\
             quit 221\n"
        ),
        "stderr:\n{}",
        o.stderr
    );
    srv.wait_closes(1);
    let m = srv.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].summary(),
        "sender@example.org -> rcpt@example.net auth=alice tls=TLSv1.3 sni=localhost"
    );
    assert_eq!(m[0].body, msg.as_bytes());
    assert_eq!(srv.auths(), [(USER.to_string(), Mechanism::CramMd5, true)]);
}

#[test]
fn python_require_tls_and_auth() {
    let Some(py) = tool("python3") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder().require_tls(true).require_auth(true));
    let port = srv.starttls.port();

    // Plaintext: no AUTH offered, MAIL refused until STARTTLS.
    let o = python(
        &py,
        &f,
        "plain",
        port,
        "login",
        PASS,
        "Subject: p\r\n\r\nx\r\n",
    );
    assert_exit(&o, 0, "smtplib in plaintext");
    assert_eq!(
        o.stdout,
        "ehlo 250 STARTTLS no-AUTH\n\
         tls none\n\
         auth not supported\n\
         refused 530 5.7.0 Must issue a STARTTLS command first\n\
         quit 221\n",
        "stderr:\n{}",
        o.stderr
    );

    // TLS but no AUTH: MAIL refused until AUTH.
    let o = python(
        &py,
        &f,
        "starttls",
        port,
        "none",
        PASS,
        "Subject: t\r\n\r\nx\r\n",
    );
    assert_exit(&o, 0, "smtplib with STARTTLS, without AUTH");
    assert_eq!(
        o.stdout,
        format!(
            "ehlo 250 STARTTLS no-AUTH\n\
             starttls 220\n\
             ehlo 250 no-STARTTLS {AUTH_ALL}\n\
             tls TLSv1.3\n\
             refused 530 5.7.0 Authentication required\n\
             quit 221\n"
        ),
        "stderr:\n{}",
        o.stderr
    );

    // Both: accepted.
    let msg = "Subject: both\r\n\r\nTLS and AUTH\r\n";
    let o = python(&py, &f, "starttls", port, "login", PASS, msg);
    assert_exit(&o, 0, "smtplib with STARTTLS and AUTH");
    assert_eq!(o.stdout, py_starttls_ok(), "stderr:\n{}", o.stderr);

    srv.wait_closes(3);
    let m = srv.messages();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        m[0].summary(),
        "sender@example.org -> rcpt@example.net auth=alice tls=TLSv1.3 sni=localhost"
    );
    assert_eq!(m[0].body, msg.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// swaks

// swaks' documented exit codes (`swaks --help`, EXIT CODES).
const SWAKS_AUTH_ERROR: i32 = 28;
const SWAKS_TLS_ERROR: i32 = 29;

/// The message swaks sent, rebuilt from its transcript: the data lines (` -> ` in plaintext,
/// ` ~> ` over TLS) after the `354` reply up to the lone dot, each ended with CRLF, un-stuffed.
fn swaks_data(transcript: &str) -> Vec<u8> {
    let lines: Vec<&str> = transcript.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("<-  354 ") || l.starts_with("<~  354 "))
        .unwrap_or_else(|| panic!("no 354 in swaks transcript:\n{transcript}"))
        + 1;
    let mut data = Vec::new();
    for l in &lines[start..] {
        let Some(text) = [" -> ", " ~> ", " ->", " ~>"]
            .iter()
            .find_map(|p| l.strip_prefix(p))
        else {
            continue;
        };
        if text == "." {
            return data;
        }
        let text = text
            .strip_prefix('.')
            .filter(|t| t.starts_with('.'))
            .unwrap_or(text);
        data.extend_from_slice(text.as_bytes());
        data.extend_from_slice(b"\r\n");
    }
    panic!("no terminating dot in swaks transcript:\n{transcript}");
}

/// swaks with certificate verification against the test CA (swaks 20201014 checks the chain
/// only, not the name) and SNI mx.example.
fn swaks(bin: &Path, f: &Files, addr: SocketAddr, tls: &str, extra: &[&str]) -> Output {
    run(
        Command::new(bin)
            .args(["--server", &format!("127.0.0.1:{}", addr.port()), tls])
            .args(["--tls-verify", "--tls-ca-path", s(&f.ca)])
            .args(["--tls-sni", "mx.example", "--helo", "client.example"])
            .args(["--from", "a@example.org", "--to", "b@example.net"])
            .args(extra),
        None,
        TIMEOUT,
    )
}

#[test]
fn swaks_starttls_auth_each_mechanism() {
    let Some(bin) = tool("swaks") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    let cases = [
        ("PLAIN", Mechanism::Plain),
        ("LOGIN", Mechanism::Login),
        ("CRAM-MD5", Mechanism::CramMd5),
    ];
    for (i, (name, mech)) in cases.iter().enumerate() {
        let subject = format!("Subject: swaks {name}");
        let o = swaks(
            &bin,
            &f,
            srv.starttls,
            "--tls",
            &[
                "--auth",
                name,
                "--auth-user",
                USER,
                "--auth-password",
                PASS,
                "--header",
                &subject,
                "--body",
                "hello from swaks over TLS",
            ],
        );
        assert_exit(&o, 0, &format!("swaks --tls --auth {name}"));
        for l in [
            "<-  250 STARTTLS",
            "<-  220 2.0.0 Ready to start TLS",
            "=== TLS peer DN=\"/CN=mx.example\"",
            &format!("<~  250 {AUTH_ALL}"),
            &format!(" ~> AUTH {name}"),
            "<~  235 2.7.0 Authentication successful",
            "<~  221 2.0.0 Bye",
        ] {
            assert!(
                o.stdout.lines().any(|t| t.starts_with(l)),
                "{name}: {l:?} not in:\n{}",
                o.stdout
            );
        }
        let sent = swaks_data(&o.stdout);
        srv.wait_closes(i + 1);
        let m = srv.messages();
        assert_eq!(m.len(), i + 1);
        assert_eq!(
            m[i].summary(),
            "a@example.org -> b@example.net auth=alice tls=TLSv1.3 sni=mx.example",
            "{name}"
        );
        assert_eq!(
            String::from_utf8_lossy(&m[i].body),
            String::from_utf8_lossy(&sent),
            "{name}: stored message differs from swaks' transcript"
        );
        assert!(
            String::from_utf8_lossy(&m[i].body).contains(&format!("\r\n{subject}\r\n")),
            "{name}"
        );
        assert_eq!(
            srv.auths().last(),
            Some(&(USER.to_string(), *mech, true)),
            "{name}"
        );
    }
    assert_eq!(srv.errors(), Vec::<String>::new());
}

#[test]
fn swaks_tls_on_connect() {
    let Some(bin) = tool("swaks") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    let o = swaks(
        &bin,
        &f,
        srv.implicit,
        "--tls-on-connect",
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            USER,
            "--auth-password",
            PASS,
            "--body",
            "implicit",
        ],
    );
    assert_exit(&o, 0, "swaks --tls-on-connect");
    let lines: Vec<&str> = o.stdout.lines().collect();
    // The handshake comes before the greeting, and STARTTLS is not offered.
    let tls = lines
        .iter()
        .position(|l| l.starts_with("=== TLS started with cipher TLSv1.3"))
        .unwrap_or_else(|| panic!("no TLS start in:\n{}", o.stdout));
    let greeting = lines
        .iter()
        .position(|l| *l == "<~  220 mx.example ESMTP")
        .unwrap_or_else(|| panic!("no TLS greeting in:\n{}", o.stdout));
    assert!(tls < greeting, "{}", o.stdout);
    assert!(!o.stdout.contains("STARTTLS"), "{}", o.stdout);
    let sent = swaks_data(&o.stdout);
    srv.wait_closes(1);
    let m = srv.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].summary(),
        "a@example.org -> b@example.net auth=alice tls=TLSv1.3 sni=mx.example"
    );
    assert_eq!(m[0].body, sent);
}

#[test]
fn swaks_failures_exit_codes() {
    let Some(bin) = tool("swaks") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    // A wrong password: the AUTH error code, nothing stored.
    for (listener, mode) in [(srv.starttls, "--tls"), (srv.implicit, "--tls-on-connect")] {
        let o = swaks(
            &bin,
            &f,
            listener,
            mode,
            &[
                "--auth",
                "PLAIN",
                "--auth-user",
                USER,
                "--auth-password",
                "wrong",
            ],
        );
        assert_exit(
            &o,
            SWAKS_AUTH_ERROR,
            &format!("swaks {mode}, wrong password"),
        );
        assert!(
            o.stdout
                .lines()
                .any(|l| l == "<~* 535 5.7.8 Authentication credentials invalid"),
            "{}",
            o.stdout
        );
    }
    srv.wait_closes(2);
    assert_eq!(
        srv.auths(),
        [
            (USER.to_string(), Mechanism::Plain, false),
            (USER.to_string(), Mechanism::Plain, false)
        ]
    );

    // Verification on, without the test CA: the chain does not verify, the TLS error code;
    // the server sees the handshake fail.
    let o = run(
        Command::new(&bin).args([
            "--server",
            &format!("127.0.0.1:{}", srv.starttls.port()),
            "--tls",
            "--tls-verify",
            "--from",
            "a@example.org",
            "--to",
            "b@example.net",
        ]),
        None,
        TIMEOUT,
    );
    assert_exit(&o, SWAKS_TLS_ERROR, "swaks --tls-verify without the CA");
    assert!(
        format!("{}{}", o.stdout, o.stderr).contains("certificate verify failed"),
        "stdout:\n{}\nstderr:\n{}",
        o.stdout,
        o.stderr
    );
    srv.wait_closes(3);
    let e = srv.errors();
    // OpenSSL's client aborts with an unknown_ca alert.
    let tls: Vec<&String> = e
        .iter()
        .filter(|e| e.starts_with("TlsHandshake("))
        .collect();
    assert_eq!(
        tls,
        ["TlsHandshake(Tls(AlertReceived(UnknownCA)))"],
        "{e:?}"
    );
    assert!(srv.messages().is_empty());
}

// ---------------------------------------------------------------------------------------------
// openssl s_client

/// `openssl s_client -starttls smtp`, verifying the chain against the test CA and the name
/// mx.example (also sent as SNI); stdin sends EHLO then QUIT (-ign_eof: it waits for the
/// server to close after the 221).
fn s_client(bin: &Path, f: &Files, addr: SocketAddr, extra: &[&str]) -> Output {
    run(
        Command::new(bin)
            .args(["s_client", "-starttls", "smtp", "-connect"])
            .arg(addr.to_string())
            .args(["-CAfile", s(&f.ca), "-verify_return_error"])
            .args([
                "-verify_hostname",
                "mx.example",
                "-servername",
                "mx.example",
            ])
            .args(["-brief", "-ign_eof"])
            .args(extra),
        Some(b"EHLO client.example\r\nQUIT\r\n"),
        TIMEOUT,
    )
}

/// Checks a successful s_client run: verified, the version, and the post-TLS EHLO reply.
fn assert_s_client_ok(o: &Output, version: &str, what: &str) {
    assert_exit(o, 0, what);
    for l in ["CONNECTION ESTABLISHED", "Verification: OK"] {
        assert!(
            o.stderr.lines().any(|t| t == l),
            "{what}: {l:?} not in stderr:\n{}",
            o.stderr
        );
    }
    let proto = format!("Protocol version: {version}");
    assert!(
        o.stderr.lines().any(|t| t == proto),
        "{what}: {proto:?} not in stderr:\n{}",
        o.stderr
    );
    // stdout holds what came over TLS: the EHLO reply and the 221.
    let lines: Vec<&str> = o.stdout.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(lines.first(), Some(&"250-mx.example"), "{what}: {lines:?}");
    assert_eq!(lines.last(), Some(&"221 2.0.0 Bye"), "{what}: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("250") && l.get(4..) == Some(AUTH_ALL)),
        "{what}: no AUTH in {lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("STARTTLS")),
        "{what}: STARTTLS offered again in {lines:?}"
    );
}

#[test]
fn openssl_s_client_starttls_versions() {
    let Some(bin) = tool("openssl") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    // (s_client flags, the version negotiated), each also seen by the server with its SNI.
    let runs: [(&[&str], &str); 3] = [
        (&[], "TLSv1.3"),
        (&["-tls1_2"], "TLSv1.2"),
        (&["-tls1_3"], "TLSv1.3"),
    ];
    for (flags, version) in runs {
        let o = s_client(&bin, &f, srv.starttls, flags);
        let what = format!("s_client {}", flags.join(" "));
        assert_s_client_ok(&o, version, what.trim_end());
    }
    srv.wait_closes(runs.len());
    let versions: Vec<(String, Option<String>)> = srv
        .handshakes()
        .into_iter()
        .map(|t| (t.version, t.sni))
        .collect();
    let want: Vec<(String, Option<String>)> = runs
        .iter()
        .map(|(_, v)| (v.to_string(), Some("mx.example".to_string())))
        .collect();
    assert_eq!(versions, want);
    assert_eq!(srv.errors(), Vec::<String>::new());

    // The name is checked: the certificate is not valid for other.example.
    let o = run(
        Command::new(&bin)
            .args(["s_client", "-starttls", "smtp", "-connect"])
            .arg(srv.starttls.to_string())
            .args(["-CAfile", s(&f.ca), "-verify_return_error"])
            .args(["-verify_hostname", "other.example", "-brief"]),
        Some(b"QUIT\r\n"),
        TIMEOUT,
    );
    assert_exit(&o, 1, "s_client -verify_hostname other.example");
    assert!(
        o.stderr.contains("verify error") || o.stderr.contains("certificate verify failed"),
        "{}",
        o.stderr
    );
}

#[test]
fn openssl_s_client_tls1_1_is_refused() {
    let Some(bin) = tool("openssl") else {
        return;
    };
    let f = files();
    let srv = Srv::start(Server::builder());
    // SECLEVEL=0 so that OpenSSL really offers TLS 1.1 (rather than failing locally).
    let o = s_client(
        &bin,
        &f,
        srv.starttls,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    assert_exit(&o, 1, "s_client -tls1_1");
    assert!(!o.stderr.contains("CONNECTION ESTABLISHED"), "{}", o.stderr);
    // rustls answers a TLS 1.1 ClientHello with a handshake_failure alert (40).
    assert!(
        o.stderr.contains("alert handshake failure") || o.stderr.contains("alert number 40"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    srv.wait_closes(1);
    // The server saw it as a TLS error (a ClientHello it refused), not a closed connection.
    let e = srv.errors();
    assert_eq!(e.len(), 1, "{e:?}");
    // rustls: a TLS 1.1 ClientHello has no signature_algorithms extension.
    assert!(
        e[0].starts_with("TlsHandshake(Tls(PeerIncompatible(")
            || e[0].starts_with("TlsHandshake(Tls(PeerMisbehaved("),
        "{e:?}"
    );
    let stats = srv.handle.stats();
    assert_eq!((stats.tls_failures, stats.tls_handshakes), (1, 0));

    // And it still serves the next client.
    let o = s_client(&bin, &f, srv.starttls, &[]);
    assert_s_client_ok(&o, "TLSv1.3", "s_client after the TLS 1.1 attempt");
    srv.wait_closes(2);
    assert_eq!(srv.handle.stats().tls_handshakes, 1);
    assert_eq!(srv.errors().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// curl

/// CURLE_PEER_FAILED_VERIFICATION
const CURL_VERIFY_FAILED: i32 = 60;
/// CURLE_LOGIN_DENIED
const CURL_LOGIN_DENIED: i32 = 67;

/// curl to `scheme://mx.example:PORT` (resolved to 127.0.0.1), verifying against the test CA
/// unless `extra` says otherwise.
fn curl(bin: &Path, scheme: &str, addr: SocketAddr, file: &Path, extra: &[&str]) -> Output {
    let port = addr.port();
    run(
        Command::new(bin)
            .args(["-sS", "-v"])
            .arg("--resolve")
            .arg(format!("mx.example:{port}:127.0.0.1"))
            .arg("--url")
            .arg(format!("{scheme}://mx.example:{port}"))
            .args([
                "--mail-from",
                "a@example.org",
                "--mail-rcpt",
                "b@example.net",
            ])
            .arg("--upload-file")
            .arg(file)
            .args(extra),
        None,
        TIMEOUT,
    )
}

const CURL_MSG: &str =
    "From: a@example.org\r\nTo: b@example.net\r\nSubject: curl\r\n\r\nover TLS\r\n";

#[test]
fn curl_starttls_and_smtps_with_auth() {
    let Some(bin) = tool("curl") else {
        return;
    };
    let f = files();
    let file = f.dir.write("msg.eml", CURL_MSG.as_bytes());
    let srv = Srv::start(Server::builder());
    let ca = s(&f.ca);
    let user = format!("{USER}:{PASS}");
    // (scheme, listener, extra flags, the mechanism the server must see).
    let cases: [(&str, SocketAddr, Vec<&str>, Mechanism); 3] = [
        // curl picks CRAM-MD5 when offered.
        (
            "smtp",
            srv.starttls,
            vec!["--ssl-reqd", "--cacert", ca, "--user", &user],
            Mechanism::CramMd5,
        ),
        (
            "smtp",
            srv.starttls,
            vec![
                "--ssl-reqd",
                "--cacert",
                ca,
                "--user",
                &user,
                "--login-options",
                "AUTH=LOGIN",
            ],
            Mechanism::Login,
        ),
        (
            "smtps",
            srv.implicit,
            vec![
                "--cacert",
                ca,
                "--user",
                &user,
                "--login-options",
                "AUTH=PLAIN",
            ],
            Mechanism::Plain,
        ),
    ];
    for (i, (scheme, addr, extra, mech)) in cases.iter().enumerate() {
        let what = format!("curl {scheme} {extra:?}");
        let o = curl(&bin, scheme, *addr, &file, extra);
        assert_exit(&o, 0, &what);
        for l in [
            "SSL certificate verify ok.",
            "< 235 2.7.0 Authentication successful",
            "< 250 2.0.0 OK: queued",
        ] {
            assert!(o.stderr.contains(l), "{what}: {l:?} not in:\n{}", o.stderr);
        }
        assert_eq!(
            o.stderr.contains("> STARTTLS"),
            *scheme == "smtp",
            "{what}:\n{}",
            o.stderr
        );
        srv.wait_closes(i + 1);
        let m = srv.messages();
        assert_eq!(m.len(), i + 1, "{what}");
        assert_eq!(
            m[i].summary(),
            "a@example.org -> b@example.net auth=alice tls=TLSv1.3 sni=mx.example",
            "{what}"
        );
        assert_eq!(String::from_utf8_lossy(&m[i].body), CURL_MSG, "{what}");
        assert_eq!(
            srv.auths().last(),
            Some(&(USER.to_string(), *mech, true)),
            "{what}"
        );
    }
    assert_eq!(srv.errors(), Vec::<String>::new());
}

#[test]
fn curl_failures_exit_codes() {
    let Some(bin) = tool("curl") else {
        return;
    };
    let f = files();
    let file = f.dir.write("msg.eml", CURL_MSG.as_bytes());
    let srv = Srv::start(Server::builder());
    let ca = s(&f.ca);
    let wrong = format!("{USER}:wrong");
    let o = curl(
        &bin,
        "smtp",
        srv.starttls,
        &file,
        &["--ssl-reqd", "--cacert", ca, "--user", &wrong],
    );
    assert_exit(&o, CURL_LOGIN_DENIED, "curl with a wrong password");
    assert!(
        o.stderr
            .contains("< 535 5.7.8 Authentication credentials invalid"),
        "{}",
        o.stderr
    );
    let o = curl(
        &bin,
        "smtps",
        srv.implicit,
        &file,
        &["--cacert", ca, "--user", &wrong],
    );
    assert_exit(&o, CURL_LOGIN_DENIED, "curl smtps with a wrong password");
    srv.wait_closes(2);
    assert_eq!(
        srv.auths(),
        [
            (USER.to_string(), Mechanism::CramMd5, false),
            (USER.to_string(), Mechanism::CramMd5, false)
        ]
    );

    // Without the test CA the certificate does not verify (curl's default CA store).
    let user = format!("{USER}:{PASS}");
    let o = curl(
        &bin,
        "smtp",
        srv.starttls,
        &file,
        &["--ssl-reqd", "--user", &user],
    );
    assert_exit(&o, CURL_VERIFY_FAILED, "curl without --cacert");
    srv.wait_closes(3);
    assert!(srv.messages().is_empty());
    let e = srv.errors();
    let tls: Vec<&String> = e
        .iter()
        .filter(|e| e.starts_with("TlsHandshake("))
        .collect();
    assert_eq!(
        tls,
        ["TlsHandshake(Tls(AlertReceived(UnknownCA)))"],
        "{e:?}"
    );
}
