//! Interop: smtpkit's client against real third-party servers, Postfix `smtp-sink` and
//! Python's aiosmtpd. A test whose tool is missing is skipped, or fails when `CI=true`.

mod common;
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
