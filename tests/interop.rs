//! Interop: real SMTP clients (Python smtplib, swaks, curl, Postfix smtp-source) against an
//! in-test `Server`. A test whose tool is missing is skipped, or fails when `CI=true`.

mod common;
use common::tools::{self, Output, assert_exit, tool};

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use smtpkit::Reply;
use smtpkit::address::Mailbox;
use smtpkit::extensions::Extensions;
use smtpkit::server::{Body, ConnInfo, Envelope, Greeting, Handler, Server};

/// Runs `cmd` (stdin from /dev/null) to completion, killing it and failing after `timeout`.
fn run(cmd: &mut Command, timeout: Duration) -> Output {
    tools::run(cmd, None, timeout)
}

const TIMEOUT: Duration = Duration::from_secs(30);

fn recorder() -> (smtpkit::server::ServerHandle, Shared, SocketAddr) {
    let (srv, rec) = start(Server::builder());
    let addr = srv.local_addr();
    (srv, rec, addr)
}

/// The message swaks sent, rebuilt from its transcript: the ` -> ` lines after the `354`
/// reply up to the lone dot, each ended with CRLF and un-stuffed.
fn swaks_data(transcript: &str) -> Vec<u8> {
    let lines: Vec<&str> = transcript.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("<-  354 "))
        .unwrap_or_else(|| panic!("no 354 in swaks transcript:\n{transcript}"))
        + 1;
    let mut data = Vec::new();
    for l in &lines[start..] {
        let Some(text) = l.strip_prefix(" -> ").or(l.strip_prefix(" ->")) else {
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

/// Splits a stored message at its first empty line: (header block, body).
fn split_message(m: &[u8]) -> (&[u8], &[u8]) {
    let i = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no header/body separator in {:?}",
                String::from_utf8_lossy(m)
            )
        });
    (&m[..i + 2], &m[i + 4..])
}

fn header_lines(headers: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(headers)
        .split_terminator("\r\n")
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------

/// The text message python sends: LF line endings (smtplib makes them CRLF), lines that need
/// dot-stuffing, and no final newline (smtplib adds CRLF).
const PY_PLAIN: &str =
    "Subject: plain\nTo: one@example.net\n\nfirst line\n.leading dot\n..two dots\n.\nlast line";
/// The 8-bit message: sent as bytes (smtplib leaves their line endings alone), so CRLF here.
const PY_EIGHT: &str = "Subject: 8bit\r\n\r\ncaf\u{e9} cr\u{e8}me\r\n.dot caf\u{e9}\r\n";

const PY_SCRIPT: &str = r#"
import smtplib, sys
port, plain, eight = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode("utf-8")
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
code, _ = s.ehlo("client.example")
print("ehlo", code, s.has_extn("pipelining"), s.has_extn("8bitmime"), s.has_extn("size"))
refused = s.sendmail("sender@example.org",
                     ["one@example.net", "bad@example.net", "two@example.net"], plain)
print("refused", repr(refused))
refused = s.sendmail("sender@example.org", ["three@example.net"], eight,
                     mail_options=["BODY=8BITMIME"])
print("refused", repr(refused))
print("quit", repr(s.quit()))
"#;

#[test]
fn python_smtplib() {
    let Some(python) = tool("python3") else {
        return;
    };
    let (srv, rec, addr) = recorder();
    let o = run(
        Command::new(python)
            .env("PYTHONUTF8", "1")
            .arg("-c")
            .arg(PY_SCRIPT)
            .arg(addr.port().to_string())
            .arg(PY_PLAIN)
            .arg(PY_EIGHT),
        TIMEOUT,
    );
    assert_exit(&o, 0, "python3 smtplib script");
    assert_eq!(
        o.stdout,
        "ehlo 250 True True True\n\
         refused {'bad@example.net': (550, b'5.1.1 Mailbox unavailable')}\n\
         refused {}\n\
         quit (221, b'2.0.0 Bye')\n",
        "stderr:\n{}",
        o.stderr
    );
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 2, "{:?}", r.messages);
    assert_eq!(r.helos, Vec::<String>::new(), "smtplib used EHLO, not HELO");

    // smtplib: str -> CRLF line endings, then SIZE= is the length of that, then a final CRLF.
    let crlf = PY_PLAIN.replace('\n', "\r\n");
    let m = &r.messages[0];
    assert_eq!(m.from.as_deref(), Some("sender@example.org"));
    assert_eq!(m.to, ["one@example.net", "two@example.net"]);
    assert_eq!(m.params.size, Some(crlf.len() as u64));
    assert_eq!(m.params.body, None);
    assert_eq!(
        String::from_utf8_lossy(&m.body),
        format!("{crlf}\r\n"),
        "un-stuffed text message"
    );

    let m = &r.messages[1];
    assert_eq!(m.from.as_deref(), Some("sender@example.org"));
    assert_eq!(m.to, ["three@example.net"]);
    assert_eq!(m.params.body, Some(Body::EightBitMime));
    assert_eq!(m.params.size, Some(PY_EIGHT.len() as u64));
    assert_eq!(m.body, PY_EIGHT.as_bytes(), "un-stuffed 8-bit message");
    assert!(m.body.windows(2).any(|w| w == "é".as_bytes()));
    drop(r);
    srv.shutdown(Duration::from_secs(2));
}

