//! The `smtp_server` example with its TLS and AUTH flags, as users run it: a child process
//! with a Maildir and the test PKI's certificate files, driven by Python smtplib (verifying
//! the certificate against the test CA) and by scripted sockets.

mod common;
use common::pki;
use common::tools::{example, tool, wait_bounded};

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::Client;
use pki::{TempDir, TlsClient};
use smtpkit::sasl;

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// The test CA, the mx.example certificate and key, and other.example's key, as files.
struct Pem {
    dir: TempDir,
    ca: String,
    cert: String,
    key: String,
    other_key: String,
}

fn pem_files() -> Pem {
    let p = pki::pki();
    let dir = TempDir::new("example-tls");
    let path = |name: &str, text: &str| {
        dir.write(name, text.as_bytes())
            .to_str()
            .expect("UTF-8 temp path")
            .to_string()
    };
    let (ca, cert, key) = (
        path("ca.pem", &p.ca),
        path("cert.pem", &p.mx.cert),
        path("key.pem", &p.mx.key),
    );
    let other_key = path("other-key.pem", &p.other.key);
    Pem {
        dir,
        ca,
        cert,
        key,
        other_key,
    }
}

impl Pem {
    /// `--tls-cert CERT --tls-key KEY` for mx.example.
    fn tls_args(&self) -> [&str; 4] {
        ["--tls-cert", &self.cert, "--tls-key", &self.key]
    }
}

