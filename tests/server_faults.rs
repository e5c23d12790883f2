//! Faults: peers that vanish, time out, panic the handler, flood the server, or are cut off by
//! a shutdown. Each asserts the typed error the handler saw, `on_close` exactly once, no
//! partial delivery, and that the server still serves the next client.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use smtpkit::server::Server;

/// The server still works: a full transaction from a new client.
fn still_serves(addr: std::net::SocketAddr) {
    let mut c = Client::greeted(addr);
    c.cmd("EHLO x.example", "250 ");
    c.send_mail("a@b.example", &["c@d.example"], "ok\r\n");
    c.cmd("QUIT", "221 ");
}

fn errors(rec: &Shared) -> Vec<String> {
    rec.lock().unwrap().errors.clone()
}

#[test]
fn peer_closes_right_after_connect() {
    let (srv, rec) = default_server();
    drop(TcpStream::connect(srv.local_addr()).unwrap());
    wait_closed(&rec, 1);
    let e = errors(&rec);
    // The greeting may or may not reach the peer before it is gone.
    assert!(
        e == ["Closed(Command)"]
            || e == ["Reset(Command)"]
            || e == ["Send(Closed)"]
            || e == ["Send(Reset)"],
        "{e:?}"
    );
    still_serves(srv.local_addr());
}

#[test]
fn peer_closes_mid_ehlo() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.send("EHLO x.exa");
    sleep(Duration::from_millis(50));
    drop(c);
    wait_closed(&rec, 1);
    assert_eq!(errors(&rec), ["Closed(Command)"]);
    still_serves(srv.local_addr());
}

#[test]
fn peer_closes_mid_data_fin() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("Subject: partial\r\n\r\nhalf a message\r\n");
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(c.closed());
    wait_closed(&rec, 1);
    assert_eq!(errors(&rec), ["Closed(Data)"]);
    assert!(rec.lock().unwrap().messages.is_empty());
    still_serves(srv.local_addr());
    wait_closed(&rec, 2);
    assert_eq!(rec.lock().unwrap().messages.len(), 1);
}

#[test]
fn peer_resets_mid_data() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.send("EHLO x.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    // Wait for the replies to arrive but never read them: closing a socket with unread
    // input makes the kernel send RST instead of FIN.
    sleep(Duration::from_millis(200));
    c.send("Subject: partial\r\n\r\nhalf a message\r\n");
    sleep(Duration::from_millis(50));
    drop(c);
    wait_closed(&rec, 1);
    assert_eq!(errors(&rec), ["Reset(Data)"]);
    assert!(rec.lock().unwrap().messages.is_empty());
    still_serves(srv.local_addr());
}

#[test]
fn quit_then_hang_up_is_not_an_error() {
    let (srv, rec) = default_server();
    for _ in 0..20 {
        let mut s = TcpStream::connect(srv.local_addr()).unwrap();
        s.write_all(b"EHLO x.example\r\nQUIT\r\n").unwrap();
        drop(s);
    }
    wait_closed(&rec, 20);
    let e = errors(&rec);
    // Only the 220/250 writes can meet the closed socket; QUIT's 221 never counts.
    assert!(
        e.iter()
            .all(|e| e.starts_with("Send") || e.starts_with("Reset")),
        "{e:?}"
    );
    let mut c = Client::greeted(srv.local_addr());
    c.line("QUIT");
    drop(c);
    wait_closed(&rec, 21);
    assert_eq!(errors(&rec).len(), e.len());
    still_serves(srv.local_addr());
}

#[test]
fn command_timeout_is_a_deadline_not_an_idle_timer() {
    let (srv, rec) = start(Server::builder().command_timeout(Duration::from_millis(500)));
    let mut c = Client::greeted(srv.local_addr());
    let t = Instant::now();
    // One byte every 100 ms keeps an idle timer happy forever; the deadline still hits.
    let mut cut = false;
    for b in b"EHLO trickle.example".iter() {
        if c.stream.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        sleep(Duration::from_millis(100));
        if t.elapsed() > Duration::from_millis(900) {
            break;
        }
    }
    let _ = cut;
    assert_eq!(c.read_line(), "421 4.4.2 Timeout, closing connection");
    assert!(c.closed());
    wait_closed(&rec, 1);
    assert_eq!(errors(&rec), ["Timeout(Command)"]);
    still_serves(srv.local_addr());
}

