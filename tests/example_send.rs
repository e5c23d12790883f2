//! The `send` example as users run it: a child process against in-test servers, with its
//! exact stdout lines and exit status.

mod common;
use common::tools::{example, wait_bounded};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::*;
use smtpkit::Reply;
use smtpkit::address::Mailbox;
use smtpkit::command::Param;
use smtpkit::sasl::{Credentials, Mechanism};
use smtpkit::server::{Envelope, Handler, Protocol, Server, ServerHandle};

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout:\n{}--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    })
}

/// Runs `send` with `args`, feeding `stdin`; bounded to 30 s.
fn send(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(example("send"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start send");
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let status = wait_bounded(child, Duration::from_secs(30), &format!("send {args:?}"));
    let _ = writer.join();
    Output {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

const MESSAGE: &[u8] = b"Subject: test\n\nHello\n.leading dot\n";
const ON_WIRE: &[u8] = b"Subject: test\r\n\r\nHello\r\n.leading dot\r\n";

/// `--from a@x.example --relay ADDR --hostname client.example` plus one `--to` each.
fn base(addr: SocketAddr, to: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "--from",
        "a@x.example",
        "--relay",
        &addr.to_string(),
        "--hostname",
        "client.example",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for t in to {
        v.push("--to".into());
        v.push(t.to_string());
    }
    v
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn message_file(dir: &pki::TempDir) -> String {
    dir.write("message.eml", MESSAGE).display().to_string()
}

/// One run against the default server (which refuses `bad*` recipients): the exit code, the
/// report on stdout, and what the server received.
struct Delivery {
    name: &'static str,
    to: &'static [&'static str],
    /// The message comes from a file named on the command line, else from stdin.
    from_file: bool,
    code: i32,
    stdout: &'static str,
    /// The recipients of the one message received; None: no message, and one connection
    /// only (a permanent refusal is not retried).
    received: Option<&'static [&'static str]>,
}

#[test]
fn delivery_outcomes_and_exit_codes() {
    example("send");
    let rows = [
        Delivery {
            name: "all delivered, from a file",
            to: &["one@x.example", "two@x.example"],
            from_file: true,
            code: 0,
            stdout: "one@x.example 250 2.0.0 OK: queued\n\
                     two@x.example 250 2.0.0 OK: queued\n\
                     result: delivered 250 2.0.0 OK: queued\n",
            received: Some(&["one@x.example", "two@x.example"]),
        },
        Delivery {
            name: "one refused is partial",
            to: &["ok@x.example", "bad@x.example"],
            from_file: false,
            code: 1,
            stdout: "ok@x.example 250 2.0.0 OK: queued\n\
                     bad@x.example 550 5.1.1 Mailbox unavailable\n\
                     result: partial 250 2.0.0 OK: queued\n",
            received: Some(&["ok@x.example"]),
        },
        Delivery {
            name: "all refused is failed",
            to: &["bad1@x.example", "bad2@x.example"],
            from_file: false,
            code: 2,
            stdout: "bad1@x.example 550 5.1.1 Mailbox unavailable\n\
                     bad2@x.example 550 5.1.1 Mailbox unavailable\n\
                     result: failed 550 5.1.1 Mailbox unavailable\n",
            received: None,
        },
    ];
    for row in rows {
        let name = row.name;
        let (srv, rec) = default_server();
        let dir = pki::TempDir::new("send");
        let mut args = base(srv.local_addr(), row.to);
        let stdin = if row.from_file {
            args.push(message_file(&dir));
            &b""[..]
        } else {
            MESSAGE
        };
        let o = send(&strs(&args), stdin);
        assert_eq!(o.code, Some(row.code), "{name}: {o:?}");
        assert_eq!(o.stdout, row.stdout, "{name}: {o:?}");
        wait_closed(&rec, 1);
        let r = rec.lock().unwrap();
        match row.received {
            Some(to) => {
                assert_eq!(r.messages.len(), 1, "{name}");
                assert_eq!(r.messages[0].body, ON_WIRE, "{name}");
                assert_eq!(r.messages[0].from.as_deref(), Some("a@x.example"), "{name}");
                assert_eq!(r.messages[0].to, to, "{name}");
            }
            None => {
                assert!(r.messages.is_empty(), "{name}");
                assert_eq!(r.connects, 1, "{name}: a permanent refusal is not retried");
            }
        }
    }
}

#[test]
fn message_from_stdin() {
    example("send");
    let (srv, rec) = default_server();
    for extra in [None, Some("-")] {
        let mut args = base(srv.local_addr(), &["one@x.example"]);
        args.extend(extra.map(String::from));
        let o = send(&strs(&args), MESSAGE);
        assert_eq!(o.code, Some(0), "{o:?}");
        assert_eq!(
            o.stdout,
            "one@x.example 250 2.0.0 OK: queued\nresult: delivered 250 2.0.0 OK: queued\n"
        );
    }
    wait_closed(&rec, 2);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 2);
    assert!(r.messages.iter().all(|m| m.body == ON_WIRE));
}

#[test]
fn relay_without_port_uses_port_flag() {
    example("send");
    let (srv, _rec) = default_server();
    let port = srv.local_addr().port().to_string();
    let o = send(
        &[
            "--from",
            "a@x.example",
            "--to",
            "one@x.example",
            "--relay",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "never",
            "--retries",
            "0",
        ],
        MESSAGE,
    );
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.stdout
            .ends_with("result: delivered 250 2.0.0 OK: queued\n")
    );
}

#[test]
fn verbose_logs_go_to_stderr() {
    example("send");
    let (srv, _rec) = default_server();
    let mut args = base(srv.local_addr(), &["one@x.example"]);
    args.push("-v".into());
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(
        o.stdout,
        "one@x.example 250 2.0.0 OK: queued\nresult: delivered 250 2.0.0 OK: queued\n"
    );
    assert!(o.stderr.contains("EHLO client.example"), "{o:?}");
    assert!(o.stderr.contains("RCPT TO:<one@x.example>"), "{o:?}");
}

// ---------------------------------------------------------------------------------------
// Replies without enhanced codes, multi-line replies

struct Multi;
impl Handler for Multi {
    fn on_data(&mut self, _env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let _ = smtpkit::server::collect(data);
        Ok(Reply::with(250, (2, 0, 0), "first line\nsecond line"))
    }
}

#[test]
fn multiline_reply_joined_and_missing_enhanced_code() {
    example("send");
    for (enhanced, line) in [
        (true, "250 2.0.0 first line second line"),
        (false, "250 - first line second line"),
    ] {
        let srv = Server::builder()
            .enhanced_status_codes(enhanced)
            .bind("127.0.0.1:0")
            .unwrap()
            .spawn(|_| Multi)
            .unwrap();
        let args = base(srv.local_addr(), &["one@x.example"]);
        let o = send(&strs(&args), MESSAGE);
        assert_eq!(o.code, Some(0), "{o:?}");
        let summary = line.replace(" - ", " ");
        assert_eq!(
            o.stdout,
            format!("one@x.example {line}\nresult: delivered {summary}\n"),
            "{o:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// LMTP

struct Lmtp;
impl Handler for Lmtp {
    fn on_rcpt(&mut self, to: &Mailbox, _p: &[Param], _e: &Envelope) -> Result<(), Reply> {
        if to.local_part.starts_with("bad") {
            return Err(Reply::NO_SUCH_USER);
        }
        Ok(())
    }
    fn on_data_lmtp(&mut self, env: &Envelope, data: &mut dyn Read) -> Vec<Result<Reply, Reply>> {
        let _ = smtpkit::server::collect(data);
        env.recipients
            .iter()
            .map(|r| {
                if r.mailbox.local_part == "full" {
                    Err(Reply::with(452, (4, 2, 2), "Mailbox full"))
                } else {
                    Ok(Reply::QUEUED)
                }
            })
            .collect()
    }
}

#[test]
fn lmtp_per_recipient_replies() {
    example("send");
    let srv = Server::builder()
        .protocol(Protocol::Lmtp)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| Lmtp)
        .unwrap();
    let mut args = base(
        srv.local_addr(),
        &[
            "one@x.example",
            "full@x.example",
            "bad@x.example",
            "two@x.example",
        ],
    );
    args.push("--lmtp".into());
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert_eq!(
        o.stdout,
        "one@x.example 250 2.0.0 OK: queued\n\
         full@x.example 452 4.2.2 Mailbox full\n\
         bad@x.example 550 5.1.1 Mailbox unavailable\n\
         two@x.example 250 2.0.0 OK: queued\n\
         result: partial 250 2.0.0 OK: queued\n",
        "{o:?}"
    );
    // Every recipient accepted.
    let mut args = base(srv.local_addr(), &["one@x.example", "two@x.example"]);
    args.push("--lmtp".into());
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(0), "{o:?}");
    // Only refusals: failed.
    let mut args = base(srv.local_addr(), &["full@x.example"]);
    args.push("--lmtp".into());
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert_eq!(
        o.stdout, "full@x.example 452 4.2.2 Mailbox full\nresult: failed 452 4.2.2 Mailbox full\n",
        "{o:?}"
    );
}

// ---------------------------------------------------------------------------------------
// TLS and AUTH

fn tls_server() -> (ServerHandle, Shared) {
    let rec: Shared = Default::default();
    let r2 = Arc::clone(&rec);
    let srv = Server::builder()
        .hostname("test.example")
        .tls(pki::server_tls())
        .bind("127.0.0.1:0")
        .unwrap()
        .bind_implicit_tls("127.0.0.1:0")
        .unwrap()
        .spawn(move |_| Recorder {
            rec: Arc::clone(&r2),
        })
        .unwrap();
    (srv, rec)
}

#[test]
fn tls_required_and_implicit_with_ca() {
    example("send");
    let (srv, rec) = tls_server();
    let dir = pki::TempDir::new("send-tls");
    let ca = dir
        .write("ca.pem", pki::pki().ca.as_bytes())
        .display()
        .to_string();
    let starttls = format!("localhost:{}", srv.local_addrs()[0].port());
    let implicit_port = srv.local_addrs()[1].port().to_string();
    let common = ["--from", "a@x.example", "--to", "one@x.example"];
    let o = send(
        &[
            &common[..],
            &["--relay", &starttls, "--tls", "required", "--ca", &ca],
        ]
        .concat(),
        MESSAGE,
    );
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(
        o.stdout,
        "one@x.example 250 2.0.0 OK: queued\nresult: delivered 250 2.0.0 OK: queued\n"
    );
    let o = send(
        &[
            &common[..],
            &[
                "--relay",
                "localhost",
                "--port",
                &implicit_port,
                "--tls",
                "implicit",
                "--ca",
                &ca,
            ],
        ]
        .concat(),
        MESSAGE,
    );
    assert_eq!(o.code, Some(0), "{o:?}");
    // Without the test CA the certificate is not trusted: failed, nothing delivered.
    let o = send(
        &[
            &common[..],
            &["--relay", &starttls, "--tls", "required", "--retries", "0"],
        ]
        .concat(),
        MESSAGE,
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    let last = o.stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("result: failed - ") && last.contains("TLS"),
        "{o:?}"
    );
    // A --ca file that is not PEM: an error before anything is sent.
    let junk = dir
        .write("junk.pem", b"not a certificate")
        .display()
        .to_string();
    let o = send(
        &[
            &common[..],
            &["--relay", &starttls, "--tls", "required", "--ca", &junk],
        ]
        .concat(),
        MESSAGE,
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    wait_closed(&rec, 2);
    assert_eq!(rec.lock().unwrap().messages.len(), 2);
}

/// Accepts alice/s3cret; counts messages.
struct Auth(Arc<Mutex<usize>>);
impl Handler for Auth {
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        if c.username() == "alice" && c.check_password("s3cret") {
            Ok(())
        } else {
            Err(Reply::AUTH_FAILED)
        }
    }
    fn on_data(&mut self, _env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let _ = smtpkit::server::collect(data);
        *self.0.lock().unwrap() += 1;
        Ok(Reply::QUEUED)
    }
}

#[test]
fn credentials_never_go_out_without_tls() {
    example("send");
    // --tls never with --user: refused before connecting.
    let (srv, rec) = default_server();
    let mut args = base(srv.local_addr(), &["one@x.example"]);
    args.extend(["--tls", "never", "--user", "alice", "--password", "s3cret"].map(String::from));
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert_eq!(
        o.stdout,
        "one@x.example - - not delivered (see the result line)\n\
         result: failed - credentials would be sent without TLS: use a TLS mode or \
         allow_insecure_auth\n",
        "{o:?}"
    );
    // Printed once: not again in the log.
    assert!(!o.stderr.contains("without TLS"), "{o:?}");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(rec.lock().unwrap().connects, 0, "nothing may be sent");

    // A plaintext server offering AUTH, opportunistic TLS (not offered): no credentials, no
    // message; with --allow-insecure-auth the send goes through.
    let count = Arc::new(Mutex::new(0));
    let c2 = Arc::clone(&count);
    let srv = Server::builder()
        .auth_mechanisms(&[Mechanism::Plain, Mechanism::Login])
        .allow_insecure_auth(true)
        .require_auth(true)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(move |_| Auth(Arc::clone(&c2)))
        .unwrap();
    let mut args = base(srv.local_addr(), &["one@x.example"]);
    args.extend(["--user", "alice", "--password", "s3cret"].map(String::from));
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        o.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("result: failed - ")
            && o.stdout.contains("without TLS"),
        "{o:?}"
    );
    assert_eq!(*count.lock().unwrap(), 0);
    args.push("--allow-insecure-auth".into());
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(*count.lock().unwrap(), 1);
    // A wrong password: the server's 535.
    let mut args = base(srv.local_addr(), &["one@x.example"]);
    args.extend(
        [
            "--user",
            "alice",
            "--password",
            "wrong",
            "--allow-insecure-auth",
        ]
        .map(String::from),
    );
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert_eq!(
        o.stdout,
        "one@x.example 535 5.7.8 Authentication credentials invalid\n\
         result: failed 535 5.7.8 Authentication credentials invalid\n",
        "{o:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Connection lost after the final dot

/// A raw fake: greets, accepts everything, and closes the connection as soon as it has the
/// final dot. Counts connections until stopped.
fn closes_after_dot() -> (SocketAddr, Arc<AtomicBool>, JoinHandle<usize>) {
    closes_after_dot_saying(b"")
}

/// Like `closes_after_dot`, writing `after` (say, an LMTP reply for the first recipient)
/// before closing.
fn closes_after_dot_saying(
    after: &'static [u8],
) -> (SocketAddr, Arc<AtomicBool>, JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let t = thread::spawn(move || {
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(_) if stop2.load(Ordering::SeqCst) || Instant::now() > deadline => return n,
                Err(_) => {
                    thread::sleep(Duration::from_millis(2));
                    continue;
                }
            };
            n += 1;
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut w = stream.try_clone().unwrap();
            let mut r = BufReader::new(stream);
            let _ = w.write_all(b"220 fake ESMTP\r\n");
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let reply: &[u8] = match line.get(..4).unwrap_or("") {
                    "EHLO" => b"250 fake\r\n",
                    "DATA" => b"354 go ahead\r\n",
                    "QUIT" => b"221 bye\r\n",
                    _ => b"250 ok\r\n",
                };
                let _ = w.write_all(reply);
                if reply.starts_with(b"354") {
                    while r.read_line(&mut line).unwrap_or(0) > 0 && !line.ends_with("\n.\r\n") {}
                    let _ = w.write_all(after);
                    break; // close without (more) replies
                }
            }
        }
    });
    (addr, stop, t)
}

