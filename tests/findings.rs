//! One test per finding of issue 11 ("every guarantee on every path"), each reproducing what an
//! attacker did, bounded so that it fails in seconds rather than hangs: TLS deadlines (server
//! and client), PROXY in front of implicit TLS, PROXY listeners without trusted balancers,
//! BDAT limits, AUTH line length, junk commands, HELO names, huge timeouts, IPv6 per-address
//! caps. Tests needing configuration that does not exist yet are in `tests/limits.rs`.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use common::transport::{Segmenting, Transport, Trickled, Via, Wire, v6};
use common::*;
use smtpkit::Reply;
use smtpkit::client::{Client as SmtpClient, Email, Options, Timeouts, TlsMode};
use smtpkit::sasl::{Credentials, Mechanism};
use smtpkit::server::{Handler, ListenerOptions, Server, ServerBuilder};
use smtpkit::tls::ClientTrust;

/// Slack on every upper time bound (a busy 2-core machine).
const MARGIN: Duration = Duration::from_secs(5);
const TIMEOUT_421: &str = "421 4.4.2 Timeout, closing connection";
const JUNK_421: &str = "421 4.7.0 Too many commands without mail, closing connection";

fn plain() -> Via {
    Via::plain(Transport::Plain)
}

const TLS_VIAS: [Via; 2] = [
    Via::plain(Transport::StartTls),
    Via::plain(Transport::ImplicitTls),
];

fn ready(via: Via, addr: SocketAddr) -> Wire {
    Wire::ready(via, addr).unwrap_or_else(|e| panic!("{via}: connect, greeting, EHLO: {e}"))
}

/// Trickles `plain` one wire octet every 200 ms and expects `421 4.4.2` within `deadline` +
/// `MARGIN`, then the close.
fn expect_cut(w: &mut Wire, plain: &[u8], deadline: Duration) {
    let via = w.via;
    let limit = deadline + MARGIN;
    match w.trickle(plain, Duration::from_millis(200), limit) {
        Trickled::Answered(d) => {
            let r = w.reply();
            assert!(
                matches!(&r, Ok((421, l)) if l == TIMEOUT_421),
                "{via}: after {d:.2?}: {r:?}"
            );
            assert!(d <= limit, "{via}: cut after {d:.2?}");
            assert!(w.closed(), "{via}: not closed after the 421");
        }
        other => panic!(
            "{via}: a client trickling a TLS record was not cut by the {deadline:?} deadline: {other:?}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Deadlines are totals over TLS reads.

/// One octet of a TLS record every 200 ms during a command: cut by the 2 s command deadline.
#[test]
fn tls_trickle_is_cut_by_the_command_deadline() {
    for via in TLS_VIAS {
        let deadline = Duration::from_secs(2);
        let (srv, rec) = start_via(via, Server::builder().command_timeout(deadline));
        let mut w = ready(via, srv.local_addr());
        expect_cut(&mut w, &[b'N'; 2000], deadline);
        wait_closed(&rec, 1);
        assert_eq!(rec.lock().unwrap().errors, ["Timeout(Command)"], "{via}");
    }
}

/// The same in DATA: cut by the 2 s block deadline.
#[test]
fn tls_trickle_is_cut_by_the_data_deadlines() {
    for via in TLS_VIAS {
        let deadline = Duration::from_secs(2);
        let (srv, rec) = start_via(
            via,
            Server::builder()
                .data_block_timeout(deadline)
                .data_timeout(deadline * 2),
        );
        let mut w = ready(via, srv.local_addr());
        w.cmd_expect("MAIL FROM:<a@b.example>", 250).unwrap();
        w.cmd_expect("RCPT TO:<c@d.example>", 250).unwrap();
        w.cmd_expect("DATA", 354).unwrap();
        let lines: Vec<u8> = b"line\r\n".iter().copied().cycle().take(3000).collect();
        expect_cut(&mut w, &lines, deadline * 2);
        wait_closed(&rec, 1);
        assert_eq!(rec.lock().unwrap().errors, ["Timeout(Data)"], "{via}");
        assert!(rec.lock().unwrap().messages.is_empty());
    }
}

/// A hostile server: after the handshake (implicit TLS, or STARTTLS after a plaintext EHLO
/// that offers it) it trickles one octet of a TLS record every 300 ms (a reply too long to
/// ever finish), until the client leaves or 20 s pass.
fn hostile_tls_server(starttls: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let Ok((mut sock, _)) = listener.accept() else {
            return;
        };
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let line = |sock: &mut TcpStream| {
            let mut got = Vec::new();
            let mut b = [0u8; 1];
            while !got.ends_with(b"\n") {
                match sock.read(&mut b) {
                    Ok(1) => got.push(b[0]),
                    _ => return,
                }
            }
        };
        if starttls {
            let _ = sock.write_all(b"220 hostile.example ESMTP\r\n");
            line(&mut sock);
            let _ = sock.write_all(b"250-hostile.example\r\n250 STARTTLS\r\n");
            line(&mut sock);
            let _ = sock.write_all(b"220 2.0.0 go ahead\r\n");
        }
        let conn = rustls::ServerConnection::new(common::pki::server_tls().server_config())
            .expect("server connection");
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                return;
            }
        }
        if starttls {
            // The EHLO after the handshake.
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while !got.ends_with(b"\n") {
                match tls.read(&mut buf) {
                    Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
        }
        let mut text = b"220 ".to_vec();
        text.extend(vec![b'x'; 4000]);
        text.extend_from_slice(b"\r\n");
        tls.conn.writer().write_all(&text).unwrap();
        let mut wire = Vec::new();
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut wire).unwrap();
        }
        let t = Instant::now();
        for b in wire {
            if t.elapsed() > Duration::from_secs(20) || tls.sock.write_all(&[b]).is_err() {
                return;
            }
            sleep(Duration::from_millis(300));
        }
    });
    addr
}

