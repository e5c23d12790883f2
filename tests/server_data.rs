//! DATA over real sockets: un-stuffing, size and line limits, bare CR/LF policies, smuggling.

mod common;

use common::*;
use smtpkit::server::{BareLinePolicy, Server};

/// Opens a transaction and sends DATA; returns the client ready for the body.
fn in_data(c: &mut Client) {
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
}

/// The smuggling forms: none of them may end DATA.
const SMUGGLE: [&str; 5] = ["\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", "\r.\r\n"];

#[test]
fn smuggled_terminators_never_end_data_when_rejected() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    for form in SMUGGLE {
        in_data(&mut c);
        c.send(&format!("Subject: x\r\n\r\nhello{form}MAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@d.example>\r\nDATA\r\nsmuggled\r\n.\r\n"));
        // One reply only, after the real terminator: the message is refused as a whole.
        assert_eq!(
            c.expect("550 "),
            "550 5.6.11 Bare CR or LF not allowed in message",
            "{form:?}"
        );
        c.cmd("NOOP", "250 ");
    }
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert!(r.messages.is_empty(), "{} delivered", r.messages.len());
    assert_eq!(
        r.errors
            .iter()
            .filter(|e| e.starts_with("DataRejected"))
            .count(),
        5
    );
}

#[test]
fn smuggled_terminators_stay_in_the_message_when_allowed() {
    for policy in [
        BareLinePolicy::Allow,
        BareLinePolicy::Normalize,
        BareLinePolicy::Strip,
    ] {
        let (srv, rec) = start(Server::builder().bare_line_policy(policy));
        let mut c = Client::greeted(srv.local_addr());
        for form in SMUGGLE {
            in_data(&mut c);
            c.send(&format!("hello{form}MAIL FROM:<evil@x.example>\r\n.\r\n"));
            c.expect("250 ");
        }
        c.cmd("QUIT", "221 ");
        wait_closed(&rec, 1);
        let r = rec.lock().unwrap();
        assert_eq!(r.messages.len(), SMUGGLE.len(), "{policy:?}");
        for (m, form) in r.messages.iter().zip(SMUGGLE) {
            let body = String::from_utf8_lossy(&m.body);
            assert!(
                body.starts_with("hello") && body.ends_with("MAIL FROM:<evil@x.example>\r\n"),
                "{policy:?} {form:?}: {body:?}"
            );
        }
        // The exact transformation of each policy, on the first form (LF . LF).
        let expect = match policy {
            BareLinePolicy::Allow => "hello\n.\nMAIL FROM:<evil@x.example>\r\n",
            BareLinePolicy::Normalize => "hello\r\n.\r\nMAIL FROM:<evil@x.example>\r\n",
            _ => "hello.MAIL FROM:<evil@x.example>\r\n",
        };
        assert_eq!(String::from_utf8_lossy(&r.messages[0].body), expect);
    }
}

#[test]
fn oversized_message_answered_after_terminator() {
    let (srv, rec) = start(Server::builder().max_message_size(Some(100)));
    let mut c = Client::greeted(srv.local_addr());
    in_data(&mut c);
    // 150 octets: over the limit, under twice it.
    c.send(&format!("{}\r\n.\r\n", "x".repeat(148)));
    assert_eq!(
        c.expect("552 "),
        "552 5.3.4 Message size exceeds fixed limit"
    );
    // The session is in sync and goes on.
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send(&format!("{}\r\n.\r\n", "y".repeat(98)));
    c.expect("250 ");
    // Far over the limit: the server answers without waiting for the end, and closes.
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send(&"z".repeat(1000));
    assert_eq!(
        c.expect("552 "),
        "552 5.3.4 Message size exceeds fixed limit"
    );
    assert!(c.closed());
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].body.len(), 100);
}

#[test]
fn data_line_limit() {
    let (srv, rec) = start(Server::builder().max_data_line(Some(1000)));
    let mut c = Client::greeted(srv.local_addr());
    in_data(&mut c);
    c.send(&format!("{}\r\n.\r\n", "x".repeat(998)));
    c.expect("250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send(&format!("{}\r\n.\r\n", "x".repeat(999)));
    assert_eq!(c.expect("500 "), "500 5.5.2 Line too long in message");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().messages.len(), 1);
}

#[test]
fn eight_bit_and_binary_bytes_pass_unchanged() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    in_data(&mut c);
    let mut body: Vec<u8> = b"Subject: caf\xc3\xa9\r\n\r\n".to_vec();
    body.extend((0u8..=255).filter(|&b| b != b'\r' && b != b'\n'));
    body.extend_from_slice(b"\r\n");
    c.send_raw(&body);
    c.send(".\r\n");
    c.expect("250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().messages[0].body, body);
}

#[test]
fn large_message_streams_through() {
    let (srv, rec) = start(Server::builder().max_message_size(None));
    let mut c = Client::greeted(srv.local_addr());
    c.line("EHLO x.example");
    assert!(c.reply().contains(&"250-SIZE 0".to_string()));
    c.cmd("MAIL FROM:<a@b.example> SIZE=99999999999", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    let line = format!("{}\r\n", "0123456789".repeat(7));
    let mut body = String::new();
    for i in 0..100_000 {
        if i % 10 == 0 {
            body.push('.');
        }
        body.push_str(&line);
    }
    c.send(&body);
    c.send(".\r\n");
    c.expect("250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages[0].body.len(), 100_000 * line.len());
}