#[test]
fn connection_lost_after_the_dot_is_unknown() {
    example("send");
    let (addr, stop, t) = closes_after_dot();
    let args = base(addr, &["one@x.example", "two@x.example"]);
    let o = send(&strs(&args), MESSAGE);
    stop.store(true, Ordering::SeqCst);
    let connections = t.join().unwrap();
    assert_eq!(o.code, Some(2), "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{o:?}");
    for (line, rcpt) in lines.iter().zip(["one@x.example", "two@x.example"]) {
        assert_eq!(
            *line,
            format!(
                "{rcpt} - - status unknown: the connection was lost after the final dot, \
                 the server may have the message"
            )
        );
    }
    assert!(
        lines[2].starts_with(
            "result: unknown - the connection was lost after the final dot, \
             the server may have the message ("
        ),
        "{o:?}"
    );
    assert_eq!(connections, 1, "an unknown outcome must not be retried");
}

/// LMTP: the first recipient's reply arrives, then the connection is lost: that recipient is
/// delivered, the other's status is unknown (partial, exit 1), and nothing is retried.
#[test]
fn lmtp_lost_after_the_first_reply_keeps_it() {
    example("send");
    let (addr, stop, t) = closes_after_dot_saying(b"250 2.0.0 one delivered\r\n");
    let mut args = base(addr, &["one@x.example", "two@x.example"]);
    args.push("--lmtp".into());
    let o = send(&strs(&args), MESSAGE);
    stop.store(true, Ordering::SeqCst);
    let connections = t.join().unwrap();
    assert_eq!(o.code, Some(1), "{o:?}");
    assert_eq!(
        o.stdout,
        "one@x.example 250 2.0.0 one delivered\n\
         two@x.example - - status unknown: the connection was lost after the final dot, \
         the server may have the message\n\
         result: partial 250 2.0.0 one delivered\n",
        "{o:?}"
    );
    assert_eq!(connections, 1, "an unknown outcome must not be retried");
}