const PY_UTF8_SCRIPT: &str = r#"
import smtplib, sys
port, msg = int(sys.argv[1]), sys.argv[2].encode("utf-8")
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("client.example")
refused = s.sendmail("s\u00e9nder@ex\u00e4mple.org", ["rcpt@ex\u00e4mple.net", "bad@ex\u00e4mple.net"],
                     msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
print("refused", repr(refused))
try:
    s.sendmail("s\u00e9nder@ex\u00e4mple.org", ["rcpt@ex\u00e4mple.net"], msg)
except smtplib.SMTPSenderRefused as e:
    print("without SMTPUTF8", e.smtp_code, e.smtp_error.decode())
print("quit", repr(s.quit()))
"#;

/// smtplib with internationalised addresses: `SMTPUTF8` makes it send UTF-8 commands.
#[test]
fn python_smtplib_smtputf8() {
    let Some(python) = tool("python3") else {
        return;
    };
    let (srv, rec, addr) = recorder();
    let msg = "Subject: gr\u{fc}\u{df}e\r\n\r\nb\u{f6}dy\r\n";
    let o = run(
        Command::new(python)
            .env("PYTHONUTF8", "1")
            .arg("-c")
            .arg(PY_UTF8_SCRIPT)
            .arg(addr.port().to_string())
            .arg(msg),
        TIMEOUT,
    );
    assert_exit(&o, 0, "python3 smtplib SMTPUTF8 script");
    assert_eq!(
        o.stdout,
        "refused {'bad@ex\u{e4}mple.net': (550, b'5.1.1 Mailbox unavailable')}\n\
         without SMTPUTF8 553 5.6.7 Non-ASCII address requires SMTPUTF8\n\
         quit (221, b'2.0.0 Bye')\n",
        "stderr:\n{}",
        o.stderr
    );
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    assert_eq!(m.from.as_deref(), Some("s\u{e9}nder@ex\u{e4}mple.org"));
    assert_eq!(m.to, ["rcpt@ex\u{e4}mple.net"]);
    assert!(m.params.smtputf8);
    assert_eq!(m.params.body, Some(Body::EightBitMime));
    assert_eq!(m.body, msg.as_bytes());
    drop(r);
    srv.shutdown(Duration::from_secs(2));
}

#[test]
fn swaks_plain() {
    let Some(swaks) = tool("swaks") else {
        return;
    };
    let (srv, rec, addr) = recorder();
    let o = run(
        Command::new(swaks).args([
            "--server",
            &format!("127.0.0.1:{}", addr.port()),
            "--from",
            "a@example.org",
            "--to",
            "b@example.net",
            "--body",
            "hello from swaks",
            "--header",
            "Subject: x",
        ]),
        TIMEOUT,
    );
    assert_exit(&o, 0, "swaks");
    for l in [
        "<-  220 test.example ESMTP",
        "<-  250 2.1.0 OK",
        "<-  250 2.1.5 OK",
        "<-  354 End data with <CR><LF>.<CR><LF>",
        "<-  250 2.0.0 OK: queued",
        "<-  221 2.0.0 Bye",
    ] {
        assert!(
            o.stdout.lines().any(|t| t == l),
            "{l:?} not in:\n{}",
            o.stdout
        );
    }
    let sent = swaks_data(&o.stdout);
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    assert_eq!(m.from.as_deref(), Some("a@example.org"));
    assert_eq!(m.to, ["b@example.net"]);
    assert_eq!(
        String::from_utf8_lossy(&m.body),
        String::from_utf8_lossy(&sent),
        "stored message differs from swaks' transcript"
    );
    let (headers, body) = split_message(&m.body);
    let subjects: Vec<String> = header_lines(headers)
        .into_iter()
        .filter(|h| h.to_ascii_lowercase().starts_with("subject:"))
        .collect();
    assert_eq!(subjects, ["Subject: x"]);
    assert!(
        body.starts_with(b"hello from swaks\r\n"),
        "{:?}",
        String::from_utf8_lossy(body)
    );
    drop(r);
    srv.shutdown(Duration::from_secs(2));
}

#[test]
fn swaks_pipeline_with_a_refused_recipient() {
    let Some(swaks) = tool("swaks") else {
        return;
    };
    let (srv, rec, addr) = recorder();
    let server = format!("127.0.0.1:{}", addr.port());
    let o = run(
        Command::new(&swaks).args([
            "--server",
            &server,
            "--pipeline",
            "--from",
            "a@example.org",
            "--to",
            "b@example.net,bad@example.net",
            "--body",
            "pipelined",
        ]),
        TIMEOUT,
    );
    // swaks carries on when at least one recipient is accepted, and exits 0.
    assert_exit(&o, 0, "swaks --pipeline, one of two recipients refused");
    let lines: Vec<&str> = o.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| *l == " -> MAIL FROM:<a@example.org>")
        .unwrap_or_else(|| panic!("no MAIL in:\n{}", o.stdout));
    // Pipelined: the four commands go out together, then the four replies come back.
    assert_eq!(
        lines[i..i + 8],
        [
            " -> MAIL FROM:<a@example.org>",
            " -> RCPT TO:<b@example.net>",
            " -> RCPT TO:<bad@example.net>",
            " -> DATA",
            "<-  250 2.1.0 OK",
            "<-  250 2.1.5 OK",
            "<** 550 5.1.1 Mailbox unavailable",
            "<-  354 End data with <CR><LF>.<CR><LF>",
        ],
        "transcript:\n{}",
        o.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<-  250 2.0.0 OK: queued"))
    );
    let sent = swaks_data(&o.stdout);
    wait_closed(&rec, 1);
    {
        let r = rec.lock().unwrap();
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].to, ["b@example.net"]);
        assert_eq!(r.messages[0].body, sent);
    }

    // Every recipient refused: swaks reports it with exit status 24, nothing is stored.
    let o = run(
        Command::new(&swaks).args([
            "--server",
            &server,
            "--pipeline",
            "--from",
            "a@example.org",
            "--to",
            "bad@example.net",
        ]),
        TIMEOUT,
    );
    assert_exit(&o, 24, "swaks --pipeline, only recipient refused");
    assert!(
        o.stdout
            .lines()
            .any(|l| l == "<** 550 5.1.1 Mailbox unavailable"),
        "{}",
        o.stdout
    );
    wait_closed(&rec, 2);
    assert_eq!(rec.lock().unwrap().messages.len(), 1);
    srv.shutdown(Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------

static FILES: AtomicUsize = AtomicUsize::new(0);

/// A file under the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &[u8]) -> TempFile {
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("smtpkit-interop-{}-{n}.eml", std::process::id()));
        std::fs::write(&p, contents).unwrap();
        TempFile(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// LF line endings, a `.`-leading line, a `..` line and a lone `.` line.
const CURL_MSG: &str = "From: a@example.org\nTo: b@example.net\nSubject: curl\n\nline one\n.dot line\n..two dots\n.\nlast line\n";

fn curl(curl: &Path, addr: SocketAddr, file: &Path, extra: &[&str]) -> Output {
    run(
        Command::new(curl)
            .args(["-s", "-v"])
            .args(extra)
            .arg("--url")
            .arg(format!("smtp://127.0.0.1:{}", addr.port()))
            .args([
                "--mail-from",
                "a@example.org",
                "--mail-rcpt",
                "b@example.net",
            ])
            .arg("--upload-file")
            .arg(file),
        TIMEOUT,
    )
}

#[test]
fn curl_upload_with_crlf() {
    let Some(curl_bin) = tool("curl") else {
        return;
    };
    let (srv, rec, addr) = recorder();
    let file = TempFile::new(CURL_MSG.as_bytes());
    // curl turns LF into CRLF only with --crlf; it then dot-stuffs the `.` lines.
    let o = curl(&curl_bin, addr, file.path(), &["--crlf"]);
    assert_exit(&o, 0, "curl --crlf");
    assert!(
        o.stderr
            .lines()
            .any(|l| l.starts_with("< 250 2.0.0 OK: queued")),
        "{}",
        o.stderr
    );
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    assert_eq!(m.from.as_deref(), Some("a@example.org"));
    assert_eq!(m.to, ["b@example.net"]);
    assert_eq!(
        String::from_utf8_lossy(&m.body),
        CURL_MSG.replace('\n', "\r\n")
    );
    drop(r);
    srv.shutdown(Duration::from_secs(2));
}

#[test]
fn curl_upload_with_bare_lf_is_refused_whole() {
    let Some(curl_bin) = tool("curl") else {
        return;
    };
    let (srv, rec, addr) = recorder();
    let file = TempFile::new(CURL_MSG.as_bytes());
    // Without --crlf curl sends the LF-only file as is (its `\n.\n` line is not stuffed): the
    // server must neither end DATA there nor store anything, and answers after the real end.
    let o = curl(&curl_bin, addr, file.path(), &[]);
    assert!(
        o.stderr
            .lines()
            .any(|l| l == "< 550 5.6.11 Bare CR or LF not allowed in message"),
        "{}",
        o.stderr
    );
    // curl: CURLE_WEIRD_SERVER_REPLY for a non-250 answer to the message.
    assert_exit(&o, 8, "curl without --crlf");
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().messages.len(), 0);
    srv.shutdown(Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------

/// What the counting handler saw across all sessions.
#[derive(Default)]
struct Tally {
    connects: usize,
    helo: usize,
    ehlo: usize,
    messages: usize,
    /// Message size -> how many.
    sizes: BTreeMap<usize, usize>,
    /// Message size less its Message-Id line -> how many.
    sizes_less_id: BTreeMap<usize, usize>,
    /// Messages whose envelope or body was not what smtp-source sends.
    wrong: Vec<String>,
    first: Option<Vec<u8>>,
}

/// Counts messages and sizes; keeps only the first message.
struct Counter {
    tally: Arc<Mutex<Tally>>,
    payload: Arc<Vec<u8>>,
}

impl Handler for Counter {
    fn on_connect(&mut self, _c: &ConnInfo) -> Greeting {
        self.tally.lock().unwrap().connects += 1;
        Greeting::Accept
    }
    fn on_helo(&mut self, _d: &str) -> Result<(), Reply> {
        self.tally.lock().unwrap().helo += 1;
        Ok(())
    }
    fn on_ehlo(&mut self, _d: &str, _e: &mut Extensions) -> Result<(), Reply> {
        self.tally.lock().unwrap().ehlo += 1;
        Ok(())
    }
    fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let msg = smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        let mut problems = Vec::new();
        let from = env.from.as_ref().map(Mailbox::to_string);
        let to: Vec<String> = env
            .recipients
            .iter()
            .map(|r| r.mailbox.to_string())
            .collect();
        if from.as_deref() != Some("from@example.org") || to != ["to@example.net"] {
            problems.push(format!("envelope {from:?} -> {to:?}"));
        }
        // Headers, an empty line, the payload, and the CRLF smtp-source adds before the dot.
        let mut tail = self.payload.to_vec();
        tail.extend_from_slice(b"\r\n");
        let mut id_len = 0;
        match msg.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) if msg[i + 4..] == tail[..] => {
                let headers = header_lines(&msg[..i + 2]);
                let names: Vec<&str> = headers
                    .iter()
                    .map(|h| h.split(':').next().unwrap_or(""))
                    .collect();
                if names != ["From", "To", "Date", "Message-Id"]
                    || headers[0] != "From: <from@example.org>"
                    || headers[1] != "To: <to@example.net>"
                {
                    problems.push(format!("headers {headers:?}"));
                }
                id_len = headers.last().map_or(0, |h| h.len() + 2);
            }
            _ => problems.push(format!("body of {} bytes", msg.len())),
        }
        let mut t = self.tally.lock().unwrap();
        t.messages += 1;
        *t.sizes.entry(msg.len()).or_default() += 1;
        *t.sizes_less_id.entry(msg.len() - id_len).or_default() += 1;
        t.wrong.extend(problems);
        if t.first.is_none() {
            t.first = Some(msg);
        }
        Ok(Reply::QUEUED)
    }
}

