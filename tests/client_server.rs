//! smtpkit's client against smtpkit's server over real sockets: delivery, partial delivery,
//! LMTP, TLS and AUTH, pipelining, dot-stuffing and line endings.

mod common;
#[path = "common/pki.rs"]
mod pki;

use std::sync::{Arc, Mutex};

use common::*;
use smtpkit::Reply;
use smtpkit::client::{
    Client, Direction, Email, ErrorKind, OnError, Options, Pool, Status, TlsMode,
};
use smtpkit::sasl::{Credentials, Mechanism};
use smtpkit::server::{Handler, Protocol, Server};
use smtpkit::tls::ClientTrust;

fn relay(srv: &smtpkit::server::ServerHandle) -> Options {
    Options::relay(srv.local_addr().to_string())
        .tls(TlsMode::Never)
        .hostname("client.example")
}

/// Collects the transcript lines.
fn transcript(opts: Options) -> (Options, Arc<Mutex<Vec<String>>>) {
    let lines: Arc<Mutex<Vec<String>>> = Default::default();
    let l2 = Arc::clone(&lines);
    let opts = opts.transcript(move |_host, dir, line| {
        let arrow = if dir == Direction::Sent { "C:" } else { "S:" };
        l2.lock().unwrap().push(format!("{arrow} {line}"));
    });
    (opts, lines)
}

#[test]
fn delivers_with_exact_body() {
    let (srv, rec) = default_server();
    let client = Client::new(relay(&srv)).unwrap();
    // Bare LF and CR line endings, a leading dot, no final newline.
    let email = Email::new(
        "a@example.org",
        &["b@example.net", "c@example.net"],
        "Subject: x\n\n.dot\rline\nlast",
    )
    .unwrap();
    let receipt = client.send(&email).unwrap();
    assert_eq!(receipt.status(), Status::Delivered);
    assert_eq!(receipt.reply, Reply::QUEUED);
    assert_eq!(receipt.recipients.len(), 2);
    assert!(
        receipt
            .recipients
            .iter()
            .all(|r| r.delivered && r.reply == Reply::QUEUED)
    );
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(
        r.messages[0].body,
        b"Subject: x\r\n\r\n.dot\r\nline\r\nlast\r\n"
    );
    assert_eq!(r.messages[0].to, ["b@example.net", "c@example.net"]);
    // SIZE= declared, exactly the wire size before stuffing.
    assert_eq!(
        r.messages[0].params.size,
        Some(r.messages[0].body.len() as u64)
    );
}

#[test]
fn refused_recipient_does_not_abort_the_others_and_pipelining_is_used() {
    let (srv, rec) = default_server();
    let (opts, lines) = transcript(relay(&srv));
    let client = Client::new(opts).unwrap();
    let email = Email::new(
        "a@example.org",
        &["bad1@example.net", "ok@example.net"],
        "hi\r\n",
    )
    .unwrap();
    let receipt = client.send(&email).unwrap();
    assert_eq!(receipt.status(), Status::Partial);
    let refused: Vec<_> = receipt.refused().collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].mailbox.to_string(), "bad1@example.net");
    assert_eq!(refused[0].reply, Reply::NO_SUCH_USER);
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().messages[0].to, ["ok@example.net"]);
    // Pipelined: MAIL, both RCPTs and DATA were sent before any of their replies arrived.
    let t = lines.lock().unwrap().clone();
    let mail = t
        .iter()
        .position(|l| l.starts_with("C: MAIL FROM"))
        .unwrap();
    assert_eq!(t[mail + 1], "C: RCPT TO:<bad1@example.net>");
    assert_eq!(t[mail + 2], "C: RCPT TO:<ok@example.net>");
    assert_eq!(t[mail + 3], "C: DATA");
    assert!(t[mail + 4].starts_with("S: 250 2.1.0"), "{t:?}");
}

#[test]
fn all_recipients_refused_is_an_error_with_results() {
    let (srv, _rec) = default_server();
    for pipelining in [true, false] {
        let client = Client::new(relay(&srv).pipelining(pipelining)).unwrap();
        let email = Email::new(
            "a@example.org",
            &["bad1@example.net", "bad2@example.net"],
            "hi\r\n",
        )
        .unwrap();
        let e = client.send(&email).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
        assert!(e.is_permanent());
        assert_eq!(e.recipients().len(), 2);
        assert!(
            e.recipients()
                .iter()
                .all(|r| !r.delivered && r.reply.code == 550)
        );
        assert_eq!(e.host(), Some("127.0.0.1"));
    }
}