// ---------------------------------------------------------------------------------------
// Usage

#[test]
fn usage_errors_exit_2() {
    example("send");
    let cases: &[&[&str]] = &[
        &[],
        &["--from", "a@x.example", "--relay", "127.0.0.1:1"],
        &["--to", "b@x.example", "--relay", "127.0.0.1:1"],
        &["--from", "a@x.example", "--to", "b@x.example"],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "--mx",
            "x.example",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "--tls",
            "sometimes",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "--user",
            "alice",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "--bogus",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--mx",
            "x.example",
            "--port",
            "0",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--mx",
            "x.example",
            "--dns",
            "not-an-address",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "--dns",
            "127.0.0.1:53",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "--retries",
            "many",
        ],
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "one.eml",
            "two.eml",
        ],
        &["--from"],
    ];
    for args in cases {
        let o = send(args, b"");
        assert_eq!(o.code, Some(2), "{args:?}: {o:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {o:?}");
        assert!(o.stderr.contains("usage: send"), "{args:?}: {o:?}");
    }
}

#[test]
fn unreadable_file_and_bad_address_exit_2() {
    example("send");
    let o = send(
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@x.example",
            "--relay",
            "127.0.0.1:1",
            "/nonexistent/message.eml",
        ],
        b"",
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stderr.contains("cannot read"), "{o:?}");
    let (srv, rec) = default_server();
    let args = base(srv.local_addr(), &["not an address"]);
    let o = send(&strs(&args), MESSAGE);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        o.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("result: failed - bad address"),
        "{o:?}"
    );
    assert_eq!(rec.lock().unwrap().connects, 0);
}

