//! The fault suite as a matrix: every scenario runs over every transport (plaintext,
//! STARTTLS, implicit TLS, PROXY v1/v2 in front of plaintext and of implicit TLS, with the
//! header and the first client bytes in one segment or split; see `common/transport.rs`).
//!
//! One test per scenario; it runs the 11 transports at once, each on its own server, and fails
//! naming every transport that failed (`[matrix]` lines on stderr give each cell's time).
//! `*_short` runs in the ordinary `cargo test` with deadlines of 1 s; `*_full` with
//! `cargo test --test fault_matrix -- --ignored` (more connections, 2 s deadlines).
//! `SMTPKIT_VIA=ProxyV2Tls` runs only the matching transports.
//!
//! Timing assertions check that a session ends, not that it is fast: upper bounds are the
//! deadline plus `MARGIN`, which holds on a busy 2-core machine; lower bounds are the
//! deadline minus `EARLY` (a deadline, not something else, cut the session).
//!
//! The per-process measures (memory, descriptors, threads, canary latencies) of the same
//! scenarios on plaintext are in `tests/load.rs`; plaintext-only faults (handler panics, a
//! peer gone before the greeting, QUIT then hang-up) in `tests/server_faults.rs`.

mod common;

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use common::transport::{self, Trickled, Via, Wire, run_matrix};
use common::*;
use smtpkit::server::{Server, ServerHandle};

/// Sizes of every scenario.
struct Params {
    /// Command deadline, DATA block deadline (the whole DATA deadline is twice it), write
    /// timeout of the slow-reader scenario.
    deadline: Duration,
    /// Trickling connections per transport.
    tricklers: usize,
    /// Connections killed mid-DATA per transport, for each of FIN and RST.
    kills: usize,
    /// Flood: the session cap, and connections past it.
    flood_cap: usize,
    flood_extra: usize,
    /// Shutdown under load: clients sending in a loop, load before the shutdown, grace.
    shutdown_clients: usize,
    shutdown_after: Duration,
    shutdown_grace: Duration,
    /// Slow readers per transport.
    slow_readers: usize,
}

const SHORT: Params = Params {
    deadline: Duration::from_secs(1),
    tricklers: 1,
    kills: 1,
    flood_cap: 2,
    flood_extra: 2,
    shutdown_clients: 2,
    shutdown_after: Duration::from_millis(700),
    shutdown_grace: Duration::from_secs(2),
    slow_readers: 1,
};

const FULL: Params = Params {
    deadline: Duration::from_secs(2),
    tricklers: 20,
    kills: 20,
    flood_cap: 8,
    flood_extra: 32,
    shutdown_clients: 10,
    shutdown_after: Duration::from_secs(2),
    shutdown_grace: Duration::from_secs(3),
    slow_readers: 5,
};

/// Slack on every upper time bound.
const MARGIN: Duration = Duration::from_secs(5);
/// Slack on lower time bounds (the deadline starts a little before the client's clock).
const EARLY: Duration = Duration::from_millis(300);
/// One octet this often when trickling.
const GAP: Duration = Duration::from_millis(100);

const TIMEOUT_421: &str = "421 4.4.2 Timeout, closing connection";
const BUSY_421: &str = "421 4.7.0 Too many sessions, try again later";
const PER_IP_421: &str = "421 4.7.0 Too many connections from your address";
const SHUTDOWN_421: &str = "421 4.3.2 Service shutting down, closing connection";

fn errors(rec: &Shared) -> Vec<String> {
    rec.lock().unwrap().errors.clone()
}

fn delivered(rec: &Shared) -> usize {
    rec.lock().unwrap().messages.len()
}

/// The server still works over `via`: a whole transaction from a new client.
fn still_serves(via: Via, addr: SocketAddr) {
    let mut w = Wire::ready(via, addr).unwrap_or_else(|e| panic!("{via}: new client: {e}"));
    let (code, line) = w.mail("a@b.example", "c@d.example", b"ok\r\n").unwrap();
    assert_eq!(code, 250, "{via}: {line}");
    w.quit().unwrap();
}

