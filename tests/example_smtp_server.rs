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
    out: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
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
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start smtp_server");
        let stderr = child.stderr.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let out: Arc<Mutex<String>> = Default::default();
        let out2 = Arc::clone(&out);
        let out_reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut buf) {
                out2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let log: Arc<Mutex<Vec<String>>> = Default::default();
        let (tx, rx) = mpsc::channel();
        let log2 = Arc::clone(&log);
        // Drains stderr for the child's whole life, so it never blocks on a full pipe.
        let err_reader = thread::spawn(move || {
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
            out,
            readers: vec![out_reader, err_reader],
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

    /// What the example wrote to stdout so far.
    fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1), waits (bounded) for the exit and for
    /// the output to be read to its end.
    fn stop(&mut self, signal: &str) -> std::process::ExitStatus {
        let o = run(
            Command::new("kill").args(["-s", signal, &self.child.id().to_string()]),
            None,
            Duration::from_secs(10),
        );
        assert_exit(&o, 0, "kill");
        self.stop_waiting()
    }

    /// Waits (bounded) for the exit after a signal, and for the output to be read to its end.
    fn stop_waiting(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "smtp_server still running 20 s after a signal; log {:?}",
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        status
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
    // An ordinary event, not something for the operator: no warning.
    assert!(
        !s.log().iter().any(|l| l.contains("[WARN]")),
        "{:?}",
        s.log()
    );

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

// ---------------------------------------------------------------------------------------------
// A tool for people: graceful stop, log lines, start-up checks, flags

/// SIGTERM: an idle session is told `421 4.3.2` at once, a message in progress may finish
/// within the grace period, one still unfinished after it gets `421 4.3.2`; finished
/// messages stay, `tmp/` is empty, exit status 0, one line with the totals.
#[test]
fn sigterm_stops_gracefully() {
    // A grace period long enough for this test to finish a message on a loaded machine.
    let mut s = Mta::start(&["--grace", "5"]);
    // A finished message before the signal.
    let mut c = s.client();
    open_data(&mut c, "from@example.org", &["one@example.net"]);
    c.send("Subject: kept\r\n\r\nbody\r\n.\r\n");
    let kept = c.expect(QUEUED)[QUEUED.len()..].to_string();
    // An idle session, a session that finishes its message within the grace period, and
    // one that never finishes.
    let mut idle = s.client();
    idle.cmd("EHLO idle.example", "250 ");
    let mut finisher = s.client();
    open_data(&mut finisher, "from@example.org", &["two@example.net"]);
    finisher.send("Subject: finished during the grace period\r\n\r\nfirst half, ");
    let mut stuck = s.client();
    open_data(&mut stuck, "from@example.org", &["three@example.net"]);
    stuck.send("Subject: never finished\r\n\r\nhalf a messa");
    s.wait_files("tmp", 2);

    let kill = Command::new("kill")
        .args(["-s", "TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(
        idle.read_line(),
        "421 4.3.2 Service shutting down, closing connection"
    );
    assert!(idle.closed());
    finisher.send("second half\r\n.\r\n");
    let finished = finisher.expect(QUEUED)[QUEUED.len()..].to_string();
    assert_eq!(
        stuck.read_line(),
        "421 4.3.2 Service shutting down, closing connection"
    );
    assert!(stuck.closed());

    let status = s.stop_waiting();
    assert_eq!(status.code(), Some(0), "{status}; log {:?}", s.log());
    let mut want = vec![kept, finished];
    want.sort();
    assert_eq!(s.files("new"), want);
    assert_eq!(s.files("tmp"), Vec::<String>::new(), "a partial file left");
    let log = s.log();
    assert!(
        log.iter().any(|l| l.contains("[INFO] SIGTERM: stopping")),
        "{log:?}"
    );
    let totals = log.last().unwrap();
    assert!(
        totals.contains("[INFO] stopped: sessions=0 accepted=4 "),
        "{log:?}"
    );
    assert!(totals.contains(" messages=2 "), "{totals}");
}

/// SIGINT (Ctrl-C) with nobody connected: exit 0 at once.
#[test]
fn sigint_with_no_session_exits_0() {
    let mut s = Mta::start(&[]);
    let status = s.stop("INT");
    assert_eq!(status.code(), Some(0), "{status}; log {:?}", s.log());
    assert!(
        s.log()
            .iter()
            .any(|l| l.contains("[INFO] SIGINT: stopping")),
        "{:?}",
        s.log()
    );
    assert!(TcpStream::connect(s.addr).is_err(), "still listening");
}

/// The subject is taken from the header block as it streams to the file, whether the blank
/// line after it arrives in one read or straddles two (the server passes on what each
/// packet brings; the pauses make separate packets).
#[test]
fn the_subject_when_the_blank_line_straddles_reads() {
    let mut s = Mta::start(&[]);
    let splits: [&[&str]; 3] = [
        &["Subject: one\r\n", "\r\nbody\r\n.\r\n"],
        &["Subject: two\r\n\r", "\nbody\r\n.\r\n"],
        &["Subj", "ect: three\r\nX: y\r\n", "\r\n", "body\r\n.\r\n"],
    ];
    let mut c = s.client();
    for pieces in splits {
        open_data(&mut c, "from@example.org", &["to@example.net"]);
        for piece in pieces {
            c.send(piece);
            thread::sleep(Duration::from_millis(50));
        }
        c.expect(QUEUED);
        c.cmd("RSET", "250 ");
    }
    c.cmd("QUIT", "221 ");
    assert_eq!(s.stop("TERM").code(), Some(0));
    let subjects: Vec<String> = s
        .log()
        .into_iter()
        .filter(|l| l.contains(" stored "))
        .filter_map(|l| l.split(" subject=").nth(1).map(str::to_string))
        .collect();
    assert_eq!(
        subjects,
        ["\"one\"", "\"two\"", "\"three\""],
        "{:?}",
        s.log()
    );
}

/// The catcher's own logger (in place of simplelog's TermLogger) writes the time as the
/// `time` crate's RFC 3339 did: UTC, `Z`, the nanoseconds' trailing zeros dropped.
#[allow(dead_code)]
#[path = "../examples/smtp_server/logger.rs"]
mod logger;

#[test]
fn log_time_is_rfc3339_as_simplelog_wrote_it() {
    let at = |secs, nanos| {
        let mut s = String::new();
        logger::push_time(&mut s, std::time::UNIX_EPOCH + Duration::new(secs, nanos));
        s
    };
    assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
    assert_eq!(at(951_782_400, 500_000_000), "2000-02-29T00:00:00.5Z");
    assert_eq!(at(1_796_583_484, 12_782_000), "2026-12-06T18:58:04.012782Z");
    // The same second again (the text up to the seconds is kept per thread), then the next.
    assert_eq!(at(1_796_583_484, 0), "2026-12-06T18:58:04Z");
    assert_eq!(at(1_796_583_485, 10), "2026-12-06T18:58:05.00000001Z");
    assert_eq!(at(1_709_164_800, 1), "2024-02-29T00:00:00.000000001Z");
    assert_eq!(
        at(4_102_444_799, 999_999_999),
        "2099-12-31T23:59:59.999999999Z"
    );
    assert_eq!(at(253_402_300_799, 120), "9999-12-31T23:59:59.00000012Z");
}

/// One INFO line per stored message (peer, session, file, from, to, size, subject), and
/// `--print` writes the message to stdout the way aiosmtpd's debugging server does.
#[test]
fn a_line_per_message_and_print() {
    let mut s = Mta::start(&["--print"]);
    let mut c = s.client();
    open_data(
        &mut c,
        "from@example.org",
        &["one@example.net", "two@example.net"],
    );
    c.send("Subject: =?utf-8?q?h=C3=A9llo?= \"you\"\r\n\r\nline one\r\n..dot\r\n.\r\n");
    let name = c.expect(QUEUED)[QUEUED.len()..].to_string();
    let port = c.stream.local_addr().unwrap().port();
    c.cmd("QUIT", "221 ");
    let status = s.stop("TERM");
    assert_eq!(status.code(), Some(0));
    let size = "Subject: =?utf-8?q?h=C3=A9llo?= \"you\"\r\n\r\nline one\r\n.dot\r\n".len();
    let want = format!(
        "[INFO] 127.0.0.1:{port} session 1: stored {name}: from=<from@example.org> \
         to=<one@example.net>,<two@example.net> size={size} subject=\"héllo \\\"you\\\"\""
    );
    let lines: Vec<String> = s
        .log()
        .into_iter()
        .filter(|l| l.contains(" stored "))
        .collect();
    assert_eq!(lines.len(), 1, "{:?}", s.log());
    assert!(lines[0].ends_with(&want), "{:?}\nwant {want}", lines[0]);
    // `2026-12-06T18:58:04.012782Z [INFO] ...`: the time, then the level.
    let (time, _) = lines[0].split_once(" [INFO] ").unwrap();
    assert!(
        time.len() >= 20 && time.ends_with('Z') && &time[10..11] == "T",
        "{time}"
    );
    assert_eq!(
        s.stdout(),
        "---------- MESSAGE FOLLOWS ----------\n\
         Return-Path: <from@example.org>\n\
         X-Original-To: <one@example.net>\n\
         X-Original-To: <two@example.net>\n\
         Subject: =?utf-8?q?h=C3=A9llo?= \"you\"\n\
         X-Peer: 127.0.0.1\n\
         \n\
         line one\n\
         .dot\n\
         ------------ END MESSAGE ------------\n"
    );
}

/// `-v`: a DEBUG line when a connection opens and when it closes, with the session id.
#[test]
fn verbose_logs_connections() {
    let mut s = Mta::start(&["-v"]);
    let mut c = s.client();
    let port = c.stream.local_addr().unwrap().port();
    c.cmd("QUIT", "221 ");
    assert!(c.closed());
    s.stop("TERM");
    let log = s.log();
    let opened = format!(
        "[DEBUG] 127.0.0.1:{port} session 1: connected to {}",
        s.addr
    );
    let closed = format!("[DEBUG] 127.0.0.1:{port} session 1: closed");
    assert!(log.iter().any(|l| l.ends_with(&opened)), "{log:?}");
    assert!(log.iter().any(|l| l.ends_with(&closed)), "{log:?}");
}

#[test]
fn stats_every_logs_one_key_value_line() {
    let mut s = Mta::start(&["--stats-every", "1"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        if let Some(l) = s.log().into_iter().find(|l| l.contains("[INFO] stats ")) {
            break l;
        }
        assert!(Instant::now() < deadline, "no stats line: {:?}", s.log());
        thread::sleep(Duration::from_millis(50));
    };
    let fields = line.split("[INFO] stats ").nth(1).unwrap();
    let keys: Vec<&str> = fields
        .split(' ')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{kv:?} in {line}"));
            assert!(v.parse::<u64>().is_ok(), "{kv:?}");
            k
        })
        .collect();
    assert_eq!(keys[..3], ["sessions", "accepted", "refused_busy"]);
    assert!(keys.contains(&"messages"), "{keys:?}");
    s.assert_running();
}

/// Runs the example expecting it to exit by itself.
fn run_example(args: &[&str]) -> common::tools::Output {
    run(
        Command::new(example("smtp_server")).args(args),
        None,
        Duration::from_secs(20),
    )
}

/// Start-up problems: one line naming the problem, exit status 2, nothing listening.
#[test]
fn startup_checks_exit_2_with_one_line() {
    // A Maildir that cannot be written (a file in the way; the tests may run as root, for
    // whom permission bits do not stop a write).
    let blocker = std::env::temp_dir().join(format!("smtpkit-blocker-{}", std::process::id()));
    std::fs::write(&blocker, "not a directory").unwrap();
    let maildir = blocker.join("maildir");
    let o = run_example(&[
        "--listen",
        "127.0.0.1:0",
        "--maildir",
        maildir.to_str().unwrap(),
    ]);
    assert_exit(&o, 2, "unwritable Maildir");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", o.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "smtp_server: cannot write to the Maildir: {}/tmp: ",
            maildir.display()
        )),
        "{}",
        o.stderr
    );
    std::fs::remove_file(&blocker).unwrap();

    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("smtpkit-taken-{}", std::process::id()));
    let o = run_example(&["--listen", &addr, "--maildir", dir.to_str().unwrap()]);
    assert_exit(&o, 2, "port in use");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", o.stderr);
    assert!(
        lines[0].starts_with(&format!("smtp_server: cannot listen on {addr}: ")),
        "{}",
        o.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);

    // A bad value names the flag.
    let o = run_example(&["--max-sessions", "0"]);
    assert_exit(&o, 2, "--max-sessions 0");
    assert_eq!(
        o.stderr.lines().next(),
        Some("smtp_server: bad --max-sessions \"0\"")
    );
}

