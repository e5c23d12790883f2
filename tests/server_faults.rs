//! Faults on plaintext only: a peer gone before the greeting, QUIT then hang-up, a handler that
//! panics, a shutdown whose grace expires. Each asserts the typed error the handler saw,
//! `on_close` exactly once, no partial delivery, and that the server still serves the next
//! client.
//!
//! The faults that depend on the transport (FIN and RST mid-command and mid-DATA, half-close,
//! command, DATA and BDAT deadlines against trickling clients, the session and per-address
//! caps, shutdown with transactions in progress, slow readers) run over every transport in
//! `tests/fault_matrix.rs`.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;

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