// ---------------------------------------------------------------------------------------
// --mx with --dns

/// A fake nameserver on 127.0.0.1 answering every query NXDOMAIN; returns the queries' names.
fn nxdomain_nameserver() -> (SocketAddr, Arc<AtomicBool>, JoinHandle<Vec<String>>) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let t = thread::spawn(move || {
        let mut names = Vec::new();
        let mut buf = [0u8; 1500];
        let deadline = Instant::now() + Duration::from_secs(30);
        while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            // QNAME (labels) and QTYPE, for the test to check.
            let mut i = 12;
            let mut labels = Vec::new();
            while i < n && q[i] != 0 {
                let len = q[i] as usize;
                labels.push(String::from_utf8_lossy(&q[i + 1..(i + 1 + len).min(n)]).into_owned());
                i += 1 + len;
            }
            let qtype = q
                .get(i + 1..i + 3)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
            names.push(format!("{} {qtype}", labels.join(".")));
            // The query itself, turned into a response: QR, RD kept, RA, RCODE 3 (NXDOMAIN).
            let mut r = q.to_vec();
            r[2] = 0x80 | (q[2] & 0x01);
            r[3] = 0x80 | 3;
            let _ = sock.send_to(&r, peer);
        }
        names
    });
    (addr, stop, t)
}

