//! Interop: smtpkit's client against real third-party servers, Postfix `smtp-sink` and
//! Python's aiosmtpd. A test whose tool is missing is skipped, or fails when `CI=true`.

mod common;
#[path = "common/pki.rs"]
mod pki;
use common::tools::tool;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use smtpkit::client::{
    Client, Direction, Email, ErrorKind, OnError, Options, Status, Timeouts, TlsMode,
};
use smtpkit::sasl::Mechanism;

fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is not installed, and CI=true requires it");
    }
    eprintln!("skipping: {what} not installed");
}

/// python3 with the aiosmtpd module, or `None` (skipped; a failure under `CI=true`).
fn aiosmtpd_python() -> Option<PathBuf> {
    let python = tool("python3")?;
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        missing("the aiosmtpd Python module (pip install aiosmtpd)");
        return None;
    }
    Some(python)
}

/// A child process killed (by its handle) and reaped on drop; its stdout lines go to a
/// channel, its stderr is kept for failure messages.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    what: String,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr: Arc<Mutex<String>> = Default::default();
        let e2 = Arc::clone(&stderr);
        let mut err = child.stderr.take().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                e2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Proc {
            child,
            lines,
            stderr,
            what,
        }
    }

    /// The next stdout line, waiting at most `timeout`.
    fn line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => l,
            Err(e) => {
                let status = self.child.try_wait().ok().flatten();
                panic!(
                    "no output line from {} ({e}); exit status {status:?}; stderr:\n{}",
                    self.what,
                    self.stderr.lock().unwrap()
                )
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn short_timeouts() -> Timeouts {
    let t = Duration::from_secs(10);
    Timeouts {
        connect: t,
        greeting: t,
        command: t,
        mail: t,
        rcpt: t,
        data_start: t,
        data_block: t,
        data_end: t,
        tls: t,
    }
}

fn opts(addr: SocketAddr) -> Options {
    Options::relay(addr.to_string())
        .tls(TlsMode::Never)
        .hostname("client.example")
        .retries(0)
        .timeouts(short_timeouts())
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory anyone can write to (smtp-sink drops privileges to `nobody`).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "smtpkit-{tag}-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// Postfix smtp-sink

/// A running `smtp-sink` on 127.0.0.1 with extra `flags`.
struct Sink {
    addr: SocketAddr,
    _proc: Proc,
}

impl Sink {
    fn start(flags: &[&str]) -> Option<Sink> {
        let bin = tool("smtp-sink")?;
        // smtp-sink wants -u when run as root.
        let root = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
            .unwrap_or(false);
        for _ in 0..5 {
            // Pick a free port, then hand it to smtp-sink (which cannot report one).
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let mut cmd = Command::new(&bin);
            if root {
                cmd.args(["-u", "nobody"]);
            }
            cmd.args(flags).arg(format!("127.0.0.1:{port}")).arg("64");
            let mut p = Proc::spawn(&mut cmd);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = p.child.try_wait() {
                    break; // probably the port was taken: try another
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Some(Sink { addr, _proc: p });
                }
                assert!(
                    Instant::now() < deadline,
                    "smtp-sink did not start listening; stderr:\n{}",
                    p.stderr.lock().unwrap()
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("smtp-sink would not start");
    }
}

fn sink_email(i: usize) -> Email {
    Email::new(
        "a@x.example",
        &["b@y.example", "c@y.example"],
        format!("Subject: message {i}\r\n\r\n.leading dot\r\nbody {i}\r\n"),
    )
    .unwrap()
}

#[test]
fn smtp_sink_200_messages_over_one_connection() {
    for pipelining in [true, false] {
        let dump = TempDir::new("sink-dump");
        let template = format!("{}/m.", dump.0.display());
        let Some(sink) = Sink::start(&["-d", &template]) else {
            return;
        };
        let lines: Arc<Mutex<Vec<String>>> = Default::default();
        let l2 = Arc::clone(&lines);
        let o = opts(sink.addr)
            .pipelining(pipelining)
            .transcript(move |_, dir, line| {
                let arrow = if dir == Direction::Sent { "C:" } else { "S:" };
                l2.lock().unwrap().push(format!("{arrow} {line}"));
            });
        let client = Client::new(o).unwrap();
        let mut conn = client.connect().unwrap();
        assert!(conn.extensions().contains("PIPELINING"));
        for i in 0..200 {
            let r = conn
                .deliver(&sink_email(i))
                .unwrap_or_else(|e| panic!("message {i} (pipelining {pipelining}): {e}"));
            assert_eq!(r.status(), Status::Delivered);
            assert_eq!(r.reply.to_string(), "250 2.0.0 Ok");
        }
        conn.close();
        // Pipelined: MAIL, both RCPTs and DATA before the first of their replies.
        let t = lines.lock().unwrap().clone();
        let mail = t.iter().position(|l| l.starts_with("C: MAIL")).unwrap();
        let next_reply = t[mail..].iter().position(|l| l.starts_with("S:")).unwrap();
        assert_eq!(
            next_reply,
            if pipelining { 4 } else { 1 },
            "pipelining {pipelining}: {:?}",
            &t[mail..mail + 8]
        );
        // Every message is in the dump, un-stuffed and intact.
        let deadline = Instant::now() + Duration::from_secs(10);
        let files = loop {
            let files: Vec<PathBuf> = std::fs::read_dir(&dump.0)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if files.len() >= 200 || Instant::now() > deadline {
                break files;
            }
            thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(files.len(), 200, "pipelining {pipelining}");
        let mut seen = [false; 200];
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(text.contains("X-Mail-Args: <a@x.example>\n"), "{text}");
            assert!(
                text.contains("X-Rcpt-Args: <b@y.example>\nX-Rcpt-Args: <c@y.example>\n"),
                "{text}"
            );
            let body = text.split_once("Subject: message ").unwrap().1;
            let (n, rest) = body.split_once('\n').unwrap();
            let n: usize = n.parse().unwrap();
            assert_eq!(rest, format!("\n.leading dot\nbody {n}\n\n"), "{text}");
            seen[n] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}

/// Sends one message to an smtp-sink started with `flags`; returns the result.
fn sink_result(
    flags: &[&str],
    pipelining: bool,
) -> Option<Result<smtpkit::client::Receipt, smtpkit::client::Error>> {
    let sink = Sink::start(flags)?;
    let client = Client::new(opts(sink.addr).pipelining(pipelining)).unwrap();
    Some(client.send(&sink_email(0)))
}

#[test]
fn smtp_sink_error_replies_at_each_stage() {
    // smtp-sink: -f (hard, "500 5.3.0") and -r (soft, "450 4.3.0") reject the named commands
    // (both imply -p: no PIPELINING); -Q answers "421 4.0.0" and disconnects; -q disconnects
    // without a reply; -A 0 answers 550 right after the 354.
    // (flags, kind, reply code, per-recipient results expected)
    let cases: &[(&[&str], ErrorKind, Option<u16>, usize)] = &[
        (&["-f", "CONNECT"], ErrorKind::Permanent, Some(500), 0),
        (&["-r", "CONNECT"], ErrorKind::Transient, Some(450), 0),
        (&["-f", "EHLO,HELO"], ErrorKind::Permanent, Some(500), 0),
        (&["-Q", "EHLO"], ErrorKind::Transient, Some(421), 0),
        (&["-Q", "MAIL"], ErrorKind::Transient, Some(421), 0),
        (&["-f", "MAIL"], ErrorKind::Permanent, Some(500), 0),
        (&["-r", "MAIL"], ErrorKind::Transient, Some(450), 0),
        (&["-Q", "RCPT"], ErrorKind::Transient, Some(421), 0),
        (&["-f", "RCPT"], ErrorKind::Permanent, Some(500), 2),
        (&["-r", "RCPT"], ErrorKind::Transient, Some(450), 2),
        (&["-f", "DATA"], ErrorKind::Permanent, Some(500), 2),
        (&["-r", "DATA"], ErrorKind::Transient, Some(450), 2),
        (&["-Q", "DATA"], ErrorKind::Transient, Some(421), 2),
        (&["-f", "."], ErrorKind::Permanent, Some(500), 2),
        (&["-r", "."], ErrorKind::Transient, Some(450), 2),
        (&["-Q", "."], ErrorKind::Transient, Some(421), 2),
        (&["-q", "MAIL"], ErrorKind::Network, None, 0),
        (&["-q", "RCPT"], ErrorKind::Network, None, 0),
        (&["-q", "DATA"], ErrorKind::Network, None, 2),
        (&["-q", "."], ErrorKind::StatusUnknown, None, 2),
    ];
    for pipelining in [true, false] {
        for (flags, kind, code, rcpts) in cases {
            let Some(result) = sink_result(flags, pipelining) else {
                return;
            };
            let e = result.expect_err(&format!("{flags:?} should fail"));
            let what = format!("{flags:?} pipelining {pipelining}: {e}");
            assert_eq!(e.kind(), *kind, "{what}");
            assert_eq!(e.reply().map(|r| r.code), *code, "{what}");
            assert_eq!(e.recipients().len(), *rcpts, "{what}");
            assert!(e.recipients().iter().all(|r| !r.delivered), "{what}");
        }
    }
    // -A 0: "550 This violates SMTP" after the 354, and the server stops reading. Whether the
    // client sees the 550 or a failed write of the body is a race; it is never a success.
    for pipelining in [true, false] {
        let Some(result) = sink_result(&["-A", "0"], pipelining) else {
            return;
        };
        let e = result.expect_err("-A 0");
        assert!(
            matches!(
                (e.kind(), e.reply().map(|r| r.code)),
                (ErrorKind::Permanent, Some(550))
                    | (ErrorKind::Network, None)
                    | (ErrorKind::StatusUnknown, None)
            ),
            "-A 0: {e}"
        );
    }
    // A refused EHLO: the client falls back to HELO and delivers.
    for pipelining in [true, false] {
        let Some(result) = sink_result(&["-f", "EHLO"], pipelining) else {
            return;
        };
        let r = result.expect("HELO fallback");
        assert_eq!(r.status(), Status::Delivered);
    }
}

#[test]
fn smtp_sink_rset_keeps_a_connection_after_a_refusal() {
    let Some(sink) = Sink::start(&["-f", "RCPT"]) else {
        return;
    };
    let client = Client::new(opts(sink.addr).on_error(OnError::Reset)).unwrap();
    let mut conn = client.connect().unwrap();
    for _ in 0..3 {
        let e = conn.deliver(&sink_email(0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permanent);
        assert!(conn.is_open());
    }
    conn.noop().unwrap();
    conn.close();
}

/// A measurement, not an assertion: messages per second over one reused connection.
#[test]
fn smtp_sink_throughput() {
    let Some(sink) = Sink::start(&[]) else {
        return;
    };
    let mut body = String::from("Subject: throughput\r\n\r\n");
    while body.len() < 4096 {
        body.push_str("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234\r\n");
    }
    body.truncate(4094);
    body.push_str("\r\n");
    let email = Email::new(
        "a@x.example",
        &["b@y.example", "c@y.example", "d@y.example"],
        body,
    )
    .unwrap();
    const N: usize = 2000;
    for pipelining in [true, false] {
        let client = Client::new(opts(sink.addr).pipelining(pipelining)).unwrap();
        let mut conn = client.connect().unwrap();
        let start = Instant::now();
        for _ in 0..N {
            conn.deliver(&email).unwrap();
        }
        let took = start.elapsed();
        conn.close();
        eprintln!(
            "smtp-sink throughput ({} build): {N} messages of 4 KiB, 3 recipients, one connection, \
             pipelining {pipelining}: {:.2} s, {:.0} messages/s",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            took.as_secs_f64(),
            N as f64 / took.as_secs_f64()
        );
    }
}

// ---------------------------------------------------------------------------------------
// aiosmtpd

/// A handler that prints each transaction as one line of space-separated base64 fields
/// (helo, from, recipients, MAIL parameters, data, login); `--auth` adds an authenticator
/// accepting alice/s3cret over plaintext.
const AIOSMTPD_SCRIPT: &str = r#"
import asyncio, base64, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

def b64(x):
    if isinstance(x, str):
        x = x.encode()
    return base64.b64encode(x).decode() or "="

class Handler:
    async def handle_DATA(self, server, session, envelope):
        login = ""
        data = getattr(session, "auth_data", None)
        if session.authenticated and isinstance(data, LoginPassword):
            login = data.login
        print("MSG", b64(session.host_name or ""), b64(envelope.mail_from),
              b64("\n".join(envelope.rcpt_tos)), b64("\n".join(envelope.mail_options)),
              b64(envelope.original_content), b64(login), flush=True)
        return "250 2.0.0 OK queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == b"alice" and auth_data.password == b"s3cret")
    return AuthResult(success=ok, handled=False, auth_data=auth_data)

async def main():
    auth = "--auth" in sys.argv
    def factory():
        kw = dict(enable_SMTPUTF8=True, decode_data=False)
        if auth:
            kw.update(authenticator=authenticator, auth_require_tls=False)
        return SMTP(Handler(), **kw)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

struct Aiosmtpd {
    addr: SocketAddr,
    proc: Proc,
    _dir: TempDir,
}

impl Aiosmtpd {
    fn start(auth: bool) -> Option<Aiosmtpd> {
        let python = aiosmtpd_python()?;
        let dir = TempDir::new("aiosmtpd");
        let script = dir.0.join("server.py");
        std::fs::write(&script, AIOSMTPD_SCRIPT).unwrap();
        let mut cmd = Command::new(python);
        cmd.arg("-u").arg(&script);
        if auth {
            cmd.arg("--auth");
        }
        let mut proc = Proc::spawn(&mut cmd);
        let first = proc.line(Duration::from_secs(30));
        let port: u16 = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from aiosmtpd: {first:?}"));
        Some(Aiosmtpd {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            proc,
            _dir: dir,
        })
    }

    /// The next transaction aiosmtpd received.
    fn received(&mut self) -> Received {
        let line = self.proc.line(Duration::from_secs(10));
        Received::parse(&line)
    }
}

/// One transaction as aiosmtpd saw it.
#[derive(Debug, PartialEq, Eq)]
struct Received {
    helo: String,
    from: String,
    to: Vec<String>,
    mail_options: Vec<String>,
    data: Vec<u8>,
    /// The user name authenticated as, if any.
    login: Option<String>,
}

impl Received {
    fn parse(line: &str) -> Received {
        let fields: Vec<Vec<u8>> = line
            .strip_prefix("MSG ")
            .unwrap_or_else(|| panic!("unexpected line from aiosmtpd: {line:?}"))
            .split(' ')
            .map(base64_decode)
            .collect();
        assert_eq!(fields.len(), 6, "{line:?}");
        let text = |i: usize| String::from_utf8(fields[i].clone()).unwrap();
        let list = |i: usize| -> Vec<String> {
            let t = text(i);
            if t.is_empty() {
                Vec::new()
            } else {
                t.split('\n').map(str::to_string).collect()
            }
        };
        Received {
            helo: text(0),
            from: text(1),
            to: list(2),
            mail_options: list(3),
            data: fields[4].clone(),
            login: Some(text(5)).filter(|l| !l.is_empty()),
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    if s == "=" {
        return Vec::new();
    }
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("bad base64 {s:?}: {e}"))
}

#[test]
fn aiosmtpd_receives_exactly_what_was_sent() {
    let Some(mut srv) = Aiosmtpd::start(false) else {
        return;
    };
    let client = Client::new(opts(srv.addr)).unwrap();

    // Several recipients; LF line endings, a line starting with a dot, no final newline.
    let body = "Subject: one\n\n.leading dot\n..two dots\nlast line";
    let r = client
        .send(
            &Email::new(
                "a@x.example",
                &["b@y.example", "c@y.example", "d@y.example"],
                body,
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(r.status(), Status::Delivered);
    assert_eq!(r.reply.to_string(), "250 2.0.0 OK queued");
    let wire = b"Subject: one\r\n\r\n.leading dot\r\n..two dots\r\nlast line\r\n";
    let got = srv.received();
    assert_eq!(
        got,
        Received {
            helo: "client.example".into(),
            from: "a@x.example".into(),
            to: vec![
                "b@y.example".into(),
                "c@y.example".into(),
                "d@y.example".into()
            ],
            mail_options: vec![format!("SIZE={}", wire.len())],
            data: wire.to_vec(),
            login: None,
        },
        "data: {:?}",
        String::from_utf8_lossy(&got.data)
    );

    // An 8-bit body: BODY=8BITMIME.
    let body = "Subject: caf\u{e9}\r\n\r\nna\u{ef}ve \u{fc}ber\r\n";
    client
        .send(&Email::new("a@x.example", &["b@y.example"], body).unwrap())
        .unwrap();
    let got = srv.received();
    assert_eq!(
        got.mail_options,
        [format!("SIZE={}", body.len()), "BODY=8BITMIME".into()]
    );
    assert_eq!(got.data, body.as_bytes());

    // UTF-8 addresses: SMTPUTF8.
    let body = "Subject: \u{fc}\r\n\r\n\u{fc}\r\n";
    client
        .send(&Email::new("j\u{f6}rg@x.example", &["\u{f1}o\u{f1}o@y.example"], body).unwrap())
        .unwrap();
    let got = srv.received();
    assert_eq!(got.from, "j\u{f6}rg@x.example");
    assert_eq!(got.to, ["\u{f1}o\u{f1}o@y.example"]);
    assert_eq!(
        got.mail_options,
        [
            format!("SIZE={}", body.len()),
            "BODY=8BITMIME".into(),
            "SMTPUTF8".into()
        ]
    );
    assert_eq!(got.data, body.as_bytes());

    // The null sender, and an empty body.
    client
        .send(&Email::new("<>", &["b@y.example"], "").unwrap())
        .unwrap();
    let got = srv.received();
    assert_eq!(got.from, "<>");
    assert_eq!(got.data, b"");
}

#[test]
fn aiosmtpd_auth_over_plaintext() {
    let Some(mut srv) = Aiosmtpd::start(true) else {
        return;
    };
    let email = Email::new("alice@x.example", &["b@y.example"], "hi\r\n").unwrap();
    for m in [Mechanism::Login, Mechanism::Plain] {
        let client = Client::new(
            opts(srv.addr)
                .login("alice", "s3cret")
                .allow_insecure_auth(true)
                .mechanisms(&[m]),
        )
        .unwrap();
        let conn = client.connect().unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(conn.authenticated(), Some("alice"), "{m}");
        conn.close();
        client.send(&email).unwrap_or_else(|e| panic!("{m}: {e}"));
        let got = srv.received();
        assert_eq!(got.login.as_deref(), Some("alice"), "{m}");
    }
    // Wrong password: 535, permanent (after trying every offered mechanism).
    let client = Client::new(
        opts(srv.addr)
            .login("alice", "wrong")
            .allow_insecure_auth(true),
    )
    .unwrap();
    let e = client.send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    assert_eq!(e.reply().map(|r| r.code), Some(535), "{e}");
    // Without allow_insecure_auth: refused before any credential is sent.
    let client = Client::new(
        opts(srv.addr)
            .tls(TlsMode::Opportunistic)
            .login("alice", "s3cret"),
    )
    .unwrap();
    let e = client.send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
}

// ---------------------------------------------------------------------------------------
// smtp-sink: DSN parameters as a real MTA parses them (issue 13, item 6)

/// Starts smtp-sink dumping each transaction into `dir` (with `extra` flags), returning the
/// sink.
fn dumping_sink(dir: &TempDir, extra: &[&str]) -> Option<Sink> {
    let template = dir.0.join("m").display().to_string();
    let mut flags = vec!["-d", template.as_str()];
    flags.extend_from_slice(extra);
    Sink::start(&flags)
}

/// The `X-Mail-Args` and `X-Rcpt-Args` lines of the one dump in `dir`.
fn dumped_args(dir: &TempDir) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let files: Vec<_> = std::fs::read_dir(&dir.0)
            .unwrap()
            .filter_map(|e| e.ok())
            .collect();
        if let Some(f) = files.first() {
            let text = std::fs::read_to_string(f.path()).unwrap_or_default();
            if text.contains("Received:") {
                return text
                    .lines()
                    .filter(|l| l.starts_with("X-Mail-Args:") || l.starts_with("X-Rcpt-Args:"))
                    .map(str::to_string)
                    .collect();
            }
        }
        assert!(Instant::now() < deadline, "smtp-sink wrote no dump");
        thread::sleep(Duration::from_millis(20));
    }
}

fn dsn_envelope() -> smtpkit::client::Envelope {
    use smtpkit::dsn::{Notify, Orcpt, Ret};
    smtpkit::client::Envelope::new("a@x.example", &["b@y.example", "c@y.example"])
        .unwrap()
        .ret(Ret::Full)
        .envid("id 42+")
        .notify(
            0,
            Notify {
                success: true,
                failure: true,
                delay: false,
            },
        )
        .notify(1, Notify::default())
        .orcpt(
            0,
            Orcpt {
                addr_type: "rfc822".into(),
                address: "B@y.example".into(),
            },
        )
        .mail_param("XTEST", Some("1"))
}

#[test]
fn smtp_sink_receives_dsn_parameters() {
    let dir = TempDir::new("sink-dsn");
    let Some(sink) = dumping_sink(&dir, &[]) else {
        return;
    };
    let client = Client::new(opts(sink.addr)).unwrap();
    let body = b"Subject: dsn\r\n\r\nhi\r\n".to_vec();
    let r = client.send_envelope(&dsn_envelope(), &body).unwrap();
    assert_eq!(r.status(), Status::Delivered);
    assert_eq!(
        dumped_args(&dir),
        [
            "X-Mail-Args: <a@x.example> RET=FULL ENVID=id+2042+2B XTEST=1".to_string(),
            "X-Rcpt-Args: <b@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B@y.example".into(),
            "X-Rcpt-Args: <c@y.example> NOTIFY=NEVER".into(),
        ]
    );
}

/// smtp-sink -N does not announce DSN: the DSN fields are left out (the raw parameter still
/// goes), or the send fails before MAIL when DSN is required.
#[test]
fn smtp_sink_without_dsn() {
    let dir = TempDir::new("sink-nodsn");
    let Some(sink) = dumping_sink(&dir, &["-N"]) else {
        return;
    };
    let client = Client::new(opts(sink.addr)).unwrap();
    let body = b"Subject: dsn\r\n\r\nhi\r\n".to_vec();
    let e = client
        .send_envelope(&dsn_envelope().dsn_required(true), &body)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    client.send_envelope(&dsn_envelope(), &body).unwrap();
    assert_eq!(
        dumped_args(&dir),
        [
            "X-Mail-Args: <a@x.example> XTEST=1".to_string(),
            "X-Rcpt-Args: <b@y.example>".into(),
            "X-Rcpt-Args: <c@y.example>".into(),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// aiosmtpd with TLS and an authenticator for each mechanism (issue 13, items 1, 2, 5, 8)

/// aiosmtpd with STARTTLS (`starttls`: AUTH offered only after it), implicit TLS (`implicit`)
/// or none (`plain`: no AUTH at all). PLAIN and LOGIN are aiosmtpd's own; CRAM-MD5, XOAUTH2
/// and OAUTHBEARER are added with its `auth_mechanism` API. `--login-words` makes LOGIN's
/// prompts carry words after the base64. Prints `PORT n`, then per message `MSG tls login
/// from rcpts data` (base64 fields).
const AIOSMTPD_TLS_SCRIPT: &str = r#"
import asyncio, base64, hmac, hashlib, json, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, auth_mechanism

args = sys.argv[1:]
mode = args[0]
cert, key = args[1], args[2]
words = "--login-words" in args

def b64(x):
    if isinstance(x, str):
        x = x.encode()
    return base64.b64encode(x).decode() or "="

class Handler:
    async def handle_DATA(self, server, session, envelope):
        data = getattr(session, "auth_data", None)
        login = data.login if session.authenticated and isinstance(data, LoginPassword) else b""
        tls = session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None
        print("MSG", "1" if tls else "0", b64(login), b64(envelope.mail_from),
              b64("\n".join(envelope.rcpt_tos)), b64(envelope.original_content), flush=True)
        return "250 2.0.0 OK queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == b"alice" and auth_data.password == b"s3cret")
    return AuthResult(success=ok, handled=False, auth_data=auth_data)

ERROR = json.dumps({"status": "invalid_token", "scope": "mail"})

class Server(SMTP):
    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, _, args):
        challenge = b"<1896.697170952@aiosmtpd.example>"
        resp = await self.challenge_auth(challenge)
        if not isinstance(resp, bytes):
            return AuthResult(success=False, handled=False)
        user, _, digest = resp.partition(b" ")
        want = hmac.new(b"s3cret", challenge, hashlib.md5).hexdigest().encode()
        ok = user == b"alice" and hmac.compare_digest(digest, want)
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(user, b""))

    async def auth_XOAUTH2(self, _, args):
        fields = dict(f.split("=", 1) for f in base64.b64decode(args[1]).decode().split("\x01") if f)
        if fields.get("user") == "alice" and fields.get("auth") == "Bearer tok-alice":
            return AuthResult(success=True, auth_data=LoginPassword(b"alice", b""))
        await self.challenge_auth(ERROR)
        return AuthResult(success=False, handled=False)

    async def auth_OAUTHBEARER(self, _, args):
        msg = base64.b64decode(args[1]).decode()
        gs2, _, rest = msg.partition("\x01")
        user = gs2.split(",")[1][2:].replace("=2C", ",").replace("=3D", "=")
        fields = dict(f.split("=", 1) for f in rest.split("\x01") if f)
        if user == "alice" and fields.get("auth") == "Bearer tok-alice":
            return AuthResult(success=True, auth_data=LoginPassword(b"alice", b""))
        resp = await self.challenge_auth(ERROR)
        if resp != b"\x01":
            return AuthResult(success=False, handled=False, message="501 5.5.2 expected ^A")
        return AuthResult(success=False, handled=False)

    async def auth_LOGIN(self, _, args):
        if not words:
            return await super().auth_LOGIN(_, args)
        login = await self.challenge_auth(b"VXNlcm5hbWU6 tell me who you are", encode_to_b64=False)
        if not isinstance(login, bytes):
            return AuthResult(success=False)
        password = await self.challenge_auth(b"UGFzc3dvcmQ6 and the secret", encode_to_b64=False)
        if not isinstance(password, bytes):
            return AuthResult(success=False)
        return self._authenticate("LOGIN", LoginPassword(login, password))

async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    def factory():
        if mode == "plain":
            return SMTP(Handler(), decode_data=False)
        if mode == "implicit":
            return Server(Handler(), decode_data=False, authenticator=authenticator,
                          auth_require_tls=False)
        return Server(Handler(), decode_data=False, authenticator=authenticator,
                      tls_context=ctx, require_starttls=True, auth_require_tls=True)
    loop = asyncio.get_running_loop()
    kw = {"ssl": ctx} if mode == "implicit" else {}
    server = await loop.create_server(factory, "127.0.0.1", 0, **kw)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

struct AiosmtpdTls {
    addr: SocketAddr,
    proc: Proc,
    _dir: TempDir,
}

/// One message as the TLS aiosmtpd saw it.
#[derive(Debug, PartialEq, Eq)]
struct TlsReceived {
    tls: bool,
    login: String,
    from: String,
    to: String,
    data: Vec<u8>,
}

impl AiosmtpdTls {
    fn start(mode: &str, extra: &[&str]) -> Option<AiosmtpdTls> {
        let python = aiosmtpd_python()?;
        let dir = TempDir::new("aiosmtpd-tls");
        let script = dir.0.join("server.py");
        std::fs::write(&script, AIOSMTPD_TLS_SCRIPT).unwrap();
        let p = pki::pki();
        let cert = dir.0.join("mx.pem");
        let key = dir.0.join("mx.key");
        std::fs::write(&cert, &p.mx.cert).unwrap();
        std::fs::write(&key, &p.mx.key).unwrap();
        let mut cmd = Command::new(python);
        cmd.arg("-u")
            .arg(&script)
            .arg(mode)
            .arg(&cert)
            .arg(&key)
            .args(extra);
        let mut proc = Proc::spawn(&mut cmd);
        let first = proc.line(Duration::from_secs(30));
        let port: u16 = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from aiosmtpd: {first:?}"));
        Some(AiosmtpdTls {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            proc,
            _dir: dir,
        })
    }

    fn received(&mut self) -> TlsReceived {
        let line = self.proc.line(Duration::from_secs(10));
        let f: Vec<&str> = line
            .strip_prefix("MSG ")
            .unwrap_or_else(|| panic!("unexpected line from aiosmtpd: {line:?}"))
            .split(' ')
            .collect();
        assert_eq!(f.len(), 5, "{line:?}");
        let text = |s: &str| String::from_utf8(base64_decode(s)).unwrap();
        TlsReceived {
            tls: f[0] == "1",
            login: text(f[1]),
            from: text(f[2]),
            to: text(f[3]),
            data: base64_decode(f[4]),
        }
    }
}

fn ca_trust() -> smtpkit::tls::ClientTrust {
    smtpkit::tls::ClientTrust::roots_from_pem(pki::pki().ca.as_bytes()).unwrap()
}

/// TLS options for the aiosmtpd tests: the relay is 127.0.0.1, whose name the test
/// certificate lists.
fn tls_opts(addr: SocketAddr) -> Options {
    Options::relay(addr.to_string())
        .hostname("client.example")
        .retries(0)
        .timeouts(short_timeouts())
}

const MECHANISMS: [(Mechanism, &str); 5] = [
    (Mechanism::Plain, "s3cret"),
    (Mechanism::Login, "s3cret"),
    (Mechanism::CramMd5, "s3cret"),
    (Mechanism::XOAuth2, "tok-alice"),
    (Mechanism::OAuthBearer, "tok-alice"),
];

/// STARTTLS (Required: the default with credentials) and every mechanism; AUTH is offered
/// only after STARTTLS, so the client must authenticate on the second EHLO.
#[test]
fn aiosmtpd_starttls_auth_each_mechanism() {
    let Some(mut srv) = AiosmtpdTls::start("starttls", &[]) else {
        return;
    };
    let email = Email::new("alice@x.example", &["b@y.example"], "hi\r\n").unwrap();
    for (m, secret) in MECHANISMS {
        let opts = tls_opts(srv.addr)
            .trust(ca_trust())
            .login("alice", secret)
            .mechanisms(&[m]);
        assert_eq!(opts.tls_mode(), TlsMode::Required);
        let r = Client::new(opts)
            .unwrap()
            .send(&email)
            .unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(r.tls, Some(smtpkit::client::TlsStatus::Verified), "{m}");
        let got = srv.received();
        assert_eq!((got.tls, got.login.as_str()), (true, "alice"), "{m}");
        assert_eq!(got.data, b"hi\r\n", "{m}");
        // A wrong secret: refused (535), before MAIL; the OAuth mechanisms go through their
        // error challenge first.
        let e = Client::new(
            tls_opts(srv.addr)
                .trust(ca_trust())
                .login("alice", "wrong")
                .mechanisms(&[m]),
        )
        .unwrap()
        .send(&email)
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permanent, "{m}: {e}");
        assert_eq!(e.reply().map(|r| r.code), Some(535), "{m}: {e}");
    }
}

/// Implicit TLS (port 465 style) and every mechanism.
#[test]
fn aiosmtpd_implicit_tls_auth_each_mechanism() {
    let Some(mut srv) = AiosmtpdTls::start("implicit", &[]) else {
        return;
    };
    let email = Email::new("alice@x.example", &["b@y.example"], "hi\r\n").unwrap();
    for (m, secret) in MECHANISMS {
        let r = Client::new(
            tls_opts(srv.addr)
                .tls(TlsMode::Implicit)
                .trust(ca_trust())
                .login("alice", secret)
                .mechanisms(&[m]),
        )
        .unwrap()
        .send(&email)
        .unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(r.tls, Some(smtpkit::client::TlsStatus::Verified), "{m}");
        let got = srv.received();
        assert_eq!((got.tls, got.login.as_str()), (true, "alice"), "{m}");
    }
    // Not trusted: a readable TLS error, nothing delivered.
    let e = Client::new(
        tls_opts(srv.addr)
            .tls(TlsMode::Implicit)
            .login("alice", "s3cret"),
    )
    .unwrap()
    .send(&email)
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.to_string().contains("unknown certificate authority"),
        "{e}"
    );
}

/// LOGIN prompts with words after the base64, from a real server engine (gen_smtp's case).
#[test]
fn aiosmtpd_login_prompts_with_words() {
    let Some(mut srv) = AiosmtpdTls::start("starttls", &["--login-words"]) else {
        return;
    };
    let email = Email::new("alice@x.example", &["b@y.example"], "hi\r\n").unwrap();
    Client::new(
        tls_opts(srv.addr)
            .trust(ca_trust())
            .login("alice", "s3cret")
            .mechanisms(&[Mechanism::Login]),
    )
    .unwrap()
    .send(&email)
    .unwrap();
    assert_eq!(srv.received().login, "alice");
}

/// Opportunistic TLS against a certificate the client cannot verify: encrypted anyway
/// (RFC 7435), the receipt says why it is unverified; with credentials, no AUTH (and so no
/// transaction) unless allowed.
#[test]
fn aiosmtpd_opportunistic_with_an_unverifiable_certificate() {
    let Some(mut srv) = AiosmtpdTls::start("starttls", &[]) else {
        return;
    };
    let email = Email::new("alice@x.example", &["b@y.example"], "hi\r\n").unwrap();
    let r = Client::new(tls_opts(srv.addr).tls(TlsMode::Opportunistic))
        .unwrap()
        .send(&email)
        .unwrap();
    match &r.tls {
        Some(smtpkit::client::TlsStatus::Unverified(why)) => {
            assert!(why.contains("unknown certificate authority"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let got = srv.received();
    assert!(got.tls && got.login.is_empty());

    let creds = || {
        tls_opts(srv.addr)
            .tls(TlsMode::Opportunistic)
            .login("alice", "s3cret")
    };
    let e = Client::new(creds()).unwrap().send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    Client::new(creds().allow_unverified_auth(true))
        .unwrap()
        .send(&email)
        .unwrap();
    let got = srv.received();
    assert_eq!((got.tls, got.login.as_str()), (true, "alice"));
}

/// A server without TLS or AUTH: without credentials opportunistic TLS falls back to
/// cleartext (STARTTLS absent); with credentials nothing is sent.
#[test]
fn aiosmtpd_without_tls_or_auth() {
    let Some(mut srv) = AiosmtpdTls::start("plain", &[]) else {
        return;
    };
    let email = Email::new("alice@x.example", &["b@y.example"], "hi\r\n").unwrap();
    let r = Client::new(tls_opts(srv.addr))
        .unwrap()
        .send(&email)
        .unwrap();
    assert_eq!(r.tls, None);
    let got = srv.received();
    assert!(!got.tls);
    assert_eq!(
        (got.from.as_str(), got.to.as_str()),
        ("alice@x.example", "b@y.example")
    );
    for opts in [
        tls_opts(srv.addr).login("alice", "s3cret"),
        tls_opts(srv.addr)
            .tls(TlsMode::Never)
            .allow_insecure_auth(true)
            .login("alice", "s3cret"),
    ] {
        let e = Client::new(opts).unwrap().send(&email).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    }
    // Nothing more reached the server: the next message is the one sent now.
    Client::new(tls_opts(srv.addr))
        .unwrap()
        .send(&email)
        .unwrap();
    assert!(!srv.received().tls);
}