#[test]
fn lmtp_per_recipient_replies() {
    struct Lmtp;
    impl Handler for Lmtp {
        fn on_data_lmtp(
            &mut self,
            env: &smtpkit::server::Envelope,
            data: &mut dyn std::io::Read,
        ) -> Vec<Result<Reply, Reply>> {
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
    let srv = Server::builder()
        .protocol(Protocol::Lmtp)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| Lmtp)
        .unwrap();
    let client = Client::new(relay(&srv).protocol(Protocol::Lmtp)).unwrap();
    let email = Email::new(
        "a@example.org",
        &["one@x.example", "full@x.example", "two@x.example"],
        "hi\r\n",
    )
    .unwrap();
    let receipt = client.send(&email).unwrap();
    assert_eq!(receipt.status(), Status::Partial);
    let codes: Vec<u16> = receipt.recipients.iter().map(|r| r.reply.code).collect();
    assert_eq!(codes, [250, 452, 250]);
    assert_eq!(
        receipt.recipients[1].reply.to_string(),
        "452 4.2.2 Mailbox full"
    );
}

struct Auth;
impl Handler for Auth {
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        if c.username() == "alice" && c.check_password("s3cret") {
            Ok(())
        } else {
            Err(Reply::AUTH_FAILED)
        }
    }
}

fn tls_auth_server() -> smtpkit::server::ServerHandle {
    Server::builder()
        .tls(pki::server_tls())
        .auth_mechanisms(&[Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5])
        .require_auth(true)
        .bind("127.0.0.1:0")
        .unwrap()
        .bind_implicit_tls("127.0.0.1:0")
        .unwrap()
        .spawn(|_| Auth)
        .unwrap()
}

fn trust() -> ClientTrust {
    ClientTrust::roots_from_pem(pki::pki().ca.as_bytes()).unwrap()
}

#[test]
fn starttls_required_and_each_auth_mechanism() {
    let srv = tls_auth_server();
    let port = srv.local_addrs()[0].port();
    for m in [Mechanism::CramMd5, Mechanism::Login, Mechanism::Plain] {
        let (opts, lines) = transcript(
            Options::relay(format!("localhost:{port}"))
                .tls(TlsMode::Required)
                .trust(trust())
                .login("alice", "s3cret")
                .mechanisms(&[m]),
        );
        let client = Client::new(opts).unwrap();
        let email = Email::new("alice@example.org", &["bob@example.net"], "hi\r\n").unwrap();
        client.send(&email).unwrap_or_else(|e| panic!("{m}: {e}"));
        let t = lines.lock().unwrap().clone();
        assert!(t.contains(&"C: STARTTLS".to_string()));
        // Secrets never reach the transcript.
        assert!(!t.iter().any(|l| l.contains("s3cret")), "{t:?}");
        assert!(
            t.iter()
                .any(|l| l == "S: 235 2.7.0 Authentication successful"),
            "{m}: {t:?}"
        );
    }
    // Wrong password: permanent, 535.
    let client = Client::new(
        Options::relay(format!("localhost:{port}"))
            .tls(TlsMode::Required)
            .trust(trust())
            .login("alice", "wrong"),
    )
    .unwrap();
    let email = Email::new("alice@example.org", &["bob@example.net"], "hi\r\n").unwrap();
    let e = client.send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert_eq!(e.reply().map(|r| r.code), Some(535));
}

#[test]
fn implicit_tls_and_certificate_verification() {
    let srv = tls_auth_server();
    let port = srv.local_addrs()[1].port();
    let email = Email::new("alice@example.org", &["bob@example.net"], "hi\r\n").unwrap();
    let ok = Client::new(
        Options::relay(format!("localhost:{port}"))
            .tls(TlsMode::Implicit)
            .trust(trust())
            .login("alice", "s3cret"),
    )
    .unwrap();
    ok.send(&email).unwrap();
    // The default trust (webpki roots) does not know the test CA: a TLS error, never a send.
    let bad = Client::new(
        Options::relay(format!("localhost:{port}"))
            .tls(TlsMode::Implicit)
            .login("alice", "s3cret"),
    )
    .unwrap();
    let e = bad.send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[test]
fn credentials_never_go_out_in_plaintext() {
    let (srv, rec) = start(
        Server::builder()
            .auth_mechanisms(&[Mechanism::Plain])
            .allow_insecure_auth(true),
    );
    let email = Email::new("a@example.org", &["b@example.net"], "hi\r\n").unwrap();
    let e = Client::new(relay(&srv).login("alice", "s3cret")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // Opportunistic TLS, but the server has none: refused before AUTH, nothing sent.
    let client = Client::new(
        relay(&srv)
            .tls(TlsMode::Opportunistic)
            .login("alice", "s3cret"),
    )
    .unwrap();
    let e = client.send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement, "{e}");
    wait_closed(&rec, 1);
    assert!(rec.lock().unwrap().messages.is_empty());
}

#[test]
fn required_tls_not_offered() {
    let (srv, rec) = default_server();
    let client = Client::new(relay(&srv).tls(TlsMode::Required).trust(trust())).unwrap();
    let email = Email::new("a@example.org", &["b@example.net"], "hi\r\n").unwrap();
    let e = client.send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement);
    wait_closed(&rec, 1);
    assert!(rec.lock().unwrap().messages.is_empty());
}

