//! The client against scripted fake servers: the exact bytes it writes, and the `Receipt` or
//! the error kind it ends with. Each fake connection runs a script (send these bytes, expect
//! exactly those, read a body up to its terminator, close, reset, sleep) and records everything
//! the client wrote, so a test asserts the whole transcript.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use smtpkit::Reply;
use smtpkit::client::{
    AuthPolicy, Client, Email, Envelope, ErrorKind, FileBody, OnError, Options, Outcome,
    ReaderBody, Status, Timeouts, TlsMode,
};
use smtpkit::dsn::{Notify, Orcpt, Ret};
use smtpkit::sasl::Mechanism;
use smtpkit::server::Protocol;

/// How long the fake waits for the client's next bytes before it gives up on a step.
const STEP_WAIT: Duration = Duration::from_secs(5);

/// One step of a fake connection's script.
#[derive(Debug, Clone)]
enum Step {
    /// Write these bytes (in one write).
    Send(Vec<u8>),
    /// Read exactly these bytes; anything else ends the script with an error.
    Expect(Vec<u8>),
    /// Read up to and including this pattern, looked for as if a line had just ended (so
    /// `ExpectUntil(b"\r\n.\r\n")` also ends an empty body, `.\r\n`).
    ExpectUntil(Vec<u8>),
    /// Nothing may arrive for this many milliseconds (the client waits for a reply).
    Silence(u64),
    /// Read whatever comes next (at least one byte): a TLS ClientHello, say.
    ReadSome,
    /// Close the connection (FIN).
    Close,
    /// Abort the connection (RST, through SO_LINGER 0).
    Reset,
    /// Wait this many milliseconds.
    Sleep(u64),
}
use Step::*;

fn send(s: impl AsRef<[u8]>) -> Step {
    Send(s.as_ref().to_vec())
}
fn expect(s: impl AsRef<[u8]>) -> Step {
    Expect(s.as_ref().to_vec())
}
fn body() -> Step {
    ExpectUntil(b"\r\n.\r\n".to_vec())
}

/// Printable bytes for failure messages.
fn esc(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// What one fake connection saw.
#[derive(Debug, Default)]
struct Session {
    /// Every byte the client wrote, in order.
    received: Vec<u8>,
    /// The same bytes as the fake's reads returned them (one entry per `read`).
    reads: Vec<Vec<u8>>,
    /// Script failures (unexpected bytes, EOF, timeout, a failed write).
    errors: Vec<String>,
}

impl Session {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
    s: Session,
}

impl Conn {
    fn read_more(&mut self, wait: Duration) -> Result<usize, String> {
        self.stream
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256 * 1024];
        match std::io::Read::read(&mut self.stream, &mut buf) {
            Ok(0) => Err("EOF".into()),
            Ok(n) => {
                buf.truncate(n);
                self.pending.extend_from_slice(&buf);
                self.s.received.extend_from_slice(&buf);
                self.s.reads.push(buf);
                Ok(n)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn step(&mut self, step: &Step) -> Result<bool, String> {
        match step {
            Send(b) => std::io::Write::write_all(&mut self.stream, b)
                .map_err(|e| format!("write failed: {e}"))?,
            Expect(want) => loop {
                let k = self.pending.len().min(want.len());
                if self.pending[..k] != want[..k] {
                    return Err(format!(
                        "expected {:?}, got {:?}",
                        esc(want),
                        esc(&self.pending)
                    ));
                }
                if k == want.len() {
                    self.pending.drain(..k);
                    break;
                }
                self.read_more(STEP_WAIT).map_err(|e| {
                    format!(
                        "expected {:?}, got {:?} then {e}",
                        esc(want),
                        esc(&self.pending)
                    )
                })?;
            },
            ExpectUntil(pat) => loop {
                let mut seg = b"\r\n".to_vec();
                seg.extend_from_slice(&self.pending);
                if let Some(i) = seg.windows(pat.len()).position(|w| w == &pat[..]) {
                    let end = (i + pat.len()).saturating_sub(2);
                    self.pending.drain(..end);
                    break;
                }
                self.read_more(STEP_WAIT).map_err(|e| {
                    format!(
                        "waiting for {:?}: {e} after {:?}",
                        esc(pat),
                        esc(&self.pending)
                    )
                })?;
            },
            Silence(ms) => {
                if self.pending.is_empty() {
                    match self.read_more(Duration::from_millis(*ms)) {
                        Ok(_) => {}
                        Err(e) if e == "EOF" => return Err("EOF while waiting".into()),
                        Err(_) => return Ok(true), // timed out: silence, as expected
                    }
                }
                return Err(format!(
                    "the client sent {:?} before the reply it should wait for",
                    esc(&self.pending)
                ));
            }
            ReadSome => {
                if self.pending.is_empty() {
                    self.read_more(STEP_WAIT)?;
                }
                self.pending.clear();
            }
            Close => {
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
                return Ok(false);
            }
            Reset => {
                set_linger_zero(&self.stream);
                return Ok(false);
            }
            Sleep(ms) => thread::sleep(Duration::from_millis(*ms)),
        }
        Ok(true)
    }
}

/// SO_LINGER with a zero timeout: closing the socket sends RST instead of FIN.
fn set_linger_zero(s: &TcpStream) {
    socket2::SockRef::from(s)
        .set_linger(Some(std::time::Duration::ZERO))
        .expect("SO_LINGER");
}

fn run_script(stream: TcpStream, script: &[Step]) -> Session {
    let _ = stream.set_nonblocking(false);
    let mut c = Conn {
        stream,
        pending: Vec::new(),
        s: Session::default(),
    };
    for step in script {
        match c.step(step) {
            Ok(true) => {}
            Ok(false) => return c.s,
            Err(e) => {
                c.s.errors.push(format!("{step:?}: {e}"));
                return c.s;
            }
        }
    }
    // The script is done: record whatever else the client writes until it closes.
    let deadline = Instant::now() + STEP_WAIT;
    while Instant::now() < deadline {
        if c.read_more(deadline - Instant::now()).is_err() {
            break;
        }
    }
    c.s
}

/// A fake server on 127.0.0.1: connection `i` runs `scripts[i]`; connections beyond the
/// scripts are closed at once (and counted).
struct Fake {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Session>>,
}

impl Fake {
    fn start(scripts: Vec<Vec<Step>>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut sessions = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let script = scripts.get(sessions.len()).cloned().unwrap_or_default();
                        if script.is_empty() {
                            drop(stream);
                            sessions.push(Session::default());
                        } else {
                            sessions.push(run_script(stream, &script));
                        }
                    }
                    Err(_) if stop2.load(Ordering::SeqCst) || Instant::now() > deadline => {
                        return sessions;
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Fake { addr, stop, thread }
    }

    /// One connection.
    fn one(script: Vec<Step>) -> Fake {
        Fake::start(vec![script])
    }

    /// Stops accepting and returns every connection's record.
    fn finish(self) -> Vec<Session> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("fake server panicked")
    }

    /// Like `finish`, and asserts every script ran without error.
    fn finish_clean(self) -> Vec<Session> {
        let sessions = self.finish();
        for (i, s) in sessions.iter().enumerate() {
            assert!(
                s.errors.is_empty(),
                "connection {i}: {:?}\nreceived: {:?}",
                s.errors,
                s.text()
            );
        }
        sessions
    }
}

/// Client options for a fake: no TLS, no retries, short timeouts, a fixed EHLO name.
fn opts(fake: &Fake) -> Options {
    let t = Duration::from_secs(5);
    Options::relay(fake.addr.to_string())
        .tls(TlsMode::Never)
        .hostname("client.example")
        .retries(0)
        .timeouts(Timeouts {
            connect: t,
            greeting: t,
            command: t,
            mail: t,
            rcpt: t,
            data_start: t,
            data_block: t,
            data_end: t,
            tls: t,
        })
}

/// An EHLO reply: the greeting line, then one line a keyword.
fn ehlo(keywords: &[&str]) -> String {
    let mut lines = vec!["fake.example"];
    lines.extend_from_slice(keywords);
    let n = lines.len();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("250{}{l}\r\n", if i + 1 == n { ' ' } else { '-' }))
        .collect()
}

const GREETING: &str = "220 fake.example ESMTP\r\n";
const EHLO: &str = "EHLO client.example\r\n";

/// Greeting and EHLO with these keywords.
fn hello(keywords: &[&str]) -> Vec<Step> {
    vec![send(GREETING), expect(EHLO), send(ehlo(keywords))]
}

/// QUIT and its reply.
fn quit() -> Vec<Step> {
    vec![expect("QUIT\r\n"), send("221 2.0.0 bye\r\n")]
}

/// A lock-step transaction for one recipient, accepted.
fn lockstep_tx(mail: &str, rcpt: &str) -> Vec<Step> {
    vec![
        expect(format!("{mail}\r\n")),
        send("250 2.1.0 ok\r\n"),
        expect(format!("{rcpt}\r\n")),
        send("250 2.1.5 ok\r\n"),
        expect("DATA\r\n"),
        send("354 go ahead\r\n"),
        body(),
        send("250 2.0.0 queued as 1\r\n"),
    ]
}

fn script(parts: &[Vec<Step>]) -> Vec<Step> {
    parts.concat()
}

fn email(to: &[&str], body: impl Into<Vec<u8>>) -> Email {
    Email::new("a@x.example", to, body).unwrap()
}

// ---------------------------------------------------------------------------------------
// Greeting

#[test]
fn greeting_554_is_permanent_and_not_retried() {
    let fake = Fake::one(script(&[
        vec![send("554 5.7.1 no mail from you\r\n")],
        quit(),
    ]));
    let client = Client::new(opts(&fake).retries(3)).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    assert_eq!(e.reply().map(|r| r.code), Some(554));
    assert!(e.is_permanent() && !e.is_transient());
    let s = fake.finish_clean();
    assert_eq!(s.len(), 1, "a permanent greeting must not be retried");
    assert_eq!(s[0].text(), "QUIT\r\n");
}

#[test]
fn greeting_421_is_transient_and_retried() {
    let script = vec![send("421 4.3.2 busy, try later\r\n"), Close];
    let fake = Fake::start(vec![script.clone(), script.clone(), script]);
    let client = Client::new(opts(&fake).retries(2)).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert_eq!(e.reply().map(|r| r.code), Some(421));
    assert!(e.is_transient());
    let s = fake.finish_clean();
    assert_eq!(s.len(), 3, "retries(2): exactly three connections");
}

#[test]
fn greeting_timeout() {
    let fake = Fake::one(vec![Sleep(2000), Close]);
    let t = opts(&fake).timeouts;
    let client = Client::new(opts(&fake).timeouts(Timeouts {
        greeting: Duration::from_millis(300),
        ..t
    }))
    .unwrap();
    let start = Instant::now();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_transient());
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    let s = fake.finish();
    assert_eq!(s.len(), 1);
}