#[test]
fn data_block_timeout() {
    let (srv, rec) = start(Server::builder().data_block_timeout(Duration::from_millis(300)));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("a line\r\nhalf a li");
    assert_eq!(c.expect("421 "), "421 4.4.2 Timeout, closing connection");
    wait_closed(&rec, 1);
    assert_eq!(errors(&rec), ["Timeout(Data)"]);
    assert!(rec.lock().unwrap().messages.is_empty());
}

#[test]
fn whole_data_timeout() {
    let (srv, rec) = start(
        Server::builder()
            .data_block_timeout(Duration::from_secs(5))
            .data_timeout(Duration::from_millis(400)),
    );
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    // Complete lines, each within the block deadline, but never the end.
    for _ in 0..10 {
        if c.stream.write_all(b"line\r\n").is_err() {
            break;
        }
        sleep(Duration::from_millis(100));
    }
    assert_eq!(c.expect("421 "), "421 4.4.2 Timeout, closing connection");
    wait_closed(&rec, 1);
    assert_eq!(errors(&rec), ["Timeout(Data)"]);
}

#[test]
fn handler_panic_is_contained() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    assert_eq!(
        c.cmd("RCPT TO:<panic@d.example>", "421 "),
        "421 4.3.0 Internal error, closing connection"
    );
    assert!(c.closed());
    wait_closed(&rec, 1);
    let e = errors(&rec);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(
            "HandlerPanic { callback: \"on_rcpt\", message: \"test panic in on_rcpt\""
        ),
        "{e:?}"
    );
    assert_eq!(srv.stats().handler_panics, 1);
    still_serves(srv.local_addr());
}

#[test]
fn session_cap_refuses_at_once() {
    let (srv, rec) = start(Server::builder().max_sessions(2));
    let mut a = Client::greeted(srv.local_addr());
    let mut b = Client::greeted(srv.local_addr());
    let mut c = Client::connect(srv.local_addr());
    assert_eq!(
        c.read_line(),
        "421 4.7.0 Too many sessions, try again later"
    );
    assert!(c.closed());
    assert_eq!(srv.stats().refused_busy, 1);
    a.cmd("QUIT", "221 ");
    b.cmd("NOOP", "250 ");
    wait_for(&rec, "one session to end", |r| r.closes == 1);
    // A slot is free again (the registry is updated right after on_close).
    let deadline = Instant::now() + Duration::from_secs(5);
    while srv.stats().sessions > 1 && Instant::now() < deadline {
        sleep(Duration::from_millis(5));
    }
    still_serves(srv.local_addr());
}

#[test]
fn shutdown_lets_transactions_finish_then_421() {
    let (srv, rec) = default_server();
    let addr = srv.local_addr();
    let mut idle = Client::greeted(addr);
    idle.cmd("EHLO idle.example", "250 ");
    let mut busy = Client::greeted(addr);
    busy.cmd("EHLO busy.example", "250 ");
    busy.cmd("MAIL FROM:<a@b.example>", "250 ");
    busy.cmd("RCPT TO:<c@d.example>", "250 ");
    busy.cmd("DATA", "354 ");
    busy.send("first half\r\n");
    let stopper = std::thread::spawn(move || {
        let t = Instant::now();
        srv.shutdown(Duration::from_secs(10));
        t.elapsed()
    });
    // The idle session is told at once.
    assert_eq!(
        idle.read_line(),
        "421 4.3.2 Service shutting down, closing connection"
    );
    assert!(idle.closed());
    // The busy one finishes its message, which is accepted, and is then told.
    busy.send("second half\r\n.\r\n");
    busy.expect("250 ");
    assert_eq!(
        busy.read_line(),
        "421 4.3.2 Service shutting down, closing connection"
    );
    let took = stopper.join().unwrap();
    assert!(took < Duration::from_secs(10), "{took:?}");
    // New connections are refused.
    assert!(TcpStream::connect(addr).is_err() || Client::connect(addr).closed());
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].body, b"first half\r\nsecond half\r\n");
    assert_eq!(r.closes, 2);
}

#[test]
fn shutdown_grace_expires_for_stalled_transactions() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("never finished\r\n");
    srv.shutdown(Duration::from_millis(300));
    // The stalled transaction is never acknowledged; the session ended.
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut c.reader, &mut rest);
    assert!(!rest.contains("250"), "{rest:?}");
    let r = rec.lock().unwrap();
    assert!(r.messages.is_empty());
    assert_eq!(r.closes, 1);
}