#[test]
fn message_over_server_size_is_refused_before_sending() {
    let (srv, rec) = start(Server::builder().max_message_size(Some(100)));
    let client = Client::new(relay(&srv)).unwrap();
    let email = Email::new("a@example.org", &["b@example.net"], vec![b'x'; 200]).unwrap();
    let e = client.send(&email).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement);
    wait_closed(&rec, 1);
    assert!(rec.lock().unwrap().messages.is_empty());
}

#[test]
fn connection_reuse_and_pool() {
    let (srv, rec) = default_server();
    let client = Client::new(relay(&srv).on_error(OnError::Reset)).unwrap();
    let mut conn = client.connect().unwrap();
    for i in 0..5 {
        let email = Email::new(
            "a@example.org",
            &[&format!("r{i}@example.net") as &str],
            format!("n{i}\r\n"),
        )
        .unwrap();
        conn.deliver(&email).unwrap();
    }
    // A failed transaction is reset and the connection goes on.
    let bad = Email::new("a@example.org", &["bad@example.net"], "x\r\n").unwrap();
    assert!(conn.deliver(&bad).is_err());
    assert!(conn.is_open());
    conn.noop().unwrap();
    conn.close();
    let pool = Pool::new(client, 2);
    for i in 0..6 {
        let email =
            Email::new("a@example.org", &["p@example.net"], format!("pool {i}\r\n")).unwrap();
        pool.send(&email).unwrap();
    }
    drop(pool);
    wait_closed(&rec, 2);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 11);
    // One connection for the five, one for the pool's six.
    assert_eq!(r.connects, 2);
}

#[test]
fn utf8_addresses_use_smtputf8() {
    let (srv, rec) = default_server();
    let client = Client::new(relay(&srv)).unwrap();
    let email = Email::new(
        "jörg@example.org",
        &["ñ@example.net"],
        "Subject: é\r\n\r\nü\r\n",
    )
    .unwrap();
    client.send(&email).unwrap();
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert!(r.messages[0].params.smtputf8);
    assert_eq!(
        r.messages[0].params.body,
        Some(smtpkit::server::Body::EightBitMime)
    );
    let (plain, _) = start(Server::builder().smtputf8(false));
    let e = Client::new(relay(&plain))
        .unwrap()
        .send(&email)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequirement);
}

#[test]
fn cr_lf_injection_is_refused_before_sending() {
    assert_eq!(
        Email::new("a@example.org\r\nRCPT TO:<x@y>", &["b@example.net"], "x")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        Email::new("a@example.org", &["b@example.net>\r\nDATA"], "x")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    let (srv, rec) = default_server();
    let e = Client::new(relay(&srv).hostname("evil\r\nMAIL FROM:<x@y>"))
        .unwrap()
        .send(&Email::new("a@example.org", &["b@example.net"], "x").unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(rec.lock().unwrap().messages.len(), 0);
}

/// `send_background` calls back once per message with its own result, from other threads,
/// while the caller goes on; `spawn_send` hands the result to `join`.
#[test]
fn send_background_and_spawn_send() {
    let (srv, rec) = default_server();
    let client = Client::new(relay(&srv)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut handles = Vec::new();
    for i in 0..4 {
        let to = if i == 3 {
            "bad@example.net"
        } else {
            "ok@example.net"
        };
        let email = Email::new("a@example.org", &[to], format!("n{i}\r\n")).unwrap();
        let tx = tx.clone();
        handles.push(client.send_background(email, move |r| {
            let _ = tx.send((i, r.map(|r| r.reply.code).map_err(|e| e.kind())));
        }));
    }
    let spawned =
        client.spawn_send(Email::new("a@example.org", &["ok@example.net"], "spawned\r\n").unwrap());
    for h in handles {
        h.join().unwrap();
    }
    let mut got: Vec<_> = rx.try_iter().collect();
    got.sort_by_key(|(i, _)| *i);
    assert_eq!(
        got,
        [
            (0, Ok(250)),
            (1, Ok(250)),
            (2, Ok(250)),
            (3, Err(ErrorKind::Permanent))
        ]
    );
    let r = spawned.join().unwrap().unwrap();
    assert_eq!(r.status(), Status::Delivered);
    wait_for(&rec, "4 messages", |r| r.messages.len() == 4);
    let mut bodies: Vec<Vec<u8>> = rec
        .lock()
        .unwrap()
        .messages
        .iter()
        .map(|m| m.body.clone())
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            b"n0\r\n".to_vec(),
            b"n1\r\n".to_vec(),
            b"n2\r\n".to_vec(),
            b"spawned\r\n".to_vec()
        ]
    );
    // A failure reaches the callback too (nothing listens there any more).
    let dead = Client::new(Options::relay("127.0.0.1:1").tls(TlsMode::Never).retries(0)).unwrap();
    let e = dead
        .spawn_send(Email::new("a@example.org", &["b@example.net"], "x").unwrap())
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
}