#[test]
fn mx_route_uses_the_dns_flag() {
    example("send");
    let (dns, stop, t) = nxdomain_nameserver();
    let o = send(
        &[
            "--from",
            "a@x.example",
            "--to",
            "b@example.invalid",
            "--mx",
            "example.invalid",
            "--dns",
            &dns.to_string(),
            "--retries",
            "0",
        ],
        MESSAGE,
    );
    stop.store(true, Ordering::SeqCst);
    let queries = t.join().unwrap();
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        queries.iter().any(|q| q == "example.invalid 15"),
        "no MX query for example.invalid reached --dns: {queries:?}"
    );
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{o:?}");
    assert!(lines[0].starts_with("b@example.invalid - - "), "{o:?}");
    assert!(
        lines[1].starts_with("result: failed - ") && lines[1].contains("NXDOMAIN"),
        "{o:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Issue 13: --insecure, the TLS failure's cause, the credentials rule, DSN flags

/// STARTTLS and implicit TLS with the test certificate (not in the webpki roots), AUTH
/// (after TLS) for alice/s3cret, DSN on; records every envelope.
#[derive(Default)]
struct Seen {
    envelopes: Vec<Envelope>,
    auth: usize,
}

struct SeenHandler(Arc<Mutex<Seen>>);

impl Handler for SeenHandler {
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        self.0.lock().unwrap().auth += 1;
        if c.username() == "alice" && c.check_password("s3cret") {
            Ok(())
        } else {
            Err(Reply::AUTH_FAILED)
        }
    }
    fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let _ = smtpkit::server::collect(data);
        self.0.lock().unwrap().envelopes.push(env.clone());
        Ok(Reply::QUEUED)
    }
}