/// A running `smtp_server` with its Maildir inside `Pem`'s directory; killed on drop.
struct Mta {
    child: Child,
    addr: SocketAddr,
    implicit: Option<SocketAddr>,
    maildir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Mta {
    /// Starts the example on 127.0.0.1:0 as mx.example with `args`, and waits for its
    /// "listening" line(s) to learn the port(s): with `--implicit-tls`, a second line
    /// "smtp_server listening on ADDR (implicit TLS)" gives that listener's address.
    fn start(pem: &Pem, args: &[&str]) -> Mta {
        let maildir = pem.dir.0.join("maildir");
        let mut child = Command::new(example("smtp_server"))
            .args(["--listen", "127.0.0.1:0", "--hostname", "mx.example"])
            .arg("--maildir")
            .arg(&maildir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start smtp_server");
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Default::default();
        let (tx, rx) = mpsc::channel();
        let log2 = Arc::clone(&log);
        // Drains stderr for the child's whole life, so it never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("smtp_server listening on ").nth(1) {
                    let addr = rest.split([',', ' ']).next().unwrap_or("").to_string();
                    let _ = tx.send((addr, rest.ends_with("(implicit TLS)")));
                }
                log2.lock().unwrap().push(line);
            }
        });
        let mut mta = Mta {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            implicit: None,
            maildir,
            log,
        };
        let lines = if args.contains(&"--implicit-tls") {
            2
        } else {
            1
        };
        for _ in 0..lines {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok((a, implicit)) => {
                    let a = a
                        .parse()
                        .unwrap_or_else(|_| panic!("bad address {a:?} in {:?}", mta.log()));
                    if implicit {
                        mta.implicit = Some(a);
                    } else {
                        mta.addr = a;
                    }
                }
                Err(e) => panic!(
                    "no 'listening on' line from smtp_server ({e}): {:?}",
                    mta.log()
                ),
            }
        }
        assert_ne!(
            mta.addr.port(),
            0,
            "no plain listener line: {:?}",
            mta.log()
        );
        mta
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The file names in a Maildir subdirectory, sorted.
    fn files(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.maildir.join(sub))
            .unwrap_or_else(|e| panic!("{sub}/: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn read(&self, name: &str) -> String {
        let bytes = std::fs::read(self.maildir.join("new").join(name)).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn assert_running(&mut self) {
        if let Some(s) = self.child.try_wait().unwrap() {
            panic!("smtp_server exited ({s}); log {:?}", self.log());
        }
    }
}

impl Drop for Mta {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the example with `args` (plus a listener and a Maildir) expecting it to exit by
/// itself; returns its status, stderr and how long it ran.
fn run_to_exit(pem: &Pem, args: &[&str]) -> (ExitStatus, String, Duration) {
    // Found (or built) before the clock starts.
    let bin = example("smtp_server");
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--maildir"])
        .arg(pem.dir.0.join("maildir"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start smtp_server");
    let err = drain(child.stderr.take().unwrap());
    let status = wait_bounded(
        child,
        Duration::from_secs(20),
        &format!("smtp_server {args:?} (expected to exit)"),
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    (status, stderr, took)
}

const QUEUED: &str = "250 2.0.0 OK: queued as ";

/// The EHLO keywords (the text after "250-" / "250 ").
fn keywords(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| l[4..].to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Python smtplib

/// argv: mode (starttls | ssl), port, CA file, user, password, sender, message. Verifies the
/// server against the CA and the name "localhost"; logs in (smtplib's choice of mechanism),
/// then MAIL/RCPT/DATA, printing each reply code (DATA's text names the stored file).
const PY_SCRIPT: &str = r#"
import smtplib, ssl, sys
mode, port, cafile, user, password, sender, msg = sys.argv[1:8]
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
print("tls", s.sock.version())
try:
    print("login", s.login(user, password)[0])
except smtplib.SMTPAuthenticationError as e:
    print("login failed", e.smtp_code, e.smtp_error.decode())
    print("quit", s.quit()[0])
    sys.exit(0)
print("mail", s.mail(sender)[0])
print("rcpt", s.rcpt("rcpt@example.net")[0])
code, text = s.data(msg.encode())
print("data", code, text.decode())
print("quit", s.quit()[0])
"#;

/// What a run printed, split at the DATA reply: (all lines, the stored file's name).
struct PyRun {
    lines: Vec<String>,
    stored: Option<String>,
}

fn python(py: &Path, pem: &Pem, mode: &str, port: u16, user: &str, pass: &str, msg: &str) -> PyRun {
    let desc = format!("python smtplib {mode} as {user}");
    let mut child = Command::new(py)
        .arg("-c")
        .arg(PY_SCRIPT)
        .args([
            mode,
            &port.to_string(),
            &pem.ca,
            user,
            pass,
            &format!("{user}@example.org"),
            msg,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start python3");
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let status = wait_bounded(child, Duration::from_secs(30), &desc);
    let stdout = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    assert_eq!(
        status.code(),
        Some(0),
        "{desc}: {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    let stored = lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("data {QUEUED}")))
        .map(str::to_string);
    PyRun { lines, stored }
}

const EXAMPLE_AUTH: &str = "AUTH PLAIN LOGIN CRAM-MD5";

#[test]
fn starttls_and_auth_for_two_users() {
    let Some(py) = tool("python3") else {
        return;
    };
    let pem = pem_files();
    let tls = pem.tls_args();
    // bob's password holds a colon: only the first one separates user and password.
    let mut mta = Mta::start(
        &pem,
        &[
            &tls[..],
            &["--auth", "alice:s3cret", "--auth", "bob:c0l:on"],
        ]
        .concat(),
    );
    let port = mta.addr.port();
    let mut stored = Vec::new();
    for (user, pass) in [("alice", "s3cret"), ("bob", "c0l:on")] {
        let msg = format!("Subject: from {user}\r\n\r\n..dot-stuffed by smtplib\r\nbye\r\n");
        let r = python(&py, &pem, "starttls", port, user, pass, &msg);
        let name = r
            .stored
            .clone()
            .unwrap_or_else(|| panic!("{user}: no queued reply in {:?}", r.lines));
        assert_eq!(
            r.lines,
            [
                "ehlo 250 STARTTLS no-AUTH".to_string(),
                "starttls 220".into(),
                format!("ehlo 250 no-STARTTLS {EXAMPLE_AUTH}"),
                "tls TLSv1.3".into(),
                "login 235".into(),
                "mail 250".into(),
                "rcpt 250".into(),
                format!("data {QUEUED}{name}"),
                "quit 221".into(),
            ],
            "{user}"
        );
        // In new/ as soon as the 250 came back, exactly as sent, behind the example's headers.
        assert!(mta.files("new").contains(&name), "{user}: {name}");
        assert_eq!(
            mta.read(&name),
            format!(
                "Return-Path: <{user}@example.org>\r\nX-Original-To: <rcpt@example.net>\r\n{msg}"
            ),
            "{user}"
        );
        stored.push(name);
    }
    stored.sort();
    assert_eq!(mta.files("new"), stored);
    assert_eq!(mta.files("tmp"), Vec::<String>::new());

    // A wrong password, and one user's password for the other: 535, nothing stored.
    for (user, pass) in [("alice", "wrong"), ("alice", "c0l:on"), ("bob", "s3cret")] {
        let r = python(&py, &pem, "starttls", port, user, pass, "x");
        assert_eq!(
            r.lines[4..],
            [
                "login failed 535 5.7.8 Authentication credentials invalid",
                "quit 221"
            ],
            "{user}/{pass}: {:?}",
            r.lines
        );
    }
    assert_eq!(mta.files("new"), stored);
    mta.assert_running();
}

#[test]
fn implicit_tls_listener() {
    let Some(py) = tool("python3") else {
        return;
    };
    let pem = pem_files();
    let tls = pem.tls_args();
    let mut mta = Mta::start(
        &pem,
        &[
            &tls[..],
            &["--implicit-tls", "127.0.0.1:0", "--auth", "alice:s3cret"],
        ]
        .concat(),
    );
    let implicit = mta.implicit.expect("implicit TLS listener");
    assert_ne!(implicit, mta.addr);
    let msg = "Subject: implicit\r\n\r\nport 465 style\r\n";
    let r = python(&py, &pem, "ssl", implicit.port(), "alice", "s3cret", msg);
    let name = r
        .stored
        .clone()
        .unwrap_or_else(|| panic!("no queued reply in {:?}", r.lines));
    assert_eq!(
        r.lines,
        [
            format!("ehlo 250 no-STARTTLS {EXAMPLE_AUTH}"),
            "tls TLSv1.3".into(),
            "login 235".into(),
            "mail 250".into(),
            "rcpt 250".into(),
            format!("data {QUEUED}{name}"),
            "quit 221".into(),
        ]
    );
    assert_eq!(mta.files("new"), [name.as_str()]);
    assert_eq!(
        mta.read(&name),
        format!("Return-Path: <alice@example.org>\r\nX-Original-To: <rcpt@example.net>\r\n{msg}")
    );

    // A plaintext client on the implicit-TLS port gets no greeting; the other port still
    // speaks plaintext with STARTTLS.
    let mut c = Client::connect(implicit);
    c.line("EHLO client.example");
    assert!(c.closed());
    let mut c = Client::greeted(mta.addr);
    c.line("EHLO client.example");
    assert!(keywords(&c.reply()).contains(&"STARTTLS".to_string()));
    c.cmd("QUIT", "221 ");
    mta.assert_running();
}

// ---------------------------------------------------------------------------------------------
// Scripted sessions

/// STARTTLS on `c` (after its EHLO), then a handshake verifying mx.example against the CA.
fn starttls(mut c: Client) -> TlsClient {
    assert_eq!(c.cmd("STARTTLS", "220 "), "220 2.0.0 Ready to start TLS");
    assert!(c.reader.buffer().is_empty());
    TlsClient::handshake(c.stream, "mx.example").expect("TLS handshake")
}

/// MAIL, RCPT, DATA with `body` over TLS; returns the stored file's name.
fn send_over_tls(t: &mut TlsClient, from: &str, body: &str) -> String {
    t.cmd(&format!("MAIL FROM:<{from}>"), "250 ");
    t.cmd("RCPT TO:<rcpt@example.net>", "250 ");
    t.cmd("DATA", "354 ");
    t.send(body);
    t.send(".\r\n");
    t.expect(QUEUED)[QUEUED.len()..].to_string()
}

#[test]
fn require_tls() {
    let pem = pem_files();
    let tls = pem.tls_args();
    let mut mta = Mta::start(&pem, &[&tls[..], &["--require-tls"]].concat());
    let mut c = Client::greeted(mta.addr);
    c.line("EHLO client.example");
    let ehlo = keywords(&c.reply());
    assert!(ehlo.contains(&"STARTTLS".to_string()), "{ehlo:?}");
    // No --auth: no AUTH, before or after TLS.
    assert!(!ehlo.iter().any(|k| k.starts_with("AUTH")), "{ehlo:?}");
    let need_tls = "530 5.7.0 Must issue a STARTTLS command first";
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>", "530 "), need_tls);
    assert_eq!(c.cmd("RCPT TO:<rcpt@example.net>", "530 "), need_tls);
    assert_eq!(c.cmd("DATA", "530 "), need_tls);
    c.cmd("NOOP", "250 ");
    let mut t = starttls(c);
    t.line("EHLO client.example");
    let ehlo = keywords(&t.reply());
    assert!(!ehlo.contains(&"STARTTLS".to_string()), "{ehlo:?}");
    assert!(!ehlo.iter().any(|k| k.starts_with("AUTH")), "{ehlo:?}");
    let body = "Subject: tls\r\n\r\nafter STARTTLS\r\n";
    let name = send_over_tls(&mut t, "a@example.org", body);
    t.cmd("QUIT", "221 ");
    assert_eq!(mta.files("new"), [name.as_str()]);
    assert_eq!(
        mta.read(&name),
        format!("Return-Path: <a@example.org>\r\nX-Original-To: <rcpt@example.net>\r\n{body}")
    );
    mta.assert_running();
}

#[test]
fn require_auth_over_tls() {
    let pem = pem_files();
    let tls = pem.tls_args();
    let mut mta = Mta::start(
        &pem,
        &[&tls[..], &["--auth", "alice:s3cret", "--require-auth"]].concat(),
    );
    let plain = sasl::plain_response("", "alice", "s3cret");
    let mut c = Client::greeted(mta.addr);
    c.line("EHLO client.example");
    let ehlo = keywords(&c.reply());
    // Without --allow-insecure-auth, AUTH waits for TLS, and is refused in plaintext.
    assert!(ehlo.contains(&"STARTTLS".to_string()), "{ehlo:?}");
    assert!(!ehlo.iter().any(|k| k.starts_with("AUTH")), "{ehlo:?}");
    let need_auth = "530 5.7.0 Authentication required";
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>", "530 "), need_auth);
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {plain}"), "538 "),
        "538 5.7.11 Encryption required for requested authentication mechanism"
    );
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>", "530 "), need_auth);
    let mut t = starttls(c);
    t.line("EHLO client.example");
    let ehlo = keywords(&t.reply());
    assert!(ehlo.contains(&EXAMPLE_AUTH.to_string()), "{ehlo:?}");
    assert_eq!(t.cmd("MAIL FROM:<a@example.org>", "530 "), need_auth);
    let wrong = sasl::plain_response("", "alice", "wrong");
    assert_eq!(
        t.cmd(&format!("AUTH PLAIN {wrong}"), "535 "),
        "535 5.7.8 Authentication credentials invalid"
    );
    assert_eq!(t.cmd("MAIL FROM:<a@example.org>", "530 "), need_auth);
    assert_eq!(
        t.cmd(&format!("AUTH PLAIN {plain}"), "235 "),
        "235 2.7.0 Authentication successful"
    );
    let body = "Subject: auth\r\n\r\nauthenticated\r\n";
    let name = send_over_tls(&mut t, "a@example.org", body);
    t.cmd("QUIT", "221 ");
    assert_eq!(mta.files("new"), [name.as_str()]);
    assert_eq!(
        mta.read(&name),
        format!("Return-Path: <a@example.org>\r\nX-Original-To: <rcpt@example.net>\r\n{body}")
    );
    mta.assert_running();
}

#[test]
fn allow_insecure_auth() {
    let pem = pem_files();
    // Without any TLS: AUTH offered and usable in plaintext.
    let mut mta = Mta::start(
        &pem,
        &[
            "--auth",
            "alice:s3cret",
            "--require-auth",
            "--allow-insecure-auth",
        ],
    );
    let mut c = Client::greeted(mta.addr);
    c.line("EHLO client.example");
    let ehlo = keywords(&c.reply());
    assert!(ehlo.contains(&EXAMPLE_AUTH.to_string()), "{ehlo:?}");
    assert!(!ehlo.contains(&"STARTTLS".to_string()), "{ehlo:?}");
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org>", "530 "),
        "530 5.7.0 Authentication required"
    );
    let plain = sasl::plain_response("", "alice", "s3cret");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {plain}"), "235 "),
        "235 2.7.0 Authentication successful"
    );
    let body = "Subject: insecure\r\n\r\nno TLS\r\n";
    c.cmd("MAIL FROM:<a@example.org>", "250 ");
    c.cmd("RCPT TO:<rcpt@example.net>", "250 ");
    c.cmd("DATA", "354 ");
    c.send(body);
    c.send(".\r\n");
    let name = c.expect(QUEUED)[QUEUED.len()..].to_string();
    c.cmd("QUIT", "221 ");
    assert_eq!(mta.files("new"), [name.as_str()]);
    assert_eq!(
        mta.read(&name),
        format!("Return-Path: <a@example.org>\r\nX-Original-To: <rcpt@example.net>\r\n{body}")
    );
    mta.assert_running();
    drop(mta);

    // With TLS configured too: AUTH and STARTTLS both offered before TLS; LOGIN in plaintext.
    let tls = pem.tls_args();
    let mta = Mta::start(
        &pem,
        &[
            &tls[..],
            &["--auth", "alice:s3cret", "--allow-insecure-auth"],
        ]
        .concat(),
    );
    let mut c = Client::greeted(mta.addr);
    c.line("EHLO client.example");
    let ehlo = keywords(&c.reply());
    assert!(ehlo.contains(&EXAMPLE_AUTH.to_string()), "{ehlo:?}");
    assert!(ehlo.contains(&"STARTTLS".to_string()), "{ehlo:?}");
    c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6");
    c.cmd(
        &sasl::login_response("VXNlcm5hbWU6", 0, "alice", "s3cret").unwrap(),
        "334 UGFzc3dvcmQ6",
    );
    assert_eq!(
        c.cmd(
            &sasl::login_response("UGFzc3dvcmQ6", 1, "alice", "s3cret").unwrap(),
            "235 "
        ),
        "235 2.7.0 Authentication successful"
    );
    c.cmd("QUIT", "221 ");
}

// ---------------------------------------------------------------------------------------------
// Bad startup

#[test]
fn bad_certificate_files_fail_at_startup() {
    let pem = pem_files();
    let missing = pem.dir.0.join("missing.pem");
    let missing = missing.to_str().unwrap();

    // A missing certificate file, then a missing key file: named on stderr.
    for args in [
        ["--tls-cert", missing, "--tls-key", &pem.key],
        ["--tls-cert", &pem.cert, "--tls-key", missing],
    ] {
        let (status, stderr, took) = run_to_exit(&pem, &args);
        assert_eq!(status.code(), Some(2), "{args:?}: {status}\n{stderr}");
        assert!(
            stderr.contains(&format!("smtp_server: cannot read {missing}: ")),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("listening on"), "{stderr}");
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
    }

    // other.example's key with mx.example's certificate.
    let (status, stderr, took) = run_to_exit(
        &pem,
        &["--tls-cert", &pem.cert, "--tls-key", &pem.other_key],
    );
    assert_eq!(status.code(), Some(2), "{status}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "smtp_server: the private key in {} does not belong to the first certificate",
            pem.other_key
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // The CA certificate is not a key file.
    let (status, stderr, _) = run_to_exit(&pem, &["--tls-cert", &pem.cert, "--tls-key", &pem.ca]);
    assert_eq!(status.code(), Some(2), "{status}\n{stderr}");
    assert!(
        stderr.contains(&format!("no private key found in {}", pem.ca)),
        "{stderr}"
    );
}

#[test]
fn inconsistent_flags_are_usage_errors() {
    let pem = pem_files();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--implicit-tls", "127.0.0.1:0"],
            "--implicit-tls and --require-tls need --tls-cert and --tls-key",
        ),
        (
            &["--require-tls"],
            "--implicit-tls and --require-tls need --tls-cert and --tls-key",
        ),
        (
            &["--tls-cert", &pem.cert],
            "--tls-cert and --tls-key go together",
        ),
        (
            &["--require-auth"],
            "--require-auth needs at least one --auth USER:PASS",
        ),
        (&["--auth", "alice"], "bad --auth \"alice\": want USER:PASS"),
    ];
    for (args, message) in cases {
        let (status, stderr, took) = run_to_exit(&pem, args);
        assert_eq!(status.code(), Some(2), "{args:?}: {status}\n{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(format!("smtp_server: {message}").as_str()),
            "{args:?}: {stderr}"
        );
        assert!(
            lines
                .last()
                .is_some_and(|l| l.starts_with("usage: smtp_server ")),
            "{args:?}: {stderr}"
        );
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
    }
}