/// A connected, greeted client past EHLO, or a failure naming the transport.
fn ready(via: Via, addr: SocketAddr) -> Wire {
    Wire::ready(via, addr).unwrap_or_else(|e| panic!("{via}: connect, greeting, EHLO: {e}"))
}

/// `n` octets of `unit` repeated: far more than a deadline lets through at one octet a `GAP`.
fn repeated(unit: &[u8], n: usize) -> Vec<u8> {
    unit.iter().copied().cycle().take(n).collect()
}

/// Trickles `plain` and expects the session cut with `421 4.4.2` within `[low, high]` of the
/// first octet, then closed. Returns when it was cut.
fn cut_by_deadline(
    what: &str,
    w: &mut Wire,
    plain: &[u8],
    low: Duration,
    high: Duration,
) -> Duration {
    let via = w.via;
    let took = match w.trickle(plain, GAP, high) {
        Trickled::Answered(d) => d,
        Trickled::Closed(d) => panic!("{via}: closed after {d:.2?} without a reply"),
        Trickled::Held(d) => {
            panic!("{via}: a trickling client still held the session after {d:.2?}")
        }
    };
    let reply = w.reply();
    assert!(
        matches!(&reply, Ok((421, l)) if l == TIMEOUT_421),
        "{via}: expected {TIMEOUT_421:?} after {took:.2?}, got {reply:?}"
    );
    assert!(w.closed(), "{via}: not closed after the 421");
    assert!(
        took >= low && took <= high,
        "{via}: cut after {took:.2?}, expected within {low:.2?}..{high:.2?}"
    );
    eprintln!("[matrix] {what} over {via}: cut after {took:.2?} (expected {low:.2?}..{high:.2?})");
    took
}

/// Runs `f` on `n` threads and collects their results (a panic fails the cell).
fn parallel<T: Send + 'static>(n: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let f = Arc::clone(&f);
            thread::spawn(move || f(i))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Slowloris on commands: a command line trickled is cut by the command deadline.

fn slowloris_commands(p: &'static Params, via: Via) {
    let (srv, rec) = start_via(via, Server::builder().command_timeout(p.deadline));
    let addr = srv.local_addr();
    parallel(p.tricklers, move |_| {
        let mut w = ready(via, addr);
        let line = repeated(b"NOOP trickle ", 1000);
        cut_by_deadline(
            "slowloris on commands",
            &mut w,
            &line,
            p.deadline.saturating_sub(EARLY),
            p.deadline + MARGIN,
        )
    });
    wait_closed(&rec, p.tricklers);
    assert_eq!(errors(&rec), vec!["Timeout(Command)"; p.tricklers], "{via}");
    assert!(srv.stats().timeouts >= p.tricklers as u64, "{via}");
    still_serves(via, addr);
}

#[test]
fn slowloris_commands_short() {
    run_matrix("slowloris on commands", |via| {
        slowloris_commands(&SHORT, via)
    });
}

#[test]
#[ignore]
fn slowloris_commands_full() {
    run_matrix("slowloris on commands", |via| {
        slowloris_commands(&FULL, via)
    });
}

// ---------------------------------------------------------------------------------------------
// Slowloris in DATA: a stall mid-line meets the block deadline; complete lines trickled
// (over TLS: a record trickled) meet the whole-DATA deadline. Nothing is delivered.

