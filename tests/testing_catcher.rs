//! `smtpkit::testing::Catcher` as a program's tests use it, over real sockets.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Client;
use smtpkit::client::{Client as SmtpClient, Email, Options, TlsMode};
use smtpkit::maildir::Maildir;
use smtpkit::server::Server;
use smtpkit::testing::Catcher;

fn send(c: &mut Client, from: &str, to: &[&str], body: &str) -> String {
    c.cmd(&format!("MAIL FROM:<{from}>"), "250 ");
    for t in to {
        c.cmd(&format!("RCPT TO:<{t}>"), "250 ");
    }
    c.cmd("DATA", "354 ");
    c.send(body);
    c.read_line()
}

#[test]
fn catches_messages_with_their_envelopes() {
    let catcher = Catcher::builder()
        .server(Server::builder().hostname("catcher.test"))
        .start()
        .unwrap();
    assert!(catcher.addr().ip().is_loopback());
    let mut c = Client::connect(catcher.addr());
    assert_eq!(c.read_line(), "220 catcher.test ESMTP");
    c.cmd("EHLO client.example", "250 ");
    let reply = send(
        &mut c,
        "a@example.org",
        &["b@example.net", "c@example.net"],
        "Subject: one\r\n\r\n..dotted\r\n.\r\n",
    );
    assert_eq!(reply, "250 2.0.0 OK: queued");
    let reply = send(
        &mut c,
        "",
        &["d@example.net"],
        "Subject: two\r\n\r\nx\r\n.\r\n",
    );
    assert_eq!(reply, "250 2.0.0 OK: queued");
    c.cmd("QUIT", "221 ");

    let got = catcher.wait_for(2, Duration::from_secs(5)).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].envelope.helo, "client.example");
    assert_eq!(
        got[0].envelope.from.as_ref().unwrap().to_string(),
        "a@example.org"
    );
    let rcpts: Vec<String> = got[0]
        .envelope
        .recipients
        .iter()
        .map(|r| r.mailbox.to_string())
        .collect();
    assert_eq!(rcpts, ["b@example.net", "c@example.net"]);
    assert_eq!(got[0].data, b"Subject: one\r\n\r\n.dotted\r\n");
    assert_eq!(got[0].subject().as_deref(), Some("one"));
    assert_eq!(got[0].text().as_deref(), Some(".dotted\r\n"));
    assert!(got[0].peer.ip().is_loopback());
    assert_eq!(got[0].file, None);
    assert_eq!(got[1].envelope.from, None, "the null sender");
    assert_eq!(catcher.messages(), got);
    assert_eq!(catcher.stats().messages, 2);

    catcher.clear();
    assert_eq!(catcher.messages(), vec![]);
}

#[test]
fn wait_for_times_out_with_what_arrived() {
    let catcher = Catcher::start().unwrap();
    let mut c = Client::greeted(catcher.addr());
    c.cmd("HELO x", "250 ");
    send(
        &mut c,
        "a@example.org",
        &["b@example.net"],
        "Subject: only\r\n\r\n.\r\n",
    );
    let started = Instant::now();
    let e = catcher.wait_for(2, Duration::from_millis(300)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(e.wanted, 2);
    assert_eq!(e.caught.len(), 1);
    assert_eq!(e.to_string(), "waited for 2 message(s), 1 arrived");
}

#[test]
fn with_smtpkits_client_and_a_refused_recipient() {
    let catcher = Catcher::builder()
        .refuse("nobody@example.net")
        .start()
        .unwrap();
    let client =
        SmtpClient::new(Options::relay(catcher.addr().to_string()).tls(TlsMode::Never)).unwrap();
    let email = Email::new(
        "app@example.org",
        &["user@example.net", "Nobody@Example.net"],
        "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n",
    )
    .unwrap();
    let receipt = client.send(&email).unwrap();
    let delivered: Vec<(String, bool)> = receipt
        .recipients
        .iter()
        .map(|r| (r.mailbox.to_string(), r.delivered))
        .collect();
    assert_eq!(
        delivered,
        [
            ("user@example.net".to_string(), true),
            ("Nobody@Example.net".to_string(), false)
        ]
    );
    let got = catcher.wait_for(1, Duration::from_secs(5)).unwrap();
    assert_eq!(got[0].subject().as_deref(), Some("café"));
    assert_eq!(got[0].envelope.recipients.len(), 1);
}

#[test]
fn stores_in_a_maildir_when_given_one() {
    let dir = std::env::temp_dir().join(format!("smtpkit-catcher-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let catcher = Catcher::builder()
        .maildir(Maildir::create(&dir).unwrap())
        .start()
        .unwrap();
    let mut c = Client::greeted(catcher.addr());
    c.cmd("HELO x", "250 ");
    let reply = send(
        &mut c,
        "a@example.org",
        &["b@example.net"],
        "Subject: kept\r\n\r\nbody\r\n.\r\n",
    );
    let got = catcher.wait_for(1, Duration::from_secs(5)).unwrap();
    let file = got[0].file.clone().unwrap();
    let name = file.file_name().unwrap().to_str().unwrap();
    assert_eq!(reply, format!("250 2.0.0 OK: queued as {name}"));
    assert_eq!(file.parent().unwrap(), dir.join("new"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "Return-Path: <a@example.org>\r\nX-Original-To: <b@example.net>\r\nSubject: kept\r\n\r\nbody\r\n"
    );
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    drop(catcher);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dropping_it_closes_sessions_and_the_port() {
    let catcher = Catcher::start().unwrap();
    let addr = catcher.addr();
    let mut c = Client::greeted(addr);
    c.cmd("HELO x", "250 ");
    drop(catcher);
    assert_eq!(
        c.read_line(),
        "421 4.3.2 Service shutting down, closing connection"
    );
    assert!(c.closed());
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after drop"
    );
}