fn seen_server(auth: bool) -> (ServerHandle, Arc<Mutex<Seen>>) {
    let seen: Arc<Mutex<Seen>> = Default::default();
    let s2 = Arc::clone(&seen);
    let mut b = Server::builder()
        .hostname("test.example")
        .tls(pki::server_tls())
        .dsn(true);
    if auth {
        b = b.auth_mechanisms(&[Mechanism::Plain, Mechanism::Login]);
    }
    let srv = b
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(move |_| SeenHandler(Arc::clone(&s2)))
        .unwrap();
    (srv, seen)
}

fn tls_base(srv: &ServerHandle) -> Vec<String> {
    [
        "--from",
        "alice@x.example",
        "--to",
        "one@x.example",
        "--relay",
        &format!("localhost:{}", srv.local_addr().port()),
        "--retries",
        "0",
    ]
    .map(String::from)
    .to_vec()
}

fn with(mut v: Vec<String>, more: &[&str]) -> Vec<String> {
    v.extend(more.iter().map(|s| s.to_string()));
    v
}

/// A certificate that does not verify: `--tls required` fails with the cause in the result
/// line (no -v), printed once; `--insecure` encrypts without verifying; the default
/// (opportunistic) encrypts anyway and says why the certificate was not verified in the log.
#[test]
fn tls_failure_cause_and_insecure() {
    example("send");
    let (srv, seen) = seen_server(false);
    let o = send(
        &strs(&with(tls_base(&srv), &["--tls", "required"])),
        MESSAGE,
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    let cause = "the certificate of localhost was not accepted: it is signed by an unknown \
                 certificate authority (self-signed, or a private CA); fix: trust the CA";
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines[0], "one@x.example - - not delivered (see the result line)",
        "{o:?}"
    );
    assert!(
        lines[1].starts_with("result: failed - localhost: TLS handshake failed: ")
            && lines[1].contains(cause),
        "{o:?}"
    );
    assert!(!o.stderr.contains("not accepted"), "printed twice: {o:?}");

    let o = send(
        &strs(&with(tls_base(&srv), &["--tls", "required", "--insecure"])),
        MESSAGE,
    );
    assert_eq!(o.code, Some(0), "{o:?}");
    // --flag=value reaches the flag: implicit TLS against a STARTTLS port is a TLS failure
    // (a usage error would print nothing to stdout).
    let o = send(
        &strs(&with(tls_base(&srv), &["--tls=implicit", "--insecure"])),
        MESSAGE,
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        o.stdout
            .contains("result: failed - localhost: TLS handshake failed"),
        "{o:?}"
    );

    // Default (opportunistic): encrypted although unverified, and the log says why.
    let o = send(&strs(&tls_base(&srv)), MESSAGE);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.stderr
            .contains("opportunistic TLS without a verified certificate")
            && o.stderr.contains("unknown certificate authority"),
        "{o:?}"
    );
    thread::sleep(Duration::from_millis(100));
    let s = seen.lock().unwrap();
    assert_eq!(s.envelopes.len(), 2);
    assert!(
        s.envelopes.iter().all(|e| e.tls.is_some()),
        "both encrypted"
    );
}