fn slowloris_data(p: &'static Params, via: Via) {
    let block = p.deadline;
    let whole = p.deadline * 2;
    let (srv, rec) = start_via(
        via,
        Server::builder()
            .data_block_timeout(block)
            .data_timeout(whole),
    );
    let addr = srv.local_addr();
    parallel(p.tricklers, move |_| {
        // A line half sent, then nothing.
        let mut w = ready(via, addr);
        w.cmd_expect("MAIL FROM:<a@b.example>", 250).unwrap();
        w.cmd_expect("RCPT TO:<c@d.example>", 250).unwrap();
        w.cmd_expect("DATA", 354).unwrap();
        let t = Instant::now();
        w.send(b"a line\r\nhalf a li").unwrap();
        let reply = w.reply();
        let took = t.elapsed();
        assert!(
            matches!(&reply, Ok((421, l)) if l == TIMEOUT_421),
            "{via}: stalled mid-line: {reply:?}"
        );
        assert!(
            took >= block.saturating_sub(EARLY) && took <= block + MARGIN,
            "{via}: stalled mid-line, cut after {took:.2?} (block deadline {block:?})"
        );
        assert!(w.closed(), "{via}: not closed after the 421");
        eprintln!("[matrix] slowloris in DATA (stall mid-line) over {via}: cut after {took:.2?}");
        // Whole lines, one octet at a time: in plaintext each line arrives within the block
        // deadline, so only the whole-DATA deadline ends it; over TLS no line is readable
        // before the record is whole, so the block deadline does.
        let mut w = ready(via, addr);
        w.cmd_expect("MAIL FROM:<a@b.example>", 250).unwrap();
        w.cmd_expect("RCPT TO:<c@d.example>", 250).unwrap();
        w.cmd_expect("DATA", 354).unwrap();
        let first = if via.tls() { block } else { whole };
        cut_by_deadline(
            "slowloris in DATA (whole lines)",
            &mut w,
            &repeated(b"line\r\n", 1200),
            first.saturating_sub(EARLY),
            whole + MARGIN,
        );
    });
    wait_closed(&rec, 2 * p.tricklers);
    assert_eq!(
        errors(&rec),
        vec!["Timeout(Data)"; 2 * p.tricklers],
        "{via}"
    );
    assert_eq!(delivered(&rec), 0, "{via}: a cut message was delivered");
    still_serves(via, addr);
    assert_eq!(delivered(&rec), 1, "{via}");
}

#[test]
fn slowloris_data_short() {
    run_matrix("slowloris in DATA", |via| slowloris_data(&SHORT, via));
}