/// `--max-sessions` and `--max-per-ip`: past the limit, `421 4.7.0` at once.
#[test]
fn session_limits() {
    let s = Mta::start(&["--max-sessions", "1"]);
    let mut first = s.client();
    first.cmd("EHLO one.example", "250 ");
    let mut second = Client::connect(s.addr);
    assert_eq!(
        second.read_line(),
        "421 4.7.0 Too many sessions, try again later"
    );
    assert!(second.closed());
    first.cmd("QUIT", "221 ");
    drop(s);

    let s = Mta::start(&["--max-per-ip", "1"]);
    let mut first = s.client();
    first.cmd("EHLO one.example", "250 ");
    let mut second = Client::connect(s.addr);
    assert_eq!(
        second.read_line(),
        "421 4.7.0 Too many connections from your address"
    );
    assert!(second.closed());
    first.cmd("QUIT", "221 ");
}

/// The command-line convention shared by the examples.
#[test]
fn help_version_and_flag_syntax() {
    let o = run_example(&["--help"]);
    assert_exit(&o, 0, "--help");
    assert_eq!(o.stderr, "");
    assert!(o.stdout.starts_with("smtp_server "), "{}", o.stdout);
    for flag in [
        "--listen ADDR",
        "--maildir DIR",
        "--http ADDR",
        "--print",
        "--hostname NAME",
        "--max-size BYTES",
        "--max-recipients N",
        "--max-sessions N",
        "--max-per-ip N",
        "--lmtp",
        "--bare-lf POLICY",
        "--timeout SECS",
        "--grace SECS",
        "--refuse ADDR",
        "--defer ADDR",
        "--fail-data ADDR",
        "--tls-cert PEM",
        "--tls-key PEM",
        "--implicit-tls ADDR",
        "--require-tls",
        "--auth USER:PASS",
        "--require-auth",
        "--allow-insecure-auth",
        "--chunking",
        "--dsn",
        "--proxy-protocol",
        "--proxy-trusted CIDR",
        "--stats-every SECS",
        "-v, --verbose",
        "-h, --help",
        "-V, --version",
    ] {
        assert!(
            o.stdout
                .lines()
                .any(|l| l.starts_with(&format!("  {flag}  "))),
            "no line for {flag} in\n{}",
            o.stdout
        );
    }
    let o = run_example(&["--version"]);
    assert_exit(&o, 0, "--version");
    assert_eq!(
        o.stdout,
        format!("smtp_server {}\n", env!("CARGO_PKG_VERSION"))
    );

    let o = run_example(&["--listen", "127.0.0.1:0", "--no-such-flag"]);
    assert_exit(&o, 2, "unknown flag");
    assert_eq!(
        o.stderr.lines().next(),
        Some("smtp_server: invalid option '--no-such-flag'")
    );
    assert_eq!(o.stdout, "");

    // --flag=value is --flag value.
    let mut s = Mta::start(&["--hostname=equals.test", "--max-size=100"]);
    let mut c = Client::connect(s.addr);
    assert_eq!(c.read_line(), "220 equals.test ESMTP");
    c.line("EHLO client.example");
    assert!(c.reply().iter().any(|l| l == "250-SIZE 100"));
    c.cmd("QUIT", "221 ");
    s.assert_running();
}