/// The client's reply reads are bounded by their timeouts over TLS too.
#[test]
fn client_reply_reads_are_bounded_against_a_trickled_tls_record() {
    for (starttls, mode) in [(false, TlsMode::Implicit), (true, TlsMode::Required)] {
        let addr = hostile_tls_server(starttls);
        let t = Duration::from_secs(2);
        let opts = Options::relay(addr.to_string())
            .tls(mode)
            .trust(ClientTrust::roots_from_pem(common::pki::pki().ca.as_bytes()).unwrap())
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
                tls: Duration::from_secs(5),
            });
        let client = SmtpClient::new(opts).unwrap();
        let email = Email::new("a@b.example", &["c@d.example"], "Subject: x\r\n\r\nx\r\n").unwrap();
        let start = Instant::now();
        let r = client.send(&email);
        let took = start.elapsed();
        assert!(r.is_err(), "{mode:?}: {r:?}");
        // The handshake (a few ms) and one 2 s reply timeout.
        assert!(
            took < t + MARGIN,
            "{mode:?}: the client waited {took:.2?} on a trickled reply (timeout {t:?}): {r:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// PROXY in front of implicit TLS: the ClientHello in the header's segment is kept.

#[test]
fn proxy_header_and_client_hello_in_one_segment_complete_the_handshake() {
    for transport in [Transport::ProxyV2Tls, Transport::ProxyV1Tls] {
        let via = Via::new(transport, Segmenting::OneSegment);
        // The default handshake deadline (30 s): the client gives up first (15 s).
        let (srv, rec) = spawn_recorder(
            via.configure(Server::builder().hostname("test.example"))
                .tls_handshake_timeout(Duration::from_secs(30))
                .bind_with("127.0.0.1:0", via.options())
                .unwrap(),
        );
        let t = Instant::now();
        let w = Wire::ready(via, srv.local_addr());
        let took = t.elapsed();
        let mut w = w.unwrap_or_else(|e| panic!("{via}: handshake failed after {took:.2?}: {e}"));
        assert!(took < MARGIN, "{via}: handshake took {took:.2?}");
        w.cmd_expect("NOOP", 250).unwrap();
        w.quit().unwrap();
        wait_closed(&rec, 1);
        assert!(rec.lock().unwrap().errors.is_empty(), "{via}");
        assert_eq!(srv.stats().tls_handshakes, 1);
    }
}

// ---------------------------------------------------------------------------------------------
// A PROXY listener without trusted balancers is refused at bind.

#[test]
fn proxy_listener_without_trusted_balancers_is_an_error_at_bind() {
    let proxy = ListenerOptions {
        proxy_protocol: true,
        ..Default::default()
    };
    let e = Server::builder()
        .hostname("test.example")
        .bind_with("127.0.0.1:0", proxy)
        .expect_err("a PROXY listener trusting everyone was bound");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    // A PROXY listener added to a server bound without one.
    let e = Server::builder()
        .hostname("test.example")
        .bind("127.0.0.1:0")
        .unwrap()
        .listen("127.0.0.1:0", proxy)
        .expect_err("a second PROXY listener trusting everyone was bound");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    // With a trusted network it binds.
    Server::builder()
        .hostname("test.example")
        .proxy_trusted(&["127.0.0.1"])
        .bind_with("127.0.0.1:0", proxy)
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// BDAT meets DATA's limits.

fn in_transaction(via: Via, addr: SocketAddr) -> Wire {
    let mut w = ready(via, addr);
    w.cmd_expect("MAIL FROM:<a@b.example>", 250).unwrap();
    w.cmd_expect("RCPT TO:<c@d.example>", 250).unwrap();
    w
}

/// A declared `BDAT 18446744073709551615 LAST` streamed past twice the size limit is answered
/// (`552 5.3.4`) and the connection closed, long before the client stops sending.
#[test]
fn bdat_far_past_twice_the_size_limit_is_answered_and_closed() {
    let (srv, rec) = start(
        Server::builder()
            .chunking(true)
            .max_message_size(Some(10_000)),
    );
    let mut w = in_transaction(plain(), srv.local_addr());
    w.send(b"BDAT 18446744073709551615 LAST\r\n").unwrap();
    w.raw
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let block = vec![b'a'; 64 * 1024];
    let total: u64 = 64 * 1024 * 1024;
    let (mut sent, mut off) = (0u64, 0usize);
    let t = Instant::now();
    let ended = loop {
        let mut one = [0u8; 1];
        w.raw.set_nonblocking(true).unwrap();
        let peek = w.raw.peek(&mut one);
        w.raw.set_nonblocking(false).unwrap();
        match peek {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            _ => break "answered",
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "neither answered nor closed after {:.2?} and {sent} octets",
            t.elapsed()
        );
        if sent >= total {
            // Everything sent: a server that reads on and on until the deadline.
            sleep(Duration::from_millis(50));
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{sent} octets of one chunk read without an answer (limit 10,000)"
            );
            continue;
        }
        match (&w.raw).write(&block[off..]) {
            Ok(n) => {
                sent += n as u64;
                off = (off + n) % block.len();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break "closed",
        }
    };
    assert!(sent < total, "the whole {sent} octets were read");
    if ended == "answered" {
        // The 552 may be lost to the reset that follows the close; when it arrives it is this.
        if let Ok((code, line)) = w.reply() {
            assert_eq!(code, 552, "{line}");
            assert_eq!(line, "552 5.3.4 Message size exceeds fixed limit");
        }
    }
    wait_closed(&rec, 1);
    assert!(rec.lock().unwrap().messages.is_empty());
    assert_eq!(srv.stats().messages_rejected, 1, "{:?}", srv.stats());
}

/// A chunk that keeps coming, 2000 octets (20 lines) every 250 ms for 5 s, is not cut by the
/// 1 s block deadline: like DATA's, it follows progress (whether counted in lines or in
/// octets).
#[test]
fn bdat_chunk_deadline_follows_progress() {
    for via in [plain(), Via::plain(Transport::ImplicitTls)] {
        let (srv, rec) = start_via(
            via,
            Server::builder()
                .chunking(true)
                .data_block_timeout(Duration::from_secs(1))
                .data_timeout(Duration::from_secs(60)),
        );
        let mut w = in_transaction(via, srv.local_addr());
        w.send(b"BDAT 40000 LAST\r\n").unwrap();
        let line = [&[b'x'; 98][..], b"\r\n"].concat();
        let piece = line.repeat(20);
        for i in 0..20 {
            if let Err(e) = w.send(&piece) {
                panic!("{via}: piece {i} of a steady chunk: {e}");
            }
            sleep(Duration::from_millis(250));
        }
        let r = w.reply();
        assert!(
            matches!(&r, Ok((250, l)) if l == "250 2.0.0 OK: queued"),
            "{via}: a chunk making progress: {r:?}"
        );
        w.quit().unwrap();
        wait_closed(&rec, 1);
        let r = rec.lock().unwrap();
        assert_eq!(r.messages.len(), 1, "{via}");
        assert_eq!(r.messages[0].body, line.repeat(400), "{via}");
    }
}

/// `BDAT 0` every 300 ms never carries the message on: the whole-transaction deadline (2 s)
/// still ends it.
#[test]
fn bdat_zero_chain_meets_the_transaction_deadline() {
    let whole = Duration::from_secs(2);
    let (srv, rec) = start(
        Server::builder()
            .chunking(true)
            .command_timeout(Duration::from_secs(30))
            .data_block_timeout(Duration::from_secs(1))
            .data_timeout(whole),
    );
    let mut w = in_transaction(plain(), srv.local_addr());
    let t = Instant::now();
    let end = loop {
        assert!(
            t.elapsed() < whole + MARGIN,
            "a chain of BDAT 0 went on for {:.2?} (transaction deadline {whole:?})",
            t.elapsed()
        );
        match w.cmd("BDAT 0") {
            Ok((250, l)) => assert_eq!(l, "250 2.0.0 0 octets received"),
            other => break other,
        }
        sleep(Duration::from_millis(300));
    };
    assert!(
        matches!(&end, Ok((421, l)) if l == TIMEOUT_421),
        "after {:.2?}: {end:?}",
        t.elapsed()
    );
    assert!(w.closed());
    wait_closed(&rec, 1);
    assert!(rec.lock().unwrap().messages.is_empty());
}

/// The transaction deadline reached while the server waits for the next BDAT: `421 4.4.2`,
/// and nothing else (no reply to a chunk that never came).
#[test]
fn bdat_transaction_deadline_between_chunks_is_one_421() {
    let whole = Duration::from_secs(2);
    let (srv, rec) = start(
        Server::builder()
            .chunking(true)
            .command_timeout(Duration::from_secs(30))
            .data_block_timeout(Duration::from_secs(1))
            .data_timeout(whole),
    );
    let mut w = in_transaction(plain(), srv.local_addr());
    w.send(b"BDAT 3\r\nabc").unwrap();
    assert_eq!(w.expect(250).unwrap(), "250 2.0.0 3 octets received");
    let t = Instant::now();
    let r = w.reply();
    assert!(
        matches!(&r, Ok((421, l)) if l == TIMEOUT_421),
        "waiting for the next chunk, after {:.2?}: {r:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < whole + MARGIN);
    assert!(w.closed());
    wait_closed(&rec, 1);
    assert!(rec.lock().unwrap().messages.is_empty());
}

/// A refused BDAT whose size can be read consumes its chunk: the chunk (`RSET`) never runs as
/// a command, so the reply after the refusal is QUIT's.
fn refused_bdat_then_quit(c: &mut Client, bdat: &str, refusal: &str) {
    c.send(&format!("{bdat}\r\nRSET\r\n"));
    assert_eq!(c.expect(&refusal[..4]), refusal, "{bdat}");
    c.cmd("QUIT", "221 ");
}

#[test]
fn bdat_refused_for_require_tls_consumes_its_chunk() {
    let (srv, _rec) = start(
        Server::builder()
            .tls(common::pki::server_tls())
            .require_tls(true),
    );
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    refused_bdat_then_quit(
        &mut c,
        "BDAT 6 LAST",
        "530 5.7.0 Must issue a STARTTLS command first",
    );
}

#[test]
fn bdat_not_offered_consumes_its_chunk() {
    let (srv, _rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    refused_bdat_then_quit(&mut c, "BDAT 6 LAST", "502 5.5.1 Command not implemented");
}

#[test]
fn bdat_with_a_syntax_error_after_a_readable_size_consumes_its_chunk() {
    let (srv, _rec) = start(Server::builder().chunking(true));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.send("BDAT 6 MORE\r\nRSET\r\n");
    c.expect("501 5.5.4");
    c.cmd("QUIT", "221 ");
}

// ---------------------------------------------------------------------------------------------
// AUTH lines up to the documented 12288 octets.

struct Accepting {
    passwords: Arc<Mutex<Vec<usize>>>,
}

impl Handler for Accepting {
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        if let Credentials::Plain { password, .. } = c {
            self.passwords.lock().unwrap().push(password.len());
        }
        Ok(())
    }
}

#[test]
fn auth_plain_initial_response_of_10000_octets() {
    use base64::Engine;
    let passwords: Arc<Mutex<Vec<usize>>> = Default::default();
    let p2 = Arc::clone(&passwords);
    let srv = Server::builder()
        .hostname("test.example")
        .auth_mechanisms(&[Mechanism::Plain])
        .allow_insecure_auth(true)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(move |_| Accepting {
            passwords: Arc::clone(&p2),
        })
        .unwrap();
    let mut raw = b"\0user\0".to_vec();
    raw.extend(vec![b'p'; 7500 - raw.len()]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    assert_eq!(b64.len(), 10_000);
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {b64}"), "235 "),
        "235 2.7.0 Authentication successful"
    );
    c.cmd("QUIT", "221 ");
    assert_eq!(*passwords.lock().unwrap(), [7494]);
}

// ---------------------------------------------------------------------------------------------
// Junk commands count: a NOOP flood and a refused-RCPT flood end with 421 (default budget).

/// Pipelines `n` copies of `line` and reads replies until a 421 or `n` replies: how many
/// positive (2xx) replies came first, and the 421 line if any.
fn flood(c: &mut Client, line: &str, n: usize) -> (usize, Option<String>) {
    let mut batch = String::new();
    for _ in 0..100 {
        batch.push_str(line);
        batch.push_str("\r\n");
    }
    let mut answered = 0;
    let mut positive = 0;
    for _ in 0..n / 100 {
        // The server closes after its 421: later batches may fail to send.
        if c.stream.write_all(batch.as_bytes()).is_err() {
            break;
        }
        for _ in 0..100 {
            let r = c.reply();
            let last = r.last().unwrap().clone();
            answered += 1;
            if last.starts_with("421 ") {
                return (positive, Some(last));
            }
            if last.starts_with('2') {
                positive += 1;
            }
        }
    }
    let _ = answered;
    (positive, None)
}

#[test]
fn noop_flood_ends_with_421() {
    let (srv, _rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    let (ok, end) = flood(&mut c, "NOOP", 5000);
    assert_eq!(
        end.as_deref(),
        Some(JUNK_421),
        "5000 NOOPs, {ok} answered 250"
    );
    assert!(c.closed());
}

#[test]
fn refused_rcpt_flood_ends_with_421() {
    let (srv, _rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    // The recording handler refuses recipients starting with "bad" (550 5.1.1).
    let (ok, end) = flood(&mut c, "RCPT TO:<bad@d.example>", 5000);
    assert_eq!(ok, 0);
    assert_eq!(end.as_deref(), Some(JUNK_421), "5000 refused RCPTs");
    assert!(c.closed());
}

// ---------------------------------------------------------------------------------------------
// HELO/EHLO names with control characters get 501.

#[test]
fn hello_names_with_control_characters_get_501() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    for verb in ["EHLO", "HELO"] {
        for bad in [
            "a\u{1}b.example",
            "a\u{1b}[31mb.example",
            "ab\u{7f}.example",
        ] {
            let r = c.cmd(&format!("{verb} {bad}"), "5");
            assert!(r.starts_with("501 "), "{verb} {bad:?}: {r}");
        }
    }
    c.cmd("EHLO good.example", "250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let helos = rec.lock().unwrap().helos.clone();
    assert!(
        helos.iter().all(|h| !h.chars().any(char::is_control)),
        "{helos:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration values are checked at bind: no panic for any value.

type Set = fn(ServerBuilder, Duration) -> ServerBuilder;

/// A timeout of u64::MAX seconds set by `set` (over `via`) is refused at bind with
/// InvalidInput, or the server works: greeting, NOOP, a whole transaction, QUIT.
fn huge_timeout(name: &str, via: Via, set: Set) {
    let huge = Duration::from_secs(u64::MAX);
    // After `configure`, which sets its own handshake deadline.
    let b = set(
        via.configure(Server::builder().hostname("test.example")),
        huge,
    );
    let server = match b.bind_with("127.0.0.1:0", via.options()) {
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{name}: {e}");
            return;
        }
        Ok(s) => s,
    };
    let (srv, rec) = spawn_recorder(server);
    let mut w = Wire::ready(via, srv.local_addr())
        .unwrap_or_else(|e| panic!("{name} = u64::MAX s: no session ({e})"));
    w.cmd_expect("NOOP", 250).unwrap();
    let (code, line) = w.mail("a@b.example", "c@d.example", b"x\r\n").unwrap();
    assert_eq!(code, 250, "{name}: {line}");
    w.quit().unwrap();
    wait_closed(&rec, 1);
    assert!(rec.lock().unwrap().errors.is_empty(), "{name}");
}

#[test]
fn huge_command_timeout() {
    huge_timeout("command_timeout", plain(), |b, d| b.command_timeout(d));
}

#[test]
fn huge_data_block_timeout() {
    huge_timeout("data_block_timeout", plain(), |b, d| {
        b.data_block_timeout(d)
    });
}

#[test]
fn huge_data_timeout() {
    huge_timeout("data_timeout", plain(), |b, d| b.data_timeout(d));
}

#[test]
fn huge_tls_handshake_timeout() {
    huge_timeout(
        "tls_handshake_timeout",
        Via::plain(Transport::ImplicitTls),
        |b, d| b.tls_handshake_timeout(d),
    );
}

#[test]
fn huge_proxy_timeout() {
    huge_timeout(
        "proxy_timeout",
        Via::new(Transport::ProxyV2Plain, Segmenting::OneSegment),
        |b, d| b.proxy_timeout(d),
    );
}

// ---------------------------------------------------------------------------------------------
// Per-address caps count an IPv6 /64 as one address (behind PROXY: the proxied address).

#[test]
fn per_address_cap_counts_an_ipv6_slash_64() {
    let via = Via::new(Transport::ProxyV2Plain, Segmenting::OneSegment);
    let (srv, _rec) = start_via(via, Server::builder().max_sessions_per_ip(2));
    let addr = srv.local_addr();
    let from =
        |net: u16, host: u16| SocketAddr::new(v6([0x2001, 0xdb8, 1, net, 0, 0, 0, host]), 40000);
    let a = Wire::ready_as(via, addr, from(2, 1)).unwrap();
    let b = Wire::ready_as(via, addr, from(2, 2)).unwrap();
    // A third address in the same /64.
    let (mut c, greeting) = Wire::open_as(via, addr, from(2, 3)).unwrap();
    assert_eq!(
        greeting,
        (
            421,
            "421 4.7.0 Too many connections from your address".to_string()
        ),
        "a third session from one /64"
    );
    assert!(c.closed());
    // Another /64 is another client.
    let d = Wire::ready_as(via, addr, from(3, 1)).unwrap();
    assert_eq!(srv.stats().refused_per_ip, 1);
    for w in [a, b, d] {
        w.quit().unwrap();
    }
}
