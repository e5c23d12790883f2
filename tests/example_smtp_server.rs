//! The `smtp_server` example as users run it: a child process with a Maildir, driven over TCP.

mod common;
use common::tools::{assert_exit, example, run};

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::Client;

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A running `smtp_server` with its own Maildir; killed and removed on drop.
struct Mta {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Mta {
    /// Starts the example on 127.0.0.1:0 with a fresh Maildir and `args`, and waits for its
    /// "listening" line to learn the port.
    fn start(args: &[&str]) -> Mta {
        let n = DIRS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("smtpkit-example-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(example("smtp_server"))
            .args(["--listen", "127.0.0.1:0", "--maildir"])
            .arg(&dir)
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
                    let _ = tx.send(addr);
                }
                log2.lock().unwrap().push(line);
            }
        });
        let mut mta = Mta {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            dir,
            log,
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => {
                mta.addr = a
                    .parse()
                    .unwrap_or_else(|_| panic!("bad address {a:?} in {:?}", mta.log()))
            }
            Err(e) => panic!(
                "no 'listening on' line from smtp_server ({e}): {:?}",
                mta.log()
            ),
        }
        mta
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The file names in a Maildir subdirectory, sorted.
    fn files(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.join(sub))
            .unwrap_or_else(|e| panic!("{sub}/: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn read(&self, name: &str) -> String {
        let bytes = std::fs::read(self.dir.join("new").join(name)).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    /// Waits (bounded) until `sub/` holds `n` files.
    fn wait_files(&mut self, sub: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.files(sub).len() != n {
            assert!(
                Instant::now() < deadline,
                "{sub}/ holds {:?}, expected {n} file(s); log {:?}",
                self.files(sub),
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn assert_running(&mut self) {
        if let Some(s) = self.child.try_wait().unwrap() {
            panic!("smtp_server exited ({s}); log {:?}", self.log());
        }
    }

    fn client(&self) -> Client {
        Client::greeted(self.addr)
    }
}

impl Drop for Mta {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// EHLO, MAIL, RCPTs (each accepted), DATA.
fn open_data(c: &mut Client, from: &str, to: &[&str]) {
    c.cmd("EHLO client.example", "250 ");
    c.cmd(&format!("MAIL FROM:<{from}>"), "250 ");
    for t in to {
        c.cmd(&format!("RCPT TO:<{t}>"), "250 ");
    }
    c.cmd("DATA", "354 ");
}

/// True when nothing arrives from the server for `d`.
fn silent(c: &mut Client, d: Duration) -> bool {
    if !c.reader.buffer().is_empty() {
        return false;
    }
    let s = c.reader.get_ref();
    s.set_read_timeout(Some(d)).unwrap();
    let mut b = [0u8; 1];
    let r = s.peek(&mut b);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    matches!(r, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

const QUEUED: &str = "250 2.0.0 OK: queued as ";

#[test]
fn stores_each_message_in_new_before_the_250() {
    let s = Mta::start(&[]);
    let mut c = s.client();
    open_data(
        &mut c,
        "from@example.org",
        &["one@example.net", "two@example.net"],
    );
    c.send("Subject: two\r\n\r\n..leading dot\r\n...two dots\r\n..\r\nend\r\n.\r\n");
    let reply = c.read_line();
    // Read the directory the moment the 250 is in: the file must already be there.
    let new = s.files("new");
    let name = reply
        .strip_prefix(QUEUED)
        .unwrap_or_else(|| panic!("reply {reply:?}"))
        .to_string();
    assert_eq!(new, [name.as_str()], "new/ when the 250 arrived");
    assert_eq!(s.files("tmp"), Vec::<String>::new());
    assert_eq!(s.files("cur"), Vec::<String>::new());
    assert_eq!(
        s.read(&name),
        "Return-Path: <from@example.org>\r\n\
         X-Original-To: <one@example.net>\r\n\
         X-Original-To: <two@example.net>\r\n\
         Subject: two\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"
    );

    // The null sender.
    c.cmd("MAIL FROM:<>", "250 ");
    c.cmd("RCPT TO:<one@example.net>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("Subject: bounce\r\n\r\nreturned\r\n.\r\n");
    let reply = c.read_line();
    let new = s.files("new");
    let name2 = reply
        .strip_prefix(QUEUED)
        .unwrap_or_else(|| panic!("reply {reply:?}"))
        .to_string();
    assert_ne!(name2, name);
    let mut want = vec![name.clone(), name2.clone()];
    want.sort();
    assert_eq!(new, want);
    assert_eq!(
        s.read(&name2),
        "Return-Path: <>\r\nX-Original-To: <one@example.net>\r\nSubject: bounce\r\n\r\nreturned\r\n"
    );
    c.cmd("QUIT", "221 ");
    assert!(c.closed());
    assert_eq!(s.files("tmp"), Vec::<String>::new());
}

#[test]
fn refuse_and_defer_lists() {
    let mut s = Mta::start(&[
        "--refuse",
        "x@example.org",
        "--refuse",
        "x2@example.org",
        "--defer",
        "y@example.org",
        "--defer",
        "y2@example.org",
    ]);
    let mut c = s.client();
    c.cmd("EHLO client.example", "250 ");
    c.cmd("MAIL FROM:<from@example.org>", "250 ");
    let refused = "550 5.1.1 Mailbox unavailable";
    let deferred = "450 4.2.1 Mailbox temporarily unavailable";
    assert_eq!(c.cmd("RCPT TO:<x@example.org>", "550 "), refused);
    assert_eq!(c.cmd("RCPT TO:<x2@example.org>", "550 "), refused);
    assert_eq!(c.cmd("RCPT TO:<y@example.org>", "450 "), deferred);
    assert_eq!(c.cmd("RCPT TO:<y2@example.org>", "450 "), deferred);
    // The example compares addresses without regard to case.
    assert_eq!(c.cmd("RCPT TO:<X@Example.ORG>", "550 "), refused);
    c.cmd("RCPT TO:<ok@example.org>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("Subject: ok\r\n\r\nbody\r\n.\r\n");
    let name = c.expect(QUEUED)[QUEUED.len()..].to_string();
    assert_eq!(
        s.read(&name),
        "Return-Path: <from@example.org>\r\nX-Original-To: <ok@example.org>\r\nSubject: ok\r\n\r\nbody\r\n"
    );
    c.cmd("QUIT", "221 ");
    s.wait_files("new", 1);
}

#[test]
fn size_and_recipient_limits() {
    let mut s = Mta::start(&["--max-size", "100", "--max-recipients", "2"]);
    let mut c = s.client();
    c.line("EHLO client.example");
    let ehlo = c.reply();
    assert!(ehlo.iter().any(|l| l == "250-SIZE 100"), "{ehlo:?}");
    c.cmd("MAIL FROM:<from@example.org> SIZE=200", "552 5.3.4 ");

    // 200 octets of body, CRLF-ended: refused only once the terminator is in.
    let mut body = String::from("Subject: big\r\n\r\n");
    while body.len() < 198 {
        body.push('X');
    }
    body.push_str("\r\n");
    assert_eq!(body.len(), 200);
    c.cmd("MAIL FROM:<from@example.org>", "250 ");
    c.cmd("RCPT TO:<one@example.net>", "250 ");
    c.cmd("DATA", "354 ");
    c.send(&body);
    assert!(
        silent(&mut c, Duration::from_millis(300)),
        "a reply before the terminator"
    );
    c.send(".\r\n");
    assert_eq!(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
    assert_eq!(s.files("new"), Vec::<String>::new());
    assert_eq!(s.files("tmp"), Vec::<String>::new());
    c.cmd("NOOP", "250 ");

    c.cmd("MAIL FROM:<from@example.org>", "250 ");
    c.cmd("RCPT TO:<one@example.net>", "250 ");
    c.cmd("RCPT TO:<two@example.net>", "250 ");
    assert_eq!(
        c.cmd("RCPT TO:<three@example.net>", "452 "),
        "452 4.5.3 Too many recipients"
    );
    c.cmd("DATA", "354 ");
    c.send("Subject: small\r\n\r\nok\r\n.\r\n");
    let name = c.expect(QUEUED)[QUEUED.len()..].to_string();
    assert_eq!(
        s.read(&name),
        "Return-Path: <from@example.org>\r\nX-Original-To: <one@example.net>\r\n\
         X-Original-To: <two@example.net>\r\nSubject: small\r\n\r\nok\r\n"
    );
    c.cmd("QUIT", "221 ");
    s.wait_files("new", 1);
}

#[test]
fn lmtp_per_recipient_replies() {
    let mut s = Mta::start(&["--lmtp", "--fail-data", "z@example.org"]);
    let mut c = Client::connect(s.addr);
    let greeting = c.read_line();
    assert!(greeting.ends_with(" LMTP"), "{greeting:?}");
    c.cmd("LHLO client.example", "250 ");
    c.cmd("MAIL FROM:<from@example.org>", "250 ");
    c.cmd("RCPT TO:<a@example.org>", "250 ");
    c.cmd("RCPT TO:<z@example.org>", "250 ");
    c.cmd("RCPT TO:<c@example.org>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("Subject: lmtp\r\n\r\n..dot\r\n.\r\n");
    let first = c.read_line();
    let second = c.read_line();
    let third = c.read_line();
    let name = first
        .strip_prefix(QUEUED)
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_string();
    assert_eq!(second, "452 4.2.2 Mailbox full");
    assert_eq!(third, format!("{QUEUED}{name}"), "same file for both");
    assert_eq!(s.files("new"), [name.as_str()]);
    assert_eq!(
        s.read(&name),
        "Return-Path: <from@example.org>\r\nX-Original-To: <a@example.org>\r\n\
         X-Original-To: <c@example.org>\r\nSubject: lmtp\r\n\r\n.dot\r\n"
    );
    assert!(silent(&mut c, Duration::from_millis(100)), "a 4th reply");
    c.cmd("QUIT", "221 ");
    assert_eq!(s.files("tmp"), Vec::<String>::new());
    s.assert_running();
}

#[test]
fn bare_lf_reject_and_normalize() {
    // Default: reject, after the real terminator; `\n.\n` does not end DATA.
    let s = Mta::start(&[]);
    let mut c = s.client();
    open_data(&mut c, "from@example.org", &["one@example.net"]);
    c.send("Subject: lf\r\n\r\nbare\nlf\n.\nMAIL FROM:<evil@example.org>\r\n");
    assert!(
        silent(&mut c, Duration::from_millis(300)),
        "a reply before the terminator"
    );
    c.send(".\r\n");
    assert_eq!(
        c.read_line(),
        "550 5.6.11 Bare CR or LF not allowed in message"
    );
    c.cmd("NOOP", "250 ");
    assert_eq!(s.files("new"), Vec::<String>::new());
    assert_eq!(s.files("tmp"), Vec::<String>::new());
    c.cmd("QUIT", "221 ");
    drop(s);

    let s = Mta::start(&["--bare-lf", "normalize"]);
    let mut c = s.client();
    open_data(&mut c, "from@example.org", &["one@example.net"]);
    c.send("Subject: lf\r\n\r\nbare\nlf\r\n.\r\n");
    let name = c.expect(QUEUED)[QUEUED.len()..].to_string();
    assert_eq!(
        s.read(&name),
        "Return-Path: <from@example.org>\r\nX-Original-To: <one@example.net>\r\n\
         Subject: lf\r\n\r\nbare\r\nlf\r\n"
    );
    c.cmd("QUIT", "221 ");
}

/// Sends `text` one byte every 200 ms from a thread until told to stop or a write fails.
fn trickle(stream: &TcpStream, text: &'static [u8]) -> (Arc<AtomicBool>, thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, mut w) = (Arc::clone(&stop), stream.try_clone().unwrap());
    let t = thread::spawn(move || {
        for b in text.iter().cycle().take(50) {
            if s2.load(Ordering::SeqCst) || w.write_all(&[*b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    (stop, t)
}

#[test]
fn timeout_cuts_off_a_trickling_client() {
    let mut s = Mta::start(&["--timeout", "1"]);
    // Reading a command.
    let mut c = s.client();
    let started = Instant::now();
    let (stop, t) = trickle(&c.stream, b"HELO trickle.example\r\n");
    let reply = c.read_line();
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(reply, "421 4.4.2 Timeout, closing connection");
    assert!(took < Duration::from_secs(5), "cut off after {took:?}");
    assert!(took >= Duration::from_millis(500), "cut off after {took:?}");
    assert!(c.closed());

    // Reading a message.
    let mut c = s.client();
    open_data(&mut c, "from@example.org", &["one@example.net"]);
    let started = Instant::now();
    let (stop, t) = trickle(&c.stream, b"a line of the message\r\n");
    let reply = c.read_line();
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(reply, "421 4.4.2 Timeout, closing connection");
    assert!(took < Duration::from_secs(5), "cut off after {took:?}");
    assert!(c.closed());
    s.wait_files("tmp", 0);
    assert_eq!(s.files("new"), Vec::<String>::new());
    s.assert_running();
}

#[test]
fn hostname_in_greeting() {
    let s = Mta::start(&["--hostname", "mx.test"]);
    let mut c = Client::connect(s.addr);
    assert_eq!(c.read_line(), "220 mx.test ESMTP");
    c.line("EHLO client.example");
    assert_eq!(c.reply()[0], "250-mx.test");
    c.cmd("QUIT", "221 ");
}

#[test]
fn client_vanishing_mid_data_leaves_nothing() {
    let mut s = Mta::start(&[]);
    let mut c = s.client();
    open_data(&mut c, "from@example.org", &["one@example.net"]);
    c.send("Subject: half\r\n\r\nthe first half of a mess");
    // The handler has started writing the message in tmp/.
    s.wait_files("tmp", 1);
    c.stream.shutdown(Shutdown::Both).unwrap();
    drop(c);
    s.wait_files("tmp", 0);
    assert_eq!(s.files("new"), Vec::<String>::new());
    s.assert_running();

    // The next client is served as usual.
    let mut c = s.client();
    open_data(&mut c, "from@example.org", &["two@example.net"]);
    c.send("Subject: whole\r\n\r\nall of it\r\n.\r\n");
    let name = c.expect(QUEUED)[QUEUED.len()..].to_string();
    assert_eq!(s.files("new"), [name.as_str()]);
    assert_eq!(
        s.read(&name),
        "Return-Path: <from@example.org>\r\nX-Original-To: <two@example.net>\r\n\
         Subject: whole\r\n\r\nall of it\r\n"
    );
    c.cmd("QUIT", "221 ");
    assert_eq!(s.files("tmp"), Vec::<String>::new());
}

/// `--proxy-protocol` alone would let any client pick its address: the catcher refuses to
/// start without `--proxy-trusted`, and with it takes headers from the trusted balancer only.
#[test]
fn proxy_protocol_needs_trusted_balancers() {
    let o = run(
        Command::new(example("smtp_server")).args(["--listen", "127.0.0.1:0", "--proxy-protocol"]),
        None,
        Duration::from_secs(20),
    );
    assert_exit(&o, 2, "--proxy-protocol without --proxy-trusted");
    assert!(o.stderr.contains("--proxy-trusted"), "{}", o.stderr);
    let s = Mta::start(&["--proxy-protocol", "--proxy-trusted", "127.0.0.0/8"]);
    let mut c = Client::connect(s.addr);
    c.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n");
    c.expect("220 ");
    c.cmd("QUIT", "221 ");
    let s = Mta::start(&["--proxy-protocol", "--proxy-trusted", "10.0.0.0/8"]);
    let mut c = Client::connect(s.addr);
    c.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n");
    assert!(c.closed(), "a header from an untrusted sender is refused");
}

/// No configuration value can panic: a timeout too large for the clock means "very long".
#[test]
fn huge_timeout_does_not_panic() {
    let mut s = Mta::start(&["--timeout", "18446744073709551615"]);
    let mut c = s.client();
    c.cmd("EHLO x.example", "250 ");
    c.cmd("NOOP", "250 ");
    c.cmd("QUIT", "221 ");
    s.assert_running();
}
