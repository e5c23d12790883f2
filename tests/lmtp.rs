//! LMTP (RFC 2033): LHLO only, one reply per accepted recipient after DATA.

mod common;

use std::io::Read;

use common::*;
use smtpkit::Reply;
use smtpkit::server::{Envelope, Handler, Protocol, Server};

struct PerRecipient;

impl Handler for PerRecipient {
    fn on_data_lmtp(&mut self, env: &Envelope, data: &mut dyn Read) -> Vec<Result<Reply, Reply>> {
        let ok = smtpkit::server::collect(data).is_ok();
        env.recipients
            .iter()
            .map(|r| match r.mailbox.local_part.as_str() {
                _ if !ok => Err(Reply::TRANSACTION_FAILED),
                "full" => Err(Reply::with(452, (4, 2, 2), "Mailbox full")),
                _ => Ok(Reply::QUEUED),
            })
            .collect()
    }
}

#[test]
fn lhlo_and_per_recipient_replies() {
    let srv = Server::builder()
        .hostname("lmtp.example")
        .protocol(Protocol::Lmtp)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| PerRecipient)
        .unwrap();
    let mut c = Client::connect(srv.local_addr());
    assert_eq!(c.read_line(), "220 lmtp.example LMTP");
    c.cmd("EHLO x.example", "500 5.5.1");
    c.cmd("HELO x.example", "500 5.5.1");
    c.cmd("MAIL FROM:<a@b.example>", "503 ");
    c.line("LHLO x.example");
    assert_eq!(c.reply()[0], "250-lmtp.example");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<one@d.example>", "250 ");
    c.cmd("RCPT TO:<full@d.example>", "250 ");
    c.cmd("RCPT TO:<two@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("hi\r\n.\r\n");
    assert_eq!(c.read_line(), "250 2.0.0 OK: queued");
    assert_eq!(c.read_line(), "452 4.2.2 Mailbox full");
    assert_eq!(c.read_line(), "250 2.0.0 OK: queued");
    c.cmd("QUIT", "221 ");
}

#[test]
fn rejected_body_gets_one_reply_per_recipient() {
    let srv = Server::builder()
        .protocol(Protocol::Lmtp)
        .max_message_size(Some(10))
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| PerRecipient)
        .unwrap();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("LHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<one@d.example>", "250 ");
    c.cmd("RCPT TO:<two@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("twelve bytes\r\n.\r\n");
    assert_eq!(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
    assert_eq!(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
    c.cmd("NOOP", "250 ");
    // Far past the limit: the server stops reading, but still answers every recipient.
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<one@d.example>", "250 ");
    c.cmd("RCPT TO:<two@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send(&"x".repeat(300));
    assert_eq!(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
    assert_eq!(c.read_line(), "552 5.3.4 Message size exceeds fixed limit");
    assert!(c.closed());
}

#[test]
fn default_lmtp_handler_repeats_on_data() {
    let (srv, rec) = start(Server::builder().protocol(Protocol::Lmtp));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("LHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<one@d.example>", "250 ");
    c.cmd("RCPT TO:<bad@d.example>", "550 ");
    c.cmd("RCPT TO:<two@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send("hi\r\n.\r\n");
    c.expect("250 ");
    c.expect("250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().messages.len(), 1);
}

#[test]
fn lmtp_refuses_port_25() {
    let err = Server::builder()
        .protocol(Protocol::Lmtp)
        .bind("127.0.0.1:25")
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("port 25"), "{err}");
}