#[test]
#[ignore]
fn slowloris_data_full() {
    run_matrix("slowloris in DATA", |via| slowloris_data(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// Slowloris in BDAT: a chunk trickled is cut by the chunk or the transaction deadline.

fn slowloris_bdat(p: &'static Params, via: Via) {
    let (srv, rec) = start_via(
        via,
        Server::builder()
            .chunking(true)
            .data_block_timeout(p.deadline)
            .data_timeout(p.deadline * 2),
    );
    let addr = srv.local_addr();
    parallel(p.tricklers, move |_| {
        let mut w = ready(via, addr);
        w.cmd_expect("MAIL FROM:<a@b.example>", 250).unwrap();
        w.cmd_expect("RCPT TO:<c@d.example>", 250).unwrap();
        w.send(b"BDAT 100000 LAST\r\n").unwrap();
        cut_by_deadline(
            "slowloris in BDAT",
            &mut w,
            &repeated(b"chunk line\r\n", 1200),
            p.deadline.saturating_sub(EARLY),
            p.deadline * 2 + MARGIN,
        );
    });
    wait_closed(&rec, p.tricklers);
    assert_eq!(errors(&rec), vec!["Timeout(Data)"; p.tricklers], "{via}");
    assert_eq!(delivered(&rec), 0, "{via}: a cut message was delivered");
    still_serves(via, addr);
}

#[test]
fn slowloris_bdat_short() {
    run_matrix("slowloris in BDAT", |via| slowloris_bdat(&SHORT, via));
}

#[test]
#[ignore]
fn slowloris_bdat_full() {
    run_matrix("slowloris in BDAT", |via| slowloris_bdat(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// Killed mid-DATA, with FIN (half-close) and with RST: the typed error, nothing delivered,
// `on_close` once per session, and the server keeps serving.

const PARTIAL: &[u8] = b"Subject: partial\r\n\r\nhalf a message\r\n";

fn into_data(via: Via, addr: SocketAddr) -> Wire {
    let mut w = ready(via, addr);
    w.cmd_expect("MAIL FROM:<a@b.example>", 250).unwrap();
    w.cmd_expect("RCPT TO:<c@d.example>", 250).unwrap();
    w.cmd_expect("DATA", 354).unwrap();
    w
}

fn kill_mid_data(p: &'static Params, via: Via) {
    let (srv, rec) = start_via(via, Server::builder());
    let addr = srv.local_addr();
    // FIN: the server sees the end of the stream and closes without acknowledging.
    parallel(p.kills, move |_| {
        let mut w = into_data(via, addr);
        w.send(PARTIAL).unwrap();
        w.half_close().unwrap();
        let rest = w
            .read_to_close()
            .unwrap_or_else(|e| panic!("{via}: not closed after FIN mid-DATA: {e}"));
        assert!(
            !rest.contains("250"),
            "{via}: partial message acknowledged: {rest:?}"
        );
    });
    wait_closed(&rec, p.kills);
    assert_eq!(errors(&rec), vec!["Closed(Data)"; p.kills], "{via}");
    // RST.
    parallel(p.kills, move |_| {
        let mut w = into_data(via, addr);
        w.send(PARTIAL).unwrap();
        sleep(Duration::from_millis(200));
        w.rst();
    });
    wait_closed(&rec, 2 * p.kills);
    let e = errors(&rec);
    assert_eq!(
        e.iter().filter(|e| *e == "Reset(Data)").count(),
        p.kills,
        "{via}: {e:?}"
    );
    assert_eq!(e.len(), 2 * p.kills, "{via}: {e:?}");
    assert_eq!(delivered(&rec), 0, "{via}: a partial message was delivered");
    still_serves(via, addr);
    wait_closed(&rec, 2 * p.kills + 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1, "{via}");
    assert_eq!(r.messages[0].body, b"ok\r\n", "{via}");
    assert_eq!(srv.stats().messages, 1, "{via}");
}

#[test]
fn kill_mid_data_short() {
    run_matrix("killed mid-DATA", |via| kill_mid_data(&SHORT, via));
}

#[test]
#[ignore]
fn kill_mid_data_full() {
    run_matrix("killed mid-DATA", |via| kill_mid_data(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// RST in the middle of a command.

fn rst_mid_session(p: &'static Params, via: Via) {
    let (srv, rec) = start_via(via, Server::builder());
    let addr = srv.local_addr();
    parallel(p.kills, move |_| {
        let mut w = ready(via, addr);
        w.send(b"MAIL FROM:<a@b.exa").unwrap();
        sleep(Duration::from_millis(200));
        w.rst();
    });
    wait_closed(&rec, p.kills);
    assert_eq!(errors(&rec), vec!["Reset(Command)"; p.kills], "{via}");
    still_serves(via, addr);
}

#[test]
fn rst_mid_session_short() {
    run_matrix("RST mid-session", |via| rst_mid_session(&SHORT, via));
}

#[test]
#[ignore]
fn rst_mid_session_full() {
    run_matrix("RST mid-session", |via| rst_mid_session(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// Half-close: mid-command the session ends (Closed); after a whole pipelined transaction and
// QUIT every reply still arrives and the message is delivered.

fn half_close(p: &'static Params, via: Via) {
    let (srv, rec) = start_via(via, Server::builder());
    let addr = srv.local_addr();
    parallel(p.kills, move |_| {
        let mut w = ready(via, addr);
        w.send(b"MAIL FROM:<half@clo").unwrap();
        w.half_close().unwrap();
        let rest = w
            .read_to_close()
            .unwrap_or_else(|e| panic!("{via}: not closed after FIN mid-command: {e}"));
        assert_eq!(rest, "", "{via}: the half command was answered");
    });
    wait_closed(&rec, p.kills);
    assert_eq!(errors(&rec), vec!["Closed(Command)"; p.kills], "{via}");
    parallel(p.kills, move |i| {
        let mut w = ready(via, addr);
        w.send(
            format!(
                "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n\
                 X-Id: half-{i}\r\n\r\nbody\r\n.\r\nQUIT\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        w.half_close().unwrap();
        for code in [250, 250, 354, 250, 221] {
            w.expect(code)
                .unwrap_or_else(|e| panic!("{via}: after half-close: {e}"));
        }
        assert!(w.closed(), "{via}: not closed after QUIT");
    });
    wait_closed(&rec, 2 * p.kills);
    assert_eq!(delivered(&rec), p.kills, "{via}");
    assert_eq!(errors(&rec), vec!["Closed(Command)"; p.kills], "{via}");
    still_serves(via, addr);
}

#[test]
fn half_close_short() {
    run_matrix("half-close", |via| half_close(&SHORT, via));
}

#[test]
#[ignore]
fn half_close_full() {
    run_matrix("half-close", |via| half_close(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// QUIT: the 221 always arrives whole and the server closes by itself, whether the client sent
// nothing after QUIT (the close skips its drain) or kept pipelining (the drain keeps the close
// from turning into a reset that could destroy the 221).

fn quit_close(p: &'static Params, via: Via) {
    let (srv, rec) = start_via(via, Server::builder());
    let addr = srv.local_addr();
    let n = p.kills.max(2);
    parallel(n, move |i| {
        let mut w = ready(via, addr);
        // Even: QUIT alone, and the client waits for the server to close. Odd: commands
        // pipelined after QUIT, never answered.
        let after = if i % 2 == 0 {
            ""
        } else {
            "NOOP\r\nRSET\r\nNOOP\r\n"
        };
        w.send(format!("NOOP\r\nQUIT\r\n{after}").as_bytes())
            .unwrap();
        for code in [250, 221] {
            w.expect(code)
                .unwrap_or_else(|e| panic!("{via}: QUIT {i}: {e}"));
        }
        let rest = w
            .read_to_close()
            .unwrap_or_else(|e| panic!("{via}: not closed after QUIT {i}: {e}"));
        assert_eq!(rest, "", "{via}: answered after QUIT {i}");
    });
    wait_closed(&rec, n);
    assert_eq!(errors(&rec), Vec::<String>::new(), "{via}");
    still_serves(via, addr);
}

#[test]
fn quit_close_short() {
    run_matrix("QUIT close", |via| quit_close(&SHORT, via));
}

#[test]
#[ignore]
fn quit_close_full() {
    run_matrix("QUIT close", |via| quit_close(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// Flood past the caps: past the session cap a connection gets `421 4.7.0` at once (on implicit
// TLS, where nothing can be said before a handshake, it is just closed); past the per-address
// cap (the proxied address, behind PROXY) likewise, after the header.

/// Connects and reads until the server closes (bounded): what it said, and how long it took.
/// Behind PROXY the header goes at once, as a balancer sends it, before any reply; the first
/// command (plaintext) goes with it, or 200 ms later when split.
fn refused(via: Via, addr: SocketAddr) -> (String, Duration) {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(MARGIN)).unwrap();
    if via.proxy().is_some() {
        let mut first = match via.proxy() {
            Some(1) => transport::proxy_v1(transport::claimed_source(), addr),
            _ => transport::proxy_v2(transport::claimed_source(), addr),
        };
        match via.segmenting {
            _ if via.implicit_tls() => {
                let _ = s.write_all(&first);
            }
            transport::Segmenting::OneSegment => {
                first.extend_from_slice(b"EHLO client.example\r\n");
                let _ = s.write_all(&first);
            }
            transport::Segmenting::Split => {
                let _ = s.write_all(&first);
                sleep(transport::SPLIT_GAP);
                let _ = s.write_all(b"EHLO client.example\r\n");
            }
        }
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                panic!("not closed after {:.2?}: got {out:?}", t.elapsed())
            }
            Err(_) => break,
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), t.elapsed())
}

fn flood(p: &'static Params, via: Via) {
    // The session cap.
    let (srv, rec) = start_via(via, Server::builder().max_sessions(p.flood_cap));
    let addr = srv.local_addr();
    let held: Vec<Wire> = (0..p.flood_cap).map(|_| ready(via, addr)).collect();
    let barrier = Arc::new(Barrier::new(p.flood_extra));
    let results = parallel(p.flood_extra, move |_| {
        barrier.wait();
        refused(via, addr)
    });
    let want = if via.implicit_tls() {
        String::new()
    } else {
        format!("{BUSY_421}\r\n")
    };
    for (text, took) in &results {
        assert_eq!(*text, want, "{via}: past the session cap");
        assert!(*took < MARGIN, "{via}: a refusal took {took:.2?}");
    }
    let slowest = results.iter().map(|r| r.1).max().unwrap_or_default();
    eprintln!(
        "[matrix] flood over {via}: {} refused past the cap within {slowest:.2?}",
        results.len()
    );
    assert_eq!(srv.stats().refused_busy, p.flood_extra as u64, "{via}");
    assert_eq!(srv.stats().sessions, p.flood_cap as u64, "{via}");
    for w in held {
        w.quit().unwrap();
    }
    wait_closed(&rec, p.flood_cap);
    let deadline = Instant::now() + MARGIN;
    while srv.stats().sessions > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
    }
    still_serves(via, addr);
    assert!(errors(&rec).is_empty(), "{via}: {:?}", errors(&rec));

    // The per-address cap.
    let (srv, _rec) = start_via(
        via,
        Server::builder()
            .max_sessions(p.flood_cap + p.flood_extra + 4)
            .max_sessions_per_ip(p.flood_cap),
    );
    let addr = srv.local_addr();
    let held: Vec<Wire> = (0..p.flood_cap).map(|_| ready(via, addr)).collect();
    let results = parallel(p.flood_extra, move |_| match Wire::open(via, addr) {
        Ok((mut w, (code, line))) => (Some((code, line)), w.closed()),
        Err(_) => (None, true),
    });
    for (greeting, closed) in results {
        if via.implicit_tls() {
            // Refused before the handshake: the handshake fails.
            assert_eq!(greeting, None, "{via}: past the per-address cap");
        } else {
            assert_eq!(
                greeting,
                Some((421, PER_IP_421.to_string())),
                "{via}: past the per-address cap"
            );
        }
        assert!(closed, "{via}: not closed past the per-address cap");
    }
    assert_eq!(srv.stats().refused_per_ip, p.flood_extra as u64, "{via}");
    drop(held);
}

#[test]
fn flood_short() {
    run_matrix("flood past the caps", |via| flood(&SHORT, via));
}

#[test]
#[ignore]
fn flood_full() {
    run_matrix("flood past the caps", |via| flood(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// Shutdown under load: an idle session is told at once, a transaction in progress finishes
// and is acknowledged, every acknowledged message is delivered, nothing is delivered
// without an acknowledgement unless the connection failed after the final dot.

/// What one looping client saw.
#[derive(Default)]
struct Outcome {
    acked: Vec<String>,
    unknown: Vec<String>,
    /// How it ended.
    end: String,
}

fn message_id(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"X-Id: ")?;
    let end = rest.iter().position(|&b| b == b'\r')?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

fn shutdown_under_load(p: &'static Params, via: Via) {
    let (srv, rec) = start_via(via, Server::builder());
    let addr = srv.local_addr();
    let mut idle = ready(via, addr);
    let mut busy = into_data(via, addr);
    busy.send(b"X-Id: busy\r\n\r\nfirst half\r\n").unwrap();
    // Every loader has a message acknowledged before the clock starts (a busy machine may
    // take a while to run them all).
    let started = Arc::new(AtomicUsize::new(0));
    let loaders: Vec<_> = (0..p.shutdown_clients)
        .map(|i| {
            let started = Arc::clone(&started);
            thread::spawn(move || {
                let mut out = Outcome::default();
                let mut w = match Wire::ready(via, addr) {
                    Ok(w) => w,
                    Err(e) => {
                        out.end = format!("connect: {e}");
                        started.fetch_add(1, Ordering::SeqCst);
                        return out;
                    }
                };
                for m in 0..1_000_000 {
                    let id = format!("c{i}-{m}");
                    let step = w
                        .cmd_expect("MAIL FROM:<load@b.example>", 250)
                        .and_then(|_| w.cmd_expect("RCPT TO:<c@d.example>", 250))
                        .and_then(|_| w.cmd_expect("DATA", 354));
                    if let Err(e) = step {
                        out.end = format!("before DATA: {e}");
                        break;
                    }
                    let body = format!("X-Id: {id}\r\n\r\nload\r\n.\r\n");
                    if let Err(e) = w.send(body.as_bytes()) {
                        out.end = format!("sending the body: {e}");
                        out.unknown.push(id);
                        break;
                    }
                    match w.reply() {
                        Ok((250, _)) => out.acked.push(id),
                        other => {
                            out.end = format!("after the dot: {other:?}");
                            if other.is_err() {
                                out.unknown.push(id);
                            }
                            break;
                        }
                    }
                    if m == 0 {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                }
                if out.acked.is_empty() {
                    started.fetch_add(1, Ordering::SeqCst);
                }
                out
            })
        })
        .collect();
    let t = Instant::now();
    while started.load(Ordering::SeqCst) < p.shutdown_clients && t.elapsed() < MARGIN * 2 {
        sleep(Duration::from_millis(10));
    }
    sleep(p.shutdown_after);
    let srv: Arc<ServerHandle> = Arc::new(srv);
    let s2 = Arc::clone(&srv);
    let grace = p.shutdown_grace;
    let stopper = thread::spawn(move || {
        let t = Instant::now();
        s2.shutdown(grace);
        t.elapsed()
    });
    // The idle session is told at once.
    let r = idle.reply();
    assert!(
        matches!(&r, Ok((421, l)) if l == SHUTDOWN_421),
        "{via}: idle session: {r:?}"
    );
    assert!(idle.closed(), "{via}: idle session not closed");
    // The busy one finishes its message, which is accepted, and is then told.
    busy.send(b"second half\r\n.\r\n").unwrap();
    assert_eq!(
        busy.expect(250).map(drop).ok(),
        Some(()),
        "{via}: busy message"
    );
    let r = busy.reply();
    assert!(
        matches!(&r, Ok((421, l)) if l == SHUTDOWN_421),
        "{via}: busy session after its message: {r:?}"
    );
    let took = stopper.join().unwrap();
    let outcomes: Vec<Outcome> = loaders.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(took < grace + MARGIN, "{via}: shutdown took {took:.2?}");
    assert_eq!(srv.stats().sessions, 0, "{via}");
    // New connections are refused.
    assert!(
        TcpStream::connect(addr).is_err() || Wire::ready(via, addr).is_err(),
        "{via}: served after shutdown"
    );
    let r = rec.lock().unwrap();
    let delivered: HashSet<String> = r
        .messages
        .iter()
        .map(|m| message_id(&m.body).unwrap_or_default())
        .collect();
    let busy_body = r
        .messages
        .iter()
        .find(|m| m.body.starts_with(b"X-Id: busy"));
    assert_eq!(
        busy_body.map(|m| m.body.as_slice()),
        Some(&b"X-Id: busy\r\n\r\nfirst half\r\nsecond half\r\n"[..]),
        "{via}"
    );
    let acked: HashSet<String> = outcomes.iter().flat_map(|o| o.acked.clone()).collect();
    let unknown: HashSet<String> = outcomes.iter().flat_map(|o| o.unknown.clone()).collect();
    let lost: Vec<_> = acked.difference(&delivered).collect();
    assert!(lost.is_empty(), "{via}: 250 without delivery: {lost:?}");
    let unacked: Vec<_> = delivered
        .iter()
        .filter(|id| *id != "busy" && !acked.contains(*id) && !unknown.contains(*id))
        .collect();
    assert!(
        unacked.is_empty(),
        "{via}: delivered without 250 nor a failed connection: {unacked:?}"
    );
    let ends: Vec<&str> = outcomes.iter().map(|o| o.end.as_str()).collect();
    assert!(
        outcomes.iter().all(|o| !o.acked.is_empty()),
        "{via}: a client had no message acknowledged before the shutdown: {ends:?}"
    );
    assert_eq!(r.closes, r.connects, "{via}: on_close once per session");
    eprintln!(
        "[matrix] shutdown over {via}: {} acknowledged, {} delivered, {} unknown, shutdown took {took:.2?}",
        acked.len(),
        delivered.len(),
        unknown.len()
    );
}

#[test]
fn shutdown_under_load_short() {
    run_matrix("shutdown under load", |via| {
        shutdown_under_load(&SHORT, via)
    });
}

#[test]
#[ignore]
fn shutdown_under_load_full() {
    run_matrix("shutdown under load", |via| shutdown_under_load(&FULL, via));
}

// ---------------------------------------------------------------------------------------------
// Slow reader: pipelined EHLOs, replies never read. The server's writes are bounded by the
// write deadline (the command timeout), so the session ends.

/// How long after its writes block a slow reader may wait for the cut: two write timeouts (a
/// write that makes a little progress before blocking), plus the server's work through the
/// commands already in its buffers, which on a busy machine running a debug build takes
/// seconds.
fn slow_reader_bound(timeout: Duration) -> Duration {
    timeout * 2 + MARGIN * 3
}

/// Pipelines EHLOs (encrypted when TLS) and never reads: how long after its writes stopped
/// making progress the server cut it.
fn slow_reader(via: Via, addr: SocketAddr, timeout: Duration) -> Duration {
    let mut w = ready(via, addr);
    let (cut, waited, sent) = w.write_without_reading(slow_reader_bound(timeout));
    assert!(
        cut,
        "{via}: a slow reader was never cut (blocked {waited:.2?}, {sent} octets sent)"
    );
    waited
}

fn slow_readers(p: &'static Params, via: Via) {
    let timeout = p.deadline;
    // The junk-command budget (EHLO and NOOP move no mail) is out of the way: this scenario
    // is about the write deadline.
    let (srv, rec) = start_via(
        via,
        Server::builder()
            .command_timeout(timeout)
            .max_junk_commands(usize::MAX),
    );
    let addr = srv.local_addr();
    let ends = parallel(p.slow_readers, move |_| slow_reader(via, addr, timeout));
    wait_closed(&rec, p.slow_readers);
    // The blocked write times out (`Send(TimedOut)`; the recording handler carries on), then
    // the flush before the next read (`Timeout(Command)`).
    let e = errors(&rec);
    assert!(
        e.iter()
            .all(|e| e == "Send(TimedOut)" || e == "Timeout(Command)"),
        "{via}: {e:?}"
    );
    assert!(e.len() >= p.slow_readers, "{via}: {e:?}");
    let slowest = ends.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < slow_reader_bound(timeout),
        "{via}: cut {slowest:.2?} after its writes blocked"
    );
    eprintln!(
        "[matrix] slow reader over {via}: cut {slowest:.2?} after its writes blocked (write timeout {timeout:?})"
    );
    still_serves(via, addr);
}

#[test]
fn slow_reader_short() {
    run_matrix("slow reader", |via| slow_readers(&SHORT, via));
}

#[test]
#[ignore]
fn slow_reader_full() {
    run_matrix("slow reader", |via| slow_readers(&FULL, via));
}