/// With --user the transaction never starts unauthenticated: a server without AUTH fails the
/// send (nothing delivered); with AUTH the credentials go only over verified TLS (--ca), or
/// with --insecure.
#[test]
fn user_never_sends_unauthenticated() {
    example("send");
    let (srv, seen) = seen_server(false);
    let dir = pki::TempDir::new("send-user");
    let ca = dir
        .write("ca.pem", pki::pki().ca.as_bytes())
        .display()
        .to_string();
    let creds = ["--user", "alice", "--password", "s3cret"];
    let o = send(
        &strs(&with(with(tls_base(&srv), &creds), &["--ca", &ca])),
        MESSAGE,
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        o.stdout.ends_with("does not offer AUTH\n") && o.stdout.contains("result: failed - "),
        "{o:?}"
    );
    assert!(seen.lock().unwrap().envelopes.is_empty());

    let (srv, seen) = seen_server(true);
    // The certificate does not verify: no credentials (and so no message).
    let o = send(&strs(&with(tls_base(&srv), &creds)), MESSAGE);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stdout.contains("did not verify"), "{o:?}");
    assert_eq!(seen.lock().unwrap().auth, 0);
    for extra in [["--ca", ca.as_str()], ["--insecure", "-v"]] {
        let o = send(&strs(&with(with(tls_base(&srv), &creds), &extra)), MESSAGE);
        assert_eq!(o.code, Some(0), "{extra:?}: {o:?}");
    }
    thread::sleep(Duration::from_millis(100));
    let s = seen.lock().unwrap();
    assert_eq!(s.auth, 2);
    assert!(
        s.envelopes
            .iter()
            .all(|e| e.auth.as_deref() == Some("alice"))
    );
}

#[test]
fn dsn_flags() {
    example("send");
    let (srv, seen) = seen_server(false);
    let args = [
        "--from",
        "a@x.example",
        "--notify",
        "FAILURE,DELAY",
        "--to",
        "one@x.example",
        "--to",
        "two@x.example",
        "--notify=never",
        "--to",
        "three@x.example",
        "--ret",
        "HDRS",
        "--envid",
        "ENV-42",
        "--relay",
        &srv.local_addr().to_string(),
        "--tls",
        "never",
    ];
    let o = send(&args, MESSAGE);
    assert_eq!(o.code, Some(0), "{o:?}");
    thread::sleep(Duration::from_millis(100));
    let s = seen.lock().unwrap();
    let env = &s.envelopes[0];
    assert_eq!(env.params.ret, Some(smtpkit::dsn::Ret::Headers));
    assert_eq!(env.params.envid.as_deref(), Some("ENV-42"));
    let notify = |i: usize| env.recipients[i].notify;
    let fd = smtpkit::dsn::Notify {
        success: false,
        failure: true,
        delay: true,
    };
    assert_eq!(
        [notify(0), notify(1), notify(2)],
        [Some(fd), Some(smtpkit::dsn::Notify::default()), Some(fd)]
    );
}

#[test]
fn new_flags_bad_values_exit_2() {
    example("send");
    let base = [
        "--from",
        "a@x.example",
        "--to",
        "b@x.example",
        "--relay",
        "127.0.0.1:1",
    ];
    for (extra, says) in [
        (&["--ret", "PARTIAL"][..], "--ret"),
        (&["--notify", "SOMETIMES"][..], "--notify"),
        (&["--notify", "NEVER,SUCCESS"][..], "--notify"),
        (&["--envid", ""][..], "--envid"),
        (&["--envid", "has space"][..], "--envid"),
        (&["--insecure", "--ca", "x.pem"][..], "--insecure"),
        (&["--lmtp=yes"][..], "--lmtp"),
        (&["--ret"][..], "--ret"),
    ] {
        let o = send(&[&base[..], extra].concat(), b"");
        assert_eq!(o.code, Some(2), "{extra:?}: {o:?}");
        assert!(o.stdout.is_empty(), "{extra:?}: {o:?}");
        let first = o.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with("send: ") && first.contains(says),
            "{extra:?}: {o:?}"
        );
    }
}