#[test]
fn multiline_greeting_and_empty_last_ehlo_line() {
    // smtp-sink ends its EHLO reply with a bare "250 ".
    let fake = Fake::one(script(&[
        vec![
            send("220-fake.example ESMTP\r\n220-second line\r\n220 third\r\n"),
            expect(EHLO),
            send("250-fake.example\r\n250-8BITMIME\r\n250 \r\n"),
        ],
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    let r = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap();
    assert_eq!(r.status(), Status::Delivered);
    fake.finish_clean();
}

// ---------------------------------------------------------------------------------------
// EHLO / HELO / LHLO

#[test]
fn ehlo_500_falls_back_to_helo_without_parameters() {
    let fake = Fake::one(script(&[
        vec![
            send(GREETING),
            expect(EHLO),
            send("500 5.5.1 what is EHLO?\r\n"),
            expect("HELO client.example\r\n"),
            send("250 fake.example\r\n"),
        ],
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    // 8-bit body, but after HELO no BODY= (nor SIZE=) may be sent.
    let r = client
        .send(&email(&["b@y.example"], "caf\u{e9}\r\n"))
        .unwrap();
    assert_eq!(r.status(), Status::Delivered);
    let s = fake.finish_clean();
    assert_eq!(
        s[0].text(),
        "EHLO client.example\r\nHELO client.example\r\nMAIL FROM:<a@x.example>\r\n\
         RCPT TO:<b@y.example>\r\nDATA\r\ncaf\u{e9}\r\n.\r\nQUIT\r\n"
    );
}

#[test]
fn lmtp_lhlo_and_one_reply_per_accepted_recipient() {
    let fake = Fake::one(script(&[
        vec![
            send("220 fake.example LMTP\r\n"),
            expect("LHLO client.example\r\n"),
            send(ehlo(&["PIPELINING", "ENHANCEDSTATUSCODES"])),
            expect(
                "MAIL FROM:<a@x.example>\r\nRCPT TO:<one@y.example>\r\n\
                 RCPT TO:<bad@y.example>\r\nRCPT TO:<two@y.example>\r\nDATA\r\n",
            ),
            send(
                "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n\
                 250 2.1.5 ok\r\n354 go ahead\r\n",
            ),
            body(),
            // Exactly one reply per accepted recipient (two), in RCPT order.
            send("250 2.0.0 one delivered\r\n452 4.2.2 two is over quota\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake).protocol(Protocol::Lmtp)).unwrap();
    let r = client
        .send(&email(
            &["one@y.example", "bad@y.example", "two@y.example"],
            "hi\r\n",
        ))
        .unwrap();
    assert_eq!(r.status(), Status::Partial);
    let got: Vec<(String, String, bool)> = r
        .recipients
        .iter()
        .map(|x| (x.mailbox.to_string(), x.reply.to_string(), x.delivered))
        .collect();
    assert_eq!(
        got,
        [
            (
                "one@y.example".into(),
                "250 2.0.0 one delivered".into(),
                true
            ),
            (
                "bad@y.example".into(),
                "550 5.1.1 no such user".into(),
                false
            ),
            (
                "two@y.example".into(),
                "452 4.2.2 two is over quota".into(),
                false
            ),
        ]
    );
    assert_eq!(r.reply.to_string(), "250 2.0.0 one delivered");
    let s = fake.finish_clean();
    assert!(
        s[0].text().ends_with("hi\r\n.\r\nQUIT\r\n"),
        "{:?}",
        s[0].text()
    );
}

// ---------------------------------------------------------------------------------------
// STARTTLS

#[test]
fn opportunistic_starttls_failure_is_retried_on_that_host_without_tls() {
    let first = vec![
        send(GREETING),
        expect(EHLO),
        send(ehlo(&["STARTTLS"])),
        expect("STARTTLS\r\n"),
        send("220 2.0.0 go ahead\r\n"),
        ReadSome, // the ClientHello
        send("this is not TLS\r\n"),
        Close,
    ];
    let second = script(&[
        hello(&["STARTTLS"]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]);
    let fake = Fake::start(vec![first, second]);
    // retries(0): the plaintext attempt is not counted as a retry.
    let client = Client::new(opts(&fake).tls(TlsMode::Opportunistic)).unwrap();
    let start = Instant::now();
    let r = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap();
    assert_eq!(r.status(), Status::Delivered);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let s = fake.finish_clean();
    assert_eq!(s.len(), 2);
    let first = &s[0].received;
    let head = b"EHLO client.example\r\nSTARTTLS\r\n";
    assert!(first.starts_with(head), "{:?}", s[0].text());
    assert_eq!(first.get(head.len()), Some(&0x16), "a TLS handshake record");
    assert!(!s[0].text().contains("MAIL FROM"));
    assert_eq!(
        s[1].text(),
        "EHLO client.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n\
         DATA\r\nhi\r\n.\r\nQUIT\r\n"
    );
}

/// After a failed handshake there is nothing to say QUIT over: no wait for a reply that
/// cannot come before the plaintext retry (it used to take 5 s).
#[test]
fn failed_starttls_handshake_with_a_silent_server_does_not_stall() {
    // The fake answers 220 to STARTTLS, sends garbage and then keeps the connection open.
    let first = vec![
        send(GREETING),
        expect(EHLO),
        send(ehlo(&["STARTTLS"])),
        expect("STARTTLS\r\n"),
        send("220 2.0.0 go ahead\r\n"),
        ReadSome,
        send("this is not TLS\r\n"),
    ];
    let second = script(&[
        hello(&["STARTTLS"]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]);
    let fake = Fake::start(vec![first, second]);
    let client = Client::new(opts(&fake).tls(TlsMode::Opportunistic)).unwrap();
    let start = Instant::now();
    client.send(&email(&["b@y.example"], "hi\r\n")).unwrap();
    let took = start.elapsed();
    let s = fake.finish_clean();
    assert_eq!(s.len(), 2);
    assert!(
        took < Duration::from_secs(3),
        "a failed handshake stalled the client for {took:?}"
    );
}

#[test]
fn starttls_response_injection_is_not_taken_as_a_reply() {
    let fake = Fake::one(vec![
        send(GREETING),
        expect(EHLO),
        send(ehlo(&["STARTTLS"])),
        expect("STARTTLS\r\n"),
        // The injected line comes in the same write as the 220.
        send("220 2.0.0 ready\r\n250 injected\r\n"),
        ReadSome,
        Close,
    ]);
    let client = Client::new(opts(&fake).tls(TlsMode::Required)).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let s = fake.finish_clean();
    assert_eq!(s.len(), 1);
    let head = b"EHLO client.example\r\nSTARTTLS\r\n";
    assert!(s[0].received.starts_with(head), "{:?}", s[0].text());
    assert_eq!(s[0].received.get(head.len()), Some(&0x16));
    let text = s[0].text();
    assert!(
        !text.contains("MAIL") && !text.contains("EHLO client.example\r\nEHLO"),
        "{text:?}"
    );
}

// ---------------------------------------------------------------------------------------
// AUTH (the fake has no TLS: allow_insecure_auth with TlsMode::Never)

fn auth_opts(fake: &Fake, m: &[Mechanism]) -> Options {
    opts(fake)
        .allow_insecure_auth(true)
        .login("user", "pass")
        .mechanisms(m)
}

/// Connects (greeting, EHLO, AUTH as scripted), checks the login, closes.
fn auth_session(
    exchange: Vec<Step>,
    offered: &str,
    m: &[Mechanism],
    user: &str,
    pass: &str,
) -> String {
    let fake = Fake::one(script(&[
        hello(&[offered]),
        exchange,
        vec![send("235 2.7.0 Authentication successful\r\n")],
        quit(),
    ]));
    let client = Client::new(auth_opts(&fake, m).login(user, pass)).unwrap();
    let conn = client.connect().unwrap();
    assert_eq!(conn.authenticated(), Some(user));
    conn.close();
    let s = fake.finish_clean();
    s[0].text()
}

/// What the client writes in a clean run of `steps`: every expected byte, in order.
fn expected_writes(steps: &[Step]) -> String {
    steps
        .iter()
        .filter_map(|s| match s {
            Expect(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

/// A login that succeeds after `exchange` (the AUTH dialogue between EHLO and the 235).
struct Login {
    name: &'static str,
    offered: &'static str,
    mechanisms: &'static [Mechanism],
    user: &'static str,
    pass: &'static str,
    exchange: Vec<Step>,
}

/// Each login is authenticated, and its whole transcript is EHLO, what the exchange expects
/// and QUIT: nothing else was written.
#[test]
fn successful_logins() {
    const CHALLENGE: &str = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    let rows = vec![
        Login {
            name: "PLAIN with an initial response",
            offered: "AUTH PLAIN",
            mechanisms: &[Mechanism::Plain],
            user: "user",
            pass: "pass",
            exchange: vec![expect("AUTH PLAIN AHVzZXIAcGFzcw==\r\n")],
        },
        Login {
            name: "CRAM-MD5, the RFC 2195 vector",
            offered: "AUTH CRAM-MD5",
            mechanisms: &[Mechanism::CramMd5],
            user: "tim",
            pass: "tanstaaftanstaaf",
            exchange: vec![
                expect("AUTH CRAM-MD5\r\n"),
                send(format!("334 {CHALLENGE}\r\n")),
                expect("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
            ],
        },
        Login {
            name: "CRAM-MD5 refused with 535 falls through to LOGIN",
            offered: "AUTH CRAM-MD5 LOGIN",
            mechanisms: &[Mechanism::CramMd5, Mechanism::Login, Mechanism::Plain],
            user: "user",
            pass: "pass",
            exchange: vec![
                expect("AUTH CRAM-MD5\r\n"),
                send(format!("334 {CHALLENGE}\r\n")),
                expect("dXNlciAyMjRmOGFmMWJmOWJjZjI2ZjRlZjAzMjllMDYxNDA1Yw==\r\n"),
                send("535 5.7.8 nope\r\n"),
                expect("AUTH LOGIN\r\n"),
                send("334 VXNlcm5hbWU6\r\n"),
                expect("dXNlcg==\r\n"),
                send("334 UGFzc3dvcmQ6\r\n"),
                expect("cGFzcw==\r\n"),
            ],
        },
        // Some servers add text after the challenge: only its first word counts.
        Login {
            name: "CRAM-MD5 challenge with trailing text",
            offered: "AUTH CRAM-MD5",
            mechanisms: &[Mechanism::CramMd5],
            user: "tim",
            pass: "tanstaaftanstaaf",
            exchange: vec![
                expect("AUTH CRAM-MD5\r\n"),
                send(format!("334 {CHALLENGE} say hi\r\n")),
                expect("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
            ],
        },
        Login {
            name: "CRAM-MD5 challenge that is not base64 is cancelled, then PLAIN",
            offered: "AUTH CRAM-MD5 PLAIN",
            mechanisms: &[Mechanism::CramMd5, Mechanism::Plain],
            user: "user",
            pass: "pass",
            exchange: vec![
                expect("AUTH CRAM-MD5\r\n"),
                send("334 !!not base64!!\r\n"),
                expect("*\r\n"),
                send("501 5.7.0 cancelled\r\n"),
                expect("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
            ],
        },
        // A server that ignores PLAIN's initial response and asks with an empty 334.
        Login {
            name: "PLAIN answers an empty challenge after the initial response",
            offered: "AUTH PLAIN",
            mechanisms: &[Mechanism::Plain],
            user: "user",
            pass: "pass",
            exchange: vec![
                expect("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
                send("334 \r\n"),
                expect("AHVzZXIAcGFzcw==\r\n"),
            ],
        },
    ];
    for row in rows {
        eprintln!("row: {}", row.name);
        let want = format!("{EHLO}{}QUIT\r\n", expected_writes(&row.exchange));
        let t = auth_session(
            row.exchange,
            row.offered,
            row.mechanisms,
            row.user,
            row.pass,
        );
        assert_eq!(t, want, "{}", row.name);
    }
}

/// AUTH LOGIN with these two prompts answers username, then password, and goes on.
fn login_answers_by_step(user_prompt: &str, pass_prompt: &str) {
    let t = auth_session(
        vec![
            expect("AUTH LOGIN\r\n"),
            send(format!("334 {user_prompt}\r\n")),
            expect("dXNlcg==\r\n"),
            send(format!("334 {pass_prompt}\r\n")),
            expect("cGFzcw==\r\n"),
        ],
        "AUTH LOGIN",
        &[Mechanism::Login],
        "user",
        "pass",
    );
    assert_eq!(
        t, "EHLO client.example\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nQUIT\r\n",
        "{user_prompt:?}"
    );
}

#[test]
fn auth_login_prompt_variants() {
    // "Username:", "Username", "username:", "User Name\0" (Microsoft), with matching
    // password prompts.
    for (user_prompt, pass_prompt) in [
        ("VXNlcm5hbWU6", "UGFzc3dvcmQ6"),
        ("VXNlcm5hbWU=", "UGFzc3dvcmQ6"),
        ("dXNlcm5hbWU6", "UGFzc3dvcmQ6"),
        ("VXNlciBOYW1lAA==", "UGFzc3dvcmQA"),
    ] {
        login_answers_by_step(user_prompt, pass_prompt);
    }
}

#[test]
fn auth_454_is_transient() {
    let fake = Fake::one(script(&[
        hello(&["AUTH PLAIN"]),
        vec![
            expect("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
            send("454 4.7.0 Temporary authentication failure\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(auth_opts(&fake, &[Mechanism::Plain])).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert_eq!(e.reply().map(|r| r.code), Some(454));
    let s = fake.finish_clean();
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].text(),
        "EHLO client.example\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nQUIT\r\n"
    );
}

// ---------------------------------------------------------------------------------------
// Transactions

#[test]
fn rset_after_a_failed_transaction_keeps_the_connection() {
    let fake = Fake::one(script(&[
        hello(&["ENHANCEDSTATUSCODES"]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("550 5.7.1 sender refused\r\n"),
            expect("RSET\r\n"),
            send("250 2.0.0 reset\r\n"),
        ],
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<c@y.example>"),
        quit(),
    ]));
    let client = Client::new(opts(&fake).on_error(OnError::Reset)).unwrap();
    let mut conn = client.connect().unwrap();
    let e = conn
        .deliver(&email(&["b@y.example"], "first\r\n"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert_eq!(e.reply().map(|r| r.code), Some(550));
    assert!(conn.is_open());
    let r = conn
        .deliver(&email(&["c@y.example"], "second\r\n"))
        .unwrap();
    assert_eq!(r.status(), Status::Delivered);
    conn.close();
    let s = fake.finish_clean();
    assert_eq!(
        s[0].text(),
        "EHLO client.example\r\nMAIL FROM:<a@x.example>\r\nRSET\r\n\
         MAIL FROM:<a@x.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n"
    );
}

#[test]
fn pipelining_sends_mail_rcpts_and_data_in_one_write() {
    let commands = "MAIL FROM:<a@x.example> SIZE=4\r\nRCPT TO:<b@y.example>\r\n\
                    RCPT TO:<c@y.example>\r\nDATA\r\n";
    let fake = Fake::one(script(&[
        hello(&["PIPELINING", "SIZE 1000000", "ENHANCEDSTATUSCODES"]),
        vec![
            // All four commands arrive before the fake has sent any reply to them.
            expect(commands),
            send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n"),
            body(),
            send("250 2.0.0 queued\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    let r = client
        .send(&email(&["b@y.example", "c@y.example"], "hi\r\n"))
        .unwrap();
    assert_eq!(r.status(), Status::Delivered);
    assert_eq!(r.reply.to_string(), "250 2.0.0 queued");
    let s = fake.finish_clean();
    assert!(
        s[0].reads.iter().any(|r| r == commands.as_bytes()),
        "not one read: {:?}",
        s[0].reads.iter().map(|r| esc(r)).collect::<Vec<_>>()
    );
}

#[test]
fn without_pipelining_commands_go_in_lock_step() {
    // Not offered; then offered but switched off in the options.
    for (offer, on) in [(&[][..], true), (&["PIPELINING"][..], false)] {
        let fake = Fake::one(script(&[
            hello(offer),
            vec![
                expect("MAIL FROM:<a@x.example>\r\n"),
                Silence(200),
                send("250 2.1.0 ok\r\n"),
                expect("RCPT TO:<b@y.example>\r\n"),
                Silence(200),
                send("250 2.1.5 ok\r\n"),
                expect("RCPT TO:<c@y.example>\r\n"),
                Silence(200),
                send("250 2.1.5 ok\r\n"),
                expect("DATA\r\n"),
                Silence(200),
                send("354 go ahead\r\n"),
                body(),
                send("250 2.0.0 queued\r\n"),
            ],
            quit(),
        ]));
        let client = Client::new(opts(&fake).pipelining(on)).unwrap();
        client
            .send(&email(&["b@y.example", "c@y.example"], "hi\r\n"))
            .unwrap();
        fake.finish_clean();
    }
}

#[test]
fn pipelined_all_recipients_refused_after_354_sends_a_lone_dot() {
    let fake = Fake::one(script(&[
        hello(&["PIPELINING"]),
        vec![
            expect(
                "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n\
                 RCPT TO:<c@y.example>\r\nDATA\r\n",
            ),
            send(
                "250 2.1.0 ok\r\n550 5.1.1 no b\r\n450 4.2.1 c busy\r\n\
                 354 go ahead\r\n",
            ),
            expect(".\r\n"),
            send("554 5.5.1 no valid recipients\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    let e = client
        .send(&email(&["b@y.example", "c@y.example"], "hi\r\n"))
        .unwrap_err();
    // One refusal is permanent: the whole is permanent.
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    let got: Vec<String> = e
        .recipients()
        .iter()
        .map(|r| format!("{} {} {}", r.mailbox, r.reply, r.delivered))
        .collect();
    assert_eq!(
        got,
        [
            "b@y.example 550 5.1.1 no b false",
            "c@y.example 450 4.2.1 c busy false"
        ]
    );
    let s = fake.finish_clean();
    assert!(
        s[0].text().ends_with("DATA\r\n.\r\nQUIT\r\n"),
        "{:?}",
        s[0].text()
    );
}

#[test]
fn one_refused_recipient_is_a_partial_delivery() {
    let fake = Fake::one(script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<bad@y.example>\r\n"),
            send("550 5.1.1 no such user\r\n"),
            expect("DATA\r\n"),
            send("354 go ahead\r\n"),
            body(),
            send("250 queued\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    let r = client
        .send(&email(&["b@y.example", "bad@y.example"], "hi\r\n"))
        .unwrap();
    assert_eq!(r.status(), Status::Partial);
    assert_eq!(r.reply, Reply::new(250, None, "queued"));
    assert!(r.recipients[0].delivered);
    assert_eq!(r.recipients[0].reply.to_string(), "250 queued");
    assert!(!r.recipients[1].delivered);
    assert_eq!(r.recipients[1].reply.to_string(), "550 5.1.1 no such user");
    let refused: Vec<String> = r.refused().map(|x| x.mailbox.to_string()).collect();
    assert_eq!(refused, ["bad@y.example"]);
    fake.finish_clean();
}

#[test]
fn message_refused_after_the_dot_is_an_error_with_recipients() {
    let fake = Fake::one(script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go ahead\r\n"),
            body(),
            send("554 5.7.1 spam\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake).retries(2)).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert_eq!(e.recipients().len(), 1);
    assert_eq!(e.recipients()[0].reply.to_string(), "554 5.7.1 spam");
    assert!(!e.recipients()[0].delivered);
    assert_eq!(fake.finish_clean().len(), 1);
}

#[test]
fn null_sender() {
    let fake = Fake::one(script(&[
        hello(&[]),
        lockstep_tx("MAIL FROM:<>", "RCPT TO:<b@y.example>"),
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    let e = Email::new("<>", &["b@y.example"], "bounce\r\n").unwrap();
    client.send(&e).unwrap();
    fake.finish_clean();
}

// ---------------------------------------------------------------------------------------
// The body on the wire

#[test]
fn dot_stuffing_and_line_endings() {
    let cases: [(&[u8], &[u8]); 6] = [
        (b".\n..x\r\nend", b"..\r\n...x\r\nend\r\n.\r\n"),
        (b"no newline at the end", b"no newline at the end\r\n.\r\n"),
        (b"bare\rcr\r\n.\r", b"bare\r\ncr\r\n..\r\n.\r\n"),
        (b"", b".\r\n"),
        (b"a\n.\n", b"a\r\n..\r\n.\r\n"),
        (b"\r\n.\r\n", b"\r\n..\r\n.\r\n"),
    ];
    let scripts = cases
        .iter()
        .map(|_| {
            script(&[
                hello(&[]),
                lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
                quit(),
            ])
        })
        .collect();
    let fake = Fake::start(scripts);
    let client = Client::new(opts(&fake)).unwrap();
    for (body, _) in &cases {
        client.send(&email(&["b@y.example"], *body)).unwrap();
    }
    let s = fake.finish_clean();
    for ((body, wire), s) in cases.iter().zip(&s) {
        let head =
            b"EHLO client.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n";
        let mut want = head.to_vec();
        want.extend_from_slice(wire);
        want.extend_from_slice(b"QUIT\r\n");
        assert_eq!(esc(&s.received), esc(&want), "body {:?}", esc(body));
    }
}

#[test]
fn size_body_and_smtputf8_parameters_only_when_offered() {
    struct Case {
        offer: &'static [&'static str],
        from: &'static str,
        to: &'static str,
        body: &'static str,
        mail: &'static str,
    }
    let cases = [
        Case {
            offer: &["SIZE 1000"],
            from: "a@x.example",
            to: "b@y.example",
            body: "hi\n",
            mail: "MAIL FROM:<a@x.example> SIZE=4",
        },
        Case {
            offer: &["SIZE"],
            from: "a@x.example",
            to: "b@y.example",
            body: "hi",
            mail: "MAIL FROM:<a@x.example> SIZE=4",
        },
        Case {
            offer: &[],
            from: "a@x.example",
            to: "b@y.example",
            body: "caf\u{e9}\r\n",
            mail: "MAIL FROM:<a@x.example>",
        },
        Case {
            offer: &["8BITMIME"],
            from: "a@x.example",
            to: "b@y.example",
            body: "caf\u{e9}\r\n",
            mail: "MAIL FROM:<a@x.example> BODY=8BITMIME",
        },
        Case {
            offer: &["8BITMIME"],
            from: "a@x.example",
            to: "b@y.example",
            body: "plain ascii\r\n",
            mail: "MAIL FROM:<a@x.example>",
        },
        Case {
            offer: &["SIZE 0", "8BITMIME", "SMTPUTF8"],
            from: "j\u{f6}rg@x.example",
            to: "\u{f1}@y.example",
            body: "\u{fc}\r\n",
            mail: "MAIL FROM:<j\u{f6}rg@x.example> SIZE=4 BODY=8BITMIME SMTPUTF8",
        },
    ];
    let scripts = cases
        .iter()
        .map(|c| {
            script(&[
                hello(c.offer),
                lockstep_tx(c.mail, &format!("RCPT TO:<{}>", c.to)),
                quit(),
            ])
        })
        .collect();
    let fake = Fake::start(scripts);
    let client = Client::new(opts(&fake)).unwrap();
    for c in &cases {
        let e = Email::new(c.from, &[c.to], c.body).unwrap();
        client
            .send(&e)
            .unwrap_or_else(|e| panic!("{}: {e}", c.mail));
    }
    fake.finish_clean();
}

// ---------------------------------------------------------------------------------------
// Malformed and hostile replies

fn unexpected_ehlo_reply(reply: Vec<u8>) -> (smtpkit::client::Error, Vec<Session>, Duration) {
    let fake = Fake::one(vec![send(GREETING), expect(EHLO), Send(reply)]);
    let client = Client::new(opts(&fake)).unwrap();
    let start = Instant::now();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    let took = start.elapsed();
    (e, fake.finish(), took)
}

/// Replies to EHLO that end the session before MAIL, each as an UnexpectedReply; the
/// oversized ones (`bounded`) are cut short rather than read to their end.
#[test]
fn hostile_ehlo_replies_end_the_session() {
    let mut very_long = b"250 ".to_vec();
    very_long.extend(std::iter::repeat_n(b'x', 10_000));
    very_long.extend_from_slice(b"\r\n");
    let rows: [(&str, Vec<u8>, bool); 4] = [
        ("malformed reply code", b"25O ok\r\n".to_vec(), false),
        (
            "mixed codes in one reply",
            b"250-a\r\n251 b\r\n".to_vec(),
            false,
        ),
        (
            "endless multi-line reply",
            b"250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n".repeat(100_000),
            true,
        ),
        ("very long reply line", very_long, true),
    ];
    for (name, reply, bounded) in rows {
        let (e, s, took) = unexpected_ehlo_reply(reply);
        assert_eq!(e.kind(), ErrorKind::UnexpectedReply, "{name}: {e}");
        if bounded {
            assert!(took < Duration::from_secs(2), "{name}: took {took:?}");
        }
        assert_eq!(s.len(), 1, "{name}");
        assert!(!s[0].text().contains("MAIL"), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Connection lost

fn lost_after_dot(end: Step) {
    let fake = Fake::one(script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go ahead\r\n"),
            body(),
            end,
        ],
    ]));
    // Retries allowed, yet a lost final reply is never retried (it could deliver twice).
    let client = Client::new(opts(&fake).retries(3)).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusUnknown, "{e}");
    assert!(!e.is_transient() && !e.is_permanent());
    let s = fake.finish_clean();
    assert_eq!(s.len(), 1, "StatusUnknown must not be retried");
}

#[test]
fn closed_after_the_final_dot_is_status_unknown() {
    lost_after_dot(Close);
}

#[test]
fn reset_after_the_final_dot_is_status_unknown() {
    lost_after_dot(Reset);
}

#[test]
fn closed_before_the_dot_is_retried() {
    // Lost during RCPT (before any data): transient, and retried on a new connection.
    let first = script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            Reset,
        ],
    ]);
    let second = script(&[
        hello(&[]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]);
    let fake = Fake::start(vec![first, second]);
    let client = Client::new(opts(&fake).retries(1)).unwrap();
    client.send(&email(&["b@y.example"], "hi\r\n")).unwrap();
    assert_eq!(fake.finish_clean().len(), 2);
}

/// A `421` (the server is closing, RFC 5321 §3.8) in the middle of a transaction ends it with
/// that reply, although more replies were due: lock-step (one more RCPT to send) and
/// pipelined (replies to the rest of the batch). (It used to be `Network` "peer closed the
/// connection", without the reply.)
#[test]
fn a_421_mid_transaction_ends_it_with_its_reply() {
    let lockstep = Fake::one(script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("421 4.3.2 shutting down\r\n"),
            Close,
        ],
    ]));
    let pipelined = Fake::one(script(&[
        hello(&["PIPELINING"]),
        vec![
            expect(
                "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n\
                 RCPT TO:<c@y.example>\r\nDATA\r\n",
            ),
            send("421 4.3.2 shutting down\r\n"),
            Close,
        ],
    ]));
    let mut wrong = Vec::new();
    for (name, fake) in [("lock-step", lockstep), ("pipelined", pipelined)] {
        let client = Client::new(opts(&fake)).unwrap();
        let e = client
            .send(&email(&["b@y.example", "c@y.example"], "hi\r\n"))
            .unwrap_err();
        fake.finish();
        if e.kind() != ErrorKind::Transient || e.reply().map(|r| r.code) != Some(421) {
            wrong.push(format!("{name}: {:?} reply {:?}: {e}", e.kind(), e.reply()));
        }
    }
    assert!(wrong.is_empty(), "the 421 was lost:\n{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Credentials mean authentication (issue 13, item 1)

/// A message the client refuses to start after EHLO: it says why, sends only EHLO and QUIT,
/// and does not retry.
struct Refusal {
    name: &'static str,
    keywords: &'static [&'static str],
    opts: fn(&Fake) -> Options,
    email: Email,
    /// Part of the error's text, when it matters.
    says: Option<&'static str>,
}

#[test]
fn missing_requirements_send_only_ehlo_and_quit() {
    let rows = vec![
        Refusal {
            name: "TLS required, STARTTLS not offered",
            keywords: &["PIPELINING", "AUTH PLAIN"],
            opts: |f| opts(f).tls(TlsMode::Required).login("user", "pass"),
            email: email(&["b@y.example"], "hi\r\n"),
            says: None,
        },
        Refusal {
            name: "UTF-8 address without SMTPUTF8",
            keywords: &["8BITMIME"],
            opts: |f| opts(f).retries(2),
            email: Email::new("a@x.example", &["\u{f1}@y.example"], "hi\r\n").unwrap(),
            says: None,
        },
        Refusal {
            name: "message over the declared SIZE",
            keywords: &["SIZE 10"],
            opts,
            email: email(&["b@y.example"], "0123456789\r\n"),
            says: None,
        },
        // Credentials (insecure AUTH allowed: the fake has no TLS), no AUTH offered.
        Refusal {
            name: "credentials, AUTH not offered",
            keywords: &["PIPELINING", "8BITMIME"],
            opts: |f| auth_opts(f, &[Mechanism::Plain]).retries(2),
            email: email(&["b@y.example"], "hi\r\n"),
            says: Some("does not offer AUTH"),
        },
        Refusal {
            name: "credentials, no common mechanism",
            keywords: &["AUTH GSSAPI NTLM"],
            opts: |f| auth_opts(f, &[Mechanism::Plain, Mechanism::Login]),
            email: email(&["b@y.example"], "hi\r\n"),
            says: Some("server offers GSSAPI NTLM, the client uses PLAIN LOGIN"),
        },
        // Credentials and no TLS mode chosen: the mode is Required, the credentials never
        // leave (see credentials_make_tls_required_by_default).
        Refusal {
            name: "credentials make TLS required, STARTTLS not offered",
            keywords: &["AUTH PLAIN LOGIN"],
            opts: |f| {
                let mut o = opts(f).login("user", "pass");
                o.tls = None;
                o
            },
            email: email(&["b@y.example"], "hi\r\n"),
            says: Some("STARTTLS"),
        },
    ];
    for row in rows {
        let name = row.name;
        let fake = Fake::one(script(&[hello(row.keywords), quit()]));
        let client = Client::new((row.opts)(&fake)).unwrap();
        let e = client.send(&row.email).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{name}: {e}");
        if let Some(says) = row.says {
            assert!(e.to_string().contains(says), "{name}: {e}");
        }
        let s = fake.finish_clean();
        assert_eq!(s.len(), 1, "{name}: a missing requirement is not retried");
        assert_eq!(s[0].text(), "EHLO client.example\r\nQUIT\r\n", "{name}");
    }
}

/// With credentials and no TLS mode chosen the mode is Required (what that does on the wire is
/// a row of missing_requirements_send_only_ehlo_and_quit); without credentials, or with AUTH
/// Never, it stays opportunistic.
#[test]
fn credentials_make_tls_required_by_default() {
    let mut o = Options::relay("mx.example").login("user", "pass");
    o.tls = None;
    assert_eq!(o.tls_mode(), TlsMode::Required);
    let mut o = Options::relay("mx.example");
    assert_eq!(o.tls_mode(), TlsMode::Opportunistic);
    o = o.login("u", "p").auth(AuthPolicy::Never);
    assert_eq!(o.tls_mode(), TlsMode::Opportunistic);
}

/// The old behaviour, only when asked for: AuthPolicy::IfAvailable sends unauthenticated.
#[test]
fn if_available_is_the_explicit_opt_in_to_send_unauthenticated() {
    let fake = Fake::one(script(&[
        hello(&[]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]));
    let client =
        Client::new(auth_opts(&fake, &[Mechanism::Plain]).auth(AuthPolicy::IfAvailable)).unwrap();
    let r = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap();
    assert_eq!(r.status(), Status::Delivered);
    fake.finish_clean();
}

#[test]
fn every_mechanism_refused_fails_before_mail() {
    let fake = Fake::one(script(&[
        hello(&["AUTH LOGIN PLAIN"]),
        vec![
            expect("AUTH LOGIN\r\n"),
            send("334 VXNlcm5hbWU6\r\n"),
            expect("dXNlcg==\r\n"),
            send("334 UGFzc3dvcmQ6\r\n"),
            expect("cGFzcw==\r\n"),
            send("535 5.7.8 no\r\n"),
            expect("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
            send("535 5.7.8 still no\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(auth_opts(&fake, &[Mechanism::Login, Mechanism::Plain])).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    assert_eq!(
        e.reply().map(|r| r.to_string()).as_deref(),
        Some("535 5.7.8 still no")
    );
    let s = fake.finish_clean();
    assert_eq!(s.len(), 1);
    assert!(!s[0].text().contains("MAIL"), "{:?}", s[0].text());
}

/// AUTH Never with credentials: nothing is sent about them, even over plaintext.
#[test]
fn auth_never_ignores_credentials() {
    let fake = Fake::one(script(&[
        hello(&["AUTH PLAIN"]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]));
    let client = Client::new(opts(&fake).login("u", "p").auth(AuthPolicy::Never)).unwrap();
    client.send(&email(&["b@y.example"], "hi\r\n")).unwrap();
    assert!(!fake.finish_clean()[0].text().contains("AUTH"));
}

// ---------------------------------------------------------------------------------------
// AUTH prompts as real servers send them (issue 13, item 5)

/// LOGIN answers username then password whatever the prompts say: text after the base64
/// (gen_smtp's case), empty prompts, prompts in the "wrong" order, undecodable prompts.
#[test]
fn auth_login_does_not_interpret_prompts() {
    for (user_prompt, pass_prompt) in [
        ("VXNlcm5hbWU6 some words", "UGFzc3dvcmQ6 more words"),
        ("", ""),
        ("UGFzc3dvcmQ6", "VXNlcm5hbWU6"),
        ("not base64!", "%%%"),
    ] {
        login_answers_by_step(user_prompt, pass_prompt);
    }
}

/// A third LOGIN prompt is cancelled with `*` (RFC 4954 §4), not answered by a guess.
#[test]
fn auth_login_third_prompt_is_cancelled() {
    let fake = Fake::one(script(&[
        hello(&["AUTH LOGIN"]),
        vec![
            expect("AUTH LOGIN\r\n"),
            send("334 VXNlcm5hbWU6\r\n"),
            expect("dXNlcg==\r\n"),
            send("334 UGFzc3dvcmQ6\r\n"),
            expect("cGFzcw==\r\n"),
            send("334 T1RQOg==\r\n"),
            expect("*\r\n"),
            send("501 5.7.0 cancelled\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(auth_opts(&fake, &[Mechanism::Login])).unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    assert_eq!(e.reply().map(|r| r.code), Some(501));
    fake.finish_clean();
}

#[test]
fn auth_oauthbearer_success_and_error_challenge() {
    // base64("n,a=user@example.com,\x01auth=Bearer tok\x01\x01")
    let ir = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWF1dGg9QmVhcmVyIHRvawEB";
    let t = auth_session(
        vec![expect(format!("AUTH OAUTHBEARER {ir}\r\n"))],
        "AUTH OAUTHBEARER XOAUTH2",
        &[Mechanism::OAuthBearer],
        "user@example.com",
        "tok",
    );
    assert_eq!(
        t,
        format!("EHLO client.example\r\nAUTH OAUTHBEARER {ir}\r\nQUIT\r\n")
    );
    // A refused token: the error comes as a 334 challenge, the client answers ^A (RFC 7628
    // §3.2.3) and gets the failure.
    let fake = Fake::one(script(&[
        hello(&["AUTH OAUTHBEARER"]),
        vec![
            expect(format!("AUTH OAUTHBEARER {ir}\r\n")),
            send("334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n"),
            expect("AQ==\r\n"),
            send("535 5.7.8 invalid token\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(
        opts(&fake)
            .allow_insecure_auth(true)
            .login("user@example.com", "tok")
            .mechanisms(&[Mechanism::OAuthBearer]),
    )
    .unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.reply().map(|r| r.code), Some(535), "{e}");
    fake.finish_clean();
}

// ---------------------------------------------------------------------------------------
// LMTP partial replies, and retries that never deliver twice (issue 13, item 4)

fn lmtp_head(rcpts: &[&str]) -> Vec<Step> {
    let mut cmds = String::from("MAIL FROM:<a@x.example>\r\n");
    let mut replies = String::from("250 2.1.0 ok\r\n");
    for r in rcpts {
        cmds.push_str(&format!("RCPT TO:<{r}>\r\n"));
        replies.push_str("250 2.1.5 ok\r\n");
    }
    cmds.push_str("DATA\r\n");
    replies.push_str("354 go ahead\r\n");
    vec![
        send("220 fake.example LMTP\r\n"),
        expect("LHLO client.example\r\n"),
        send(ehlo(&["PIPELINING", "ENHANCEDSTATUSCODES"])),
        expect(cmds),
        send(replies),
        body(),
    ]
}

fn outcomes(rs: &[smtpkit::client::RecipientResult]) -> Vec<(String, u16, Outcome)> {
    rs.iter()
        .map(|r| (r.mailbox.to_string(), r.reply.code, r.outcome))
        .collect()
}

/// The server answers the first recipient, then closes: that recipient keeps its 250, the
/// others are Unknown (not "all unknown"), and nothing is retried.
#[test]
fn lmtp_partial_replies_then_close_keep_what_arrived() {
    let fake = Fake::one(script(&[
        lmtp_head(&["one@y.example", "two@y.example", "three@y.example"]),
        vec![send("250 2.0.0 one delivered\r\n"), Close],
    ]));
    let client = Client::new(opts(&fake).protocol(Protocol::Lmtp).retries(3)).unwrap();
    let r = client
        .send(&email(
            &["one@y.example", "two@y.example", "three@y.example"],
            "hi\r\n",
        ))
        .unwrap();
    assert_eq!(r.status(), Status::Partial);
    assert_eq!(r.reply.to_string(), "250 2.0.0 one delivered");
    assert_eq!(
        outcomes(&r.recipients),
        [
            ("one@y.example".into(), 250, Outcome::Delivered),
            ("two@y.example".into(), 250, Outcome::Unknown),
            ("three@y.example".into(), 250, Outcome::Unknown),
        ]
    );
    assert!(r.recipients[0].delivered && !r.recipients[1].delivered);
    assert_eq!(
        fake.finish_clean().len(),
        1,
        "an unknown fate is never retried"
    );
}

/// No reply at all after the dot: every recipient Unknown, ErrorKind::StatusUnknown.
#[test]
fn lmtp_no_reply_at_all_is_status_unknown_for_everyone() {
    let fake = Fake::one(script(&[
        lmtp_head(&["one@y.example", "two@y.example"]),
        vec![Close],
    ]));
    let client = Client::new(opts(&fake).protocol(Protocol::Lmtp).retries(3)).unwrap();
    let e = client
        .send(&email(&["one@y.example", "two@y.example"], "hi\r\n"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StatusUnknown, "{e}");
    assert!(e.recipients().iter().all(|r| r.outcome == Outcome::Unknown));
    assert_eq!(fake.finish_clean().len(), 1);
}

/// A 421 among the per-recipient replies: the first recipient keeps its 250, the second gets
/// the 421 (deferred), the third never got a reply (unknown). The retry goes to the deferred
/// recipient only — never again to the one that has its 250 — and the receipt merges both.
#[test]
fn lmtp_421_mid_replies_retries_only_the_deferred_recipient() {
    let first = script(&[
        lmtp_head(&["one@y.example", "two@y.example", "three@y.example"]),
        vec![
            send("250 2.0.0 one delivered\r\n421 4.3.2 shutting down\r\n"),
            Close,
        ],
    ]);
    let second = script(&[
        lmtp_head(&["two@y.example"]),
        vec![send("250 2.0.0 two delivered\r\n")],
        quit(),
    ]);
    let fake = Fake::start(vec![first, second]);
    let client = Client::new(opts(&fake).protocol(Protocol::Lmtp).retries(1)).unwrap();
    let r = client
        .send(&email(
            &["one@y.example", "two@y.example", "three@y.example"],
            "hi\r\n",
        ))
        .unwrap();
    assert_eq!(
        outcomes(&r.recipients),
        [
            ("one@y.example".into(), 250, Outcome::Delivered),
            ("two@y.example".into(), 250, Outcome::Delivered),
            ("three@y.example".into(), 250, Outcome::Unknown),
        ]
    );
    assert_eq!(r.recipients[1].reply.to_string(), "250 2.0.0 two delivered");
    assert_eq!(r.status(), Status::Partial);
    let s = fake.finish_clean();
    assert_eq!(s.len(), 2);
    assert!(!s[1].text().contains("one@y.example"), "{:?}", s[1].text());
    assert!(
        !s[1].text().contains("three@y.example"),
        "{:?}",
        s[1].text()
    );
}

/// Without retries left, the 421 stays in the receipt as the deferred recipient's reply.
#[test]
fn lmtp_421_mid_replies_without_retries_is_reported_per_recipient() {
    let fake = Fake::one(script(&[
        lmtp_head(&["one@y.example", "two@y.example"]),
        vec![
            send("250 2.0.0 one delivered\r\n421 4.3.2 shutting down\r\n"),
            Close,
        ],
    ]));
    let client = Client::new(opts(&fake).protocol(Protocol::Lmtp)).unwrap();
    let r = client
        .send(&email(&["one@y.example", "two@y.example"], "hi\r\n"))
        .unwrap();
    assert_eq!(
        outcomes(&r.recipients),
        [
            ("one@y.example".into(), 250, Outcome::Delivered),
            ("two@y.example".into(), 421, Outcome::Deferred),
        ]
    );
    fake.finish_clean();
}

/// SMTP: a recipient deferred at RCPT (450) while the others got the message is retried
/// alone; the receipt merges both attempts. A refused (550) one is not retried.
#[test]
fn smtp_retry_goes_only_to_deferred_recipients() {
    let first = script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<one@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<later@y.example>\r\n"),
            send("450 4.2.1 try later\r\n"),
            expect("RCPT TO:<bad@y.example>\r\n"),
            send("550 5.1.1 no such user\r\n"),
            expect("DATA\r\n"),
            send("354 go ahead\r\n"),
            body(),
            send("250 2.0.0 queued as 1\r\n"),
        ],
        quit(),
    ]);
    let second = script(&[
        hello(&[]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<later@y.example>"),
        quit(),
    ]);
    let fake = Fake::start(vec![first, second]);
    let client = Client::new(opts(&fake).retries(1)).unwrap();
    let r = client
        .send(&email(
            &["one@y.example", "later@y.example", "bad@y.example"],
            "hi\r\n",
        ))
        .unwrap();
    assert_eq!(
        outcomes(&r.recipients),
        [
            ("one@y.example".into(), 250, Outcome::Delivered),
            ("later@y.example".into(), 250, Outcome::Delivered),
            ("bad@y.example".into(), 550, Outcome::Refused),
        ]
    );
    assert_eq!(r.reply.to_string(), "250 2.0.0 queued as 1");
    assert_eq!(fake.finish_clean().len(), 2);
}

/// The deferred recipient is deferred again on the retry: the receipt keeps its last reply.
#[test]
fn smtp_deferred_twice_keeps_the_last_reply() {
    let attempt = |code: &str| {
        script(&[
            hello(&[]),
            vec![
                expect("MAIL FROM:<a@x.example>\r\n"),
                send("250 ok\r\n"),
                expect("RCPT TO:<later@y.example>\r\n"),
                send(format!("{code} try later\r\n")),
            ],
            quit(),
        ])
    };
    let mut first = script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<one@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<later@y.example>\r\n"),
            send("450 4.2.1 first\r\n"),
            expect("DATA\r\n"),
            send("354 go ahead\r\n"),
            body(),
            send("250 2.0.0 queued\r\n"),
        ],
        quit(),
    ]);
    first.shrink_to_fit();
    let fake = Fake::start(vec![first, attempt("451 4.3.0")]);
    let client = Client::new(opts(&fake).retries(1)).unwrap();
    let r = client
        .send(&email(&["one@y.example", "later@y.example"], "hi\r\n"))
        .unwrap();
    assert_eq!(r.recipients[1].reply.to_string(), "451 4.3.0 try later");
    assert_eq!(r.recipients[1].outcome, Outcome::Deferred);
    assert_eq!(r.status(), Status::Partial);
    let s = fake.finish_clean();
    assert_eq!(s.len(), 2);
    assert!(s[1].text().starts_with(
        "EHLO client.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<later@y.example>\r\n"
    ));
}

/// A 4xx to the message itself leaves every recipient deferred: the retry goes to all.
#[test]
fn smtp_451_after_the_dot_retries_everyone() {
    let first = script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go ahead\r\n"),
            body(),
            send("451 4.3.0 try again\r\n"),
        ],
        quit(),
    ]);
    let second = script(&[
        hello(&[]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>"),
        quit(),
    ]);
    let fake = Fake::start(vec![first, second]);
    let client = Client::new(opts(&fake).retries(1)).unwrap();
    let r = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap();
    assert_eq!(r.status(), Status::Delivered);
    assert_eq!(fake.finish_clean().len(), 2);
}

// ---------------------------------------------------------------------------------------
// DSN and raw parameters (issue 13, item 6)

fn dsn_envelope() -> Envelope {
    Envelope::new("a@x.example", &["b@y.example", "c@y.example"])
        .unwrap()
        .ret(Ret::Headers)
        .envid("QQ 314+159=")
        .notify_all(Notify {
            success: false,
            failure: true,
            delay: true,
        })
        .notify(1, Notify::default())
        .orcpt(
            0,
            Orcpt {
                addr_type: "rfc822".into(),
                address: "B+x@y.example".into(),
            },
        )
}

#[test]
fn dsn_parameters_when_offered() {
    let fake = Fake::one(script(&[
        hello(&["DSN", "SIZE 1000"]),
        vec![
            expect("MAIL FROM:<a@x.example> SIZE=4 RET=HDRS ENVID=QQ+20314+2B159+3D\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;B+2Bx@y.example\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<c@y.example> NOTIFY=NEVER\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go\r\n"),
            body(),
            send("250 2.0.0 ok\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    client
        .send_envelope(&dsn_envelope(), &b"hi\r\n".to_vec())
        .unwrap();
    fake.finish_clean();
}

#[test]
fn dsn_parameters_left_out_when_not_offered_or_an_error_when_required() {
    let fake = Fake::one(script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<c@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go\r\n"),
            body(),
            send("250 2.0.0 ok\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    client
        .send_envelope(&dsn_envelope(), &b"hi\r\n".to_vec())
        .unwrap();
    fake.finish_clean();

    let fake = Fake::one(script(&[hello(&["PIPELINING"]), quit()]));
    let client = Client::new(opts(&fake)).unwrap();
    let e = client
        .send_envelope(&dsn_envelope().dsn_required(true), &b"hi\r\n".to_vec())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    assert_eq!(
        fake.finish_clean()[0].text(),
        "EHLO client.example\r\nQUIT\r\n"
    );
}

#[test]
fn raw_mail_and_rcpt_parameters() {
    let fake = Fake::one(script(&[
        hello(&["MT-PRIORITY", "XFOO"]),
        vec![
            expect("MAIL FROM:<a@x.example> MT-PRIORITY=3 XFOO\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example> XRCPT=a,b\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go\r\n"),
            body(),
            send("250 2.0.0 ok\r\n"),
        ],
        quit(),
    ]));
    let env = Envelope::new("a@x.example", &["b@y.example"])
        .unwrap()
        .mail_param("MT-PRIORITY", Some("3"))
        .mail_param("XFOO", None)
        .rcpt_param(0, "XRCPT", Some("a,b"));
    let client = Client::new(opts(&fake)).unwrap();
    client.send_envelope(&env, &b"hi\r\n".to_vec()).unwrap();
    fake.finish_clean();
}

/// Parameters that could inject anything, or repeat what the client sets itself, are refused
/// before a byte is sent; after HELO no parameter can be sent at all.
#[test]
fn bad_raw_parameters_send_nothing() {
    let base = || Envelope::new("a@x.example", &["b@y.example"]).unwrap();
    for (what, env) in [
        ("space in value", base().mail_param("X", Some("a b"))),
        ("= in value", base().mail_param("X", Some("a=b"))),
        ("CRLF", base().mail_param("X", Some("a\r\nRSET"))),
        ("bad keyword", base().mail_param("X_Y", None)),
        ("own keyword", base().mail_param("size", Some("1"))),
        (
            "rcpt own keyword",
            base().rcpt_param(0, "NOTIFY", Some("NEVER")),
        ),
        ("long envid", base().envid("x".repeat(101))),
    ] {
        let fake = Fake::one(script(&[hello(&["DSN"]), quit()]));
        let client = Client::new(opts(&fake)).unwrap();
        let e = client.send_envelope(&env, &b"hi\r\n".to_vec()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert_eq!(
            fake.finish_clean()[0].text(),
            "EHLO client.example\r\nQUIT\r\n",
            "{what}"
        );
    }
    let fake = Fake::one(script(&[
        vec![
            send(GREETING),
            expect(EHLO),
            send("502 5.5.1 no EHLO\r\n"),
            expect("HELO client.example\r\n"),
            send("250 fake.example\r\n"),
        ],
        quit(),
    ]));
    let client = Client::new(opts(&fake)).unwrap();
    let e = client
        .send_envelope(&base().mail_param("XFOO", None), &b"hi\r\n".to_vec())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    fake.finish_clean();
}

// ---------------------------------------------------------------------------------------
// Bodies streamed from Read (issue 13, item 7)

/// Hands out its bytes a few at a time, so that line ends and leading dots fall across reads.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
    /// Fail with an I/O error after this many bytes.
    fail_at: Option<usize>,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.fail_at.is_some_and(|f| self.pos >= f) {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn streamed_body_is_stuffed_like_a_byte_body() {
    let text = b"Subject: s\n\n.one\r\n..two\r.three\nlast".to_vec();
    let wire = "Subject: s\r\n\r\n..one\r\n...two\r\n..three\r\nlast\r\n.\r\n";
    for step in [1, 2, 3, 7, 64] {
        let fake = Fake::one(script(&[
            hello(&["SIZE", "8BITMIME"]),
            vec![
                // The declared size is the caller's; unknown 8-bitness declares 8BITMIME.
                expect("MAIL FROM:<a@x.example> SIZE=1234 BODY=8BITMIME\r\n"),
                send("250 ok\r\n"),
                expect("RCPT TO:<b@y.example>\r\n"),
                send("250 ok\r\n"),
                expect("DATA\r\n"),
                send("354 go\r\n"),
                body(),
                send("250 2.0.0 ok\r\n"),
            ],
            quit(),
        ]));
        let client = Client::new(opts(&fake)).unwrap();
        let env = Envelope::new("a@x.example", &["b@y.example"]).unwrap();
        let reader = Trickle {
            data: text.clone(),
            pos: 0,
            step,
            fail_at: None,
        };
        client
            .send_envelope(&env, &ReaderBody::new(reader, Some(1234)))
            .unwrap();
        let s = fake.finish_clean();
        assert!(
            s[0].text().contains(&format!("DATA\r\n{wire}")),
            "step {step}: {:?}",
            s[0].text()
        );
    }
}

/// A file body is reopened for a retry; a one-shot reader is not sent twice.
#[test]
fn file_body_is_retried_reader_body_is_not() {
    let dir = std::env::temp_dir().join(format!("smtpkit-body-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.eml");
    std::fs::write(&path, b"hello\nworld\n").unwrap();
    let first = script(&[
        hello(&["SIZE"]),
        vec![
            expect("MAIL FROM:<a@x.example> SIZE=14\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go\r\n"),
            body(),
            send("451 4.3.0 later\r\n"),
        ],
        quit(),
    ]);
    let second = script(&[
        hello(&["SIZE"]),
        vec![
            expect("MAIL FROM:<a@x.example> SIZE=14\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go\r\n"),
            expect("hello\r\nworld\r\n.\r\n"),
            send("250 2.0.0 ok\r\n"),
        ],
        quit(),
    ]);
    let fake = Fake::start(vec![first.clone(), second]);
    let client = Client::new(opts(&fake).retries(1)).unwrap();
    let env = Envelope::new("a@x.example", &["b@y.example"]).unwrap();
    client
        .send_envelope(&env, &FileBody::new(&path).unwrap())
        .unwrap();
    assert_eq!(fake.finish_clean().len(), 2);

    let fake = Fake::start(vec![first, script(&[hello(&["SIZE"]), quit()])]);
    let client = Client::new(opts(&fake).retries(1)).unwrap();
    let reader = ReaderBody::new(std::fs::File::open(&path).unwrap(), Some(14));
    let e = client.send_envelope(&env, &reader).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("already consumed"), "{e}");
    // The second attempt sent nothing: the body is opened before MAIL.
    let s = fake.finish_clean();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].text(), "EHLO client.example\r\nQUIT\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A body that fails to read half-way: the connection is dropped without the final dot, so
/// the server discards the partial message; the error says so, and nothing is retried.
#[test]
fn body_read_error_never_sends_the_final_dot() {
    let fake = Fake::one(script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<b@y.example>\r\n"),
            send("250 ok\r\n"),
            expect("DATA\r\n"),
            send("354 go\r\n"),
        ],
    ]));
    let client = Client::new(opts(&fake).retries(2)).unwrap();
    let env = Envelope::new("a@x.example", &["b@y.example"]).unwrap();
    let reader = Trickle {
        data: b"line one\r\nline two\r\n".to_vec(),
        pos: 0,
        step: 10,
        fail_at: Some(10),
    };
    let e = client
        .send_envelope(&env, &ReaderBody::new(reader, None))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("disk on fire"), "{e}");
    let s = fake.finish_clean();
    assert_eq!(s.len(), 1);
    assert!(
        s[0].text().ends_with("DATA\r\nline one\r\n"),
        "{:?}",
        s[0].text()
    );
}

// ---------------------------------------------------------------------------------------
// Source address (issue 13, item 8)

#[test]
fn source_address_is_bound() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        let _ = std::io::Write::write_all(&mut s, b"554 5.7.1 go away\r\n");
        let mut sink = Vec::new();
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = std::io::Read::read_to_end(&mut s, &mut sink);
        peer
    });
    let client = Client::new(
        Options::relay(addr.to_string())
            .tls(TlsMode::Never)
            .retries(0)
            .source_address("127.0.0.2".parse().unwrap()),
    )
    .unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.reply().map(|r| r.code), Some(554), "{e}");
    assert_eq!(t.join().unwrap().ip().to_string(), "127.0.0.2");
    // An address of the other family cannot reach an IPv4 server: a clear error.
    let client = Client::new(
        Options::relay(addr.to_string())
            .tls(TlsMode::Never)
            .retries(0)
            .source_address("::1".parse().unwrap()),
    )
    .unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert!(e.to_string().contains("from ::1"), "{e}");
}

/// When opportunistic TLS was given up on (the handshake failed) and the cleartext attempt
/// then fails, the error says why there was no TLS.
#[test]
fn a_failure_after_the_tls_fallback_names_the_tls_failure() {
    let first = vec![
        send(GREETING),
        expect(EHLO),
        send(ehlo(&["STARTTLS", "AUTH PLAIN"])),
        expect("STARTTLS\r\n"),
        send("220 2.0.0 go ahead\r\n"),
        ReadSome,
        send("this is not TLS\r\n"),
        Close,
    ];
    let second = script(&[hello(&["STARTTLS", "AUTH PLAIN"]), quit()]);
    let fake = Fake::start(vec![first, second]);
    let client = Client::new(
        opts(&fake)
            .tls(TlsMode::Opportunistic)
            .login("user", "pass"),
    )
    .unwrap();
    let e = client.send(&email(&["b@y.example"], "hi\r\n")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("refusing to send credentials without TLS")
            && msg.contains("(without TLS, after ")
            && msg.contains("TLS handshake failed"),
        "{msg}"
    );
    let s = fake.finish_clean();
    assert_eq!(s[1].text(), "EHLO client.example\r\nQUIT\r\n");
}

/// Every recipient refused, one for now (450), one for good (550): the error is permanent, yet
/// the deferred recipient still gets its retry (and only it).
#[test]
fn a_deferred_recipient_is_retried_even_beside_a_permanent_refusal() {
    let first = script(&[
        hello(&[]),
        vec![
            expect("MAIL FROM:<a@x.example>\r\n"),
            send("250 ok\r\n"),
            expect("RCPT TO:<later@y.example>\r\n"),
            send("450 4.2.1 try later\r\n"),
            expect("RCPT TO:<bad@y.example>\r\n"),
            send("550 5.1.1 no such user\r\n"),
        ],
        quit(),
    ]);
    let second = script(&[
        hello(&[]),
        lockstep_tx("MAIL FROM:<a@x.example>", "RCPT TO:<later@y.example>"),
        quit(),
    ]);
    let fake = Fake::start(vec![first, second]);
    let client = Client::new(opts(&fake).retries(1)).unwrap();
    let r = client
        .send(&email(&["later@y.example", "bad@y.example"], "hi\r\n"))
        .unwrap();
    assert_eq!(
        outcomes(&r.recipients),
        [
            ("later@y.example".into(), 250, Outcome::Delivered),
            ("bad@y.example".into(), 550, Outcome::Refused),
        ]
    );
    assert_eq!(fake.finish_clean().len(), 2);
}