/// smtp-source's `-l LEN` payload: 80-octet CRLF lines whose first octet counts 1, 2, ... 9, 0,
/// filled with `X`; the last partial line has no CRLF.
fn smtp_source_payload(len: usize) -> Vec<u8> {
    let mut v = vec![b'X'; len];
    let mut i = 80;
    while i < len {
        v[i - 80] = b'0' + ((i / 80) % 10) as u8;
        v[i - 2] = b'\r';
        v[i - 1] = b'\n';
        i += 80;
    }
    v
}

#[test]
fn smtp_source_1000_messages_10_sessions() {
    let Some(smtp_source) = tool("smtp-source") else {
        return;
    };
    const MESSAGES: usize = 1000;
    const LEN: usize = 4096;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let payload = Arc::new(smtp_source_payload(LEN));
    let (t2, p2) = (Arc::clone(&tally), Arc::clone(&payload));
    let srv = Server::builder()
        .hostname("test.example")
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(move |_| Counter {
            tally: Arc::clone(&t2),
            payload: Arc::clone(&p2),
        })
        .unwrap();
    let target = format!("127.0.0.1:{}", srv.local_addr().port());
    let args = [
        "-c",
        "-m",
        "1000",
        "-s",
        "10",
        "-l",
        "4096",
        "-f",
        "from@example.org",
        "-t",
        "to@example.net",
        &target,
    ];
    let started = Instant::now();
    let o = run(
        Command::new(&smtp_source).args(args),
        Duration::from_secs(120),
    );
    let elapsed = started.elapsed();
    assert_exit(&o, 0, "smtp-source");
    // -c prints a counter after each DATA, separated by CRs.
    let last = o.stdout.split(['\r', '\n']).rfind(|s| !s.is_empty());
    assert_eq!(last, Some("1000"), "counter output {:?}", o.stdout);
    assert_eq!(o.stderr, "", "smtp-source complained");

    let t = tally.lock().unwrap();
    assert_eq!(t.messages, MESSAGES);
    assert_eq!(t.wrong, Vec::<String>::new());
    // One connection per message (no -d), each greeted with HELO.
    assert_eq!(t.helo, MESSAGES);
    assert_eq!(t.ehlo, 0);
    assert_eq!(t.connects, MESSAGES);
    let first = t.first.as_ref().unwrap();
    let (headers, _) = split_message(first);
    // smtp-source's Message-Id is <pid.fd.counter@host> in %04x, and its counter goes
    // negative (fffffffb...) for the last messages of a parallel run, so the size varies
    // with that one header; everything else is identical in every message.
    assert_eq!(
        t.sizes_less_id.len(),
        1,
        "sizes apart from Message-Id: {:?}",
        t.sizes_less_id
    );
    let min = *t.sizes.keys().next().unwrap();
    assert!(min >= LEN + 2, "{:?}", t.sizes);
    eprintln!(
        "smtp-source {}: {MESSAGES} messages in {:.3} s = {:.0} messages/s; \
         message sizes (octets -> count) {:?} = headers + empty line + {LEN} payload + CRLF; \
         first message headers:\n{}",
        args.join(" "),
        elapsed.as_secs_f64(),
        MESSAGES as f64 / elapsed.as_secs_f64(),
        t.sizes,
        String::from_utf8_lossy(headers)
    );
    drop(t);
    srv.shutdown(Duration::from_secs(2));
}
