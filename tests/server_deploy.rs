//! Deployment features over real sockets: CHUNKING/BDAT, DSN, PROXY protocol, several
//! listeners, per-address limits, the pregreet test, and the counters.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use smtpkit::server::{ConnInfo, Handler, ListenerOptions, Protocol, Server};

fn chunking() -> (smtpkit::server::ServerHandle, common::Shared) {
    start(
        Server::builder()
            .chunking(true)
            .binary_mime(true)
            .max_message_size(Some(1000)),
    )
}

fn in_transaction(c: &mut Client) {
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
}

#[test]
fn bdat_chunks_make_one_message() {
    let (srv, rec) = chunking();
    let mut c = Client::greeted(srv.local_addr());
    c.line("EHLO x.example");
    let ehlo = c.reply();
    let keywords: Vec<&str> = ehlo.iter().map(|l| &l[4..]).collect();
    assert!(
        keywords.contains(&"CHUNKING") && keywords.contains(&"BINARYMIME"),
        "{ehlo:?}"
    );
    c.cmd("MAIL FROM:<a@b.example> BODY=BINARYMIME", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    // No dot-stuffing, bare CR/LF and NUL allowed, CRLF.CRLF inside is just data.
    c.send_raw(b"BDAT 9\r\nline 1\r\n.");
    assert_eq!(c.expect("250 "), "250 2.0.0 9 octets received");
    c.send_raw(b"BDAT 7\r\n\r\n.\r\n\0\n");
    assert_eq!(c.expect("250 "), "250 2.0.0 7 octets received");
    c.send_raw(b"BDAT 3 LAST\r\nend");
    assert_eq!(c.expect("250 "), "250 2.0.0 OK: queued");
    // BDAT 0 LAST ends a message with nothing in the last chunk.
    in_transaction_again(&mut c);
    c.send_raw(b"BDAT 5\r\nhello");
    c.expect("250 2.0.0 5 octets");
    c.line("BDAT 0 LAST");
    c.expect("250 2.0.0 OK: queued");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages[0].body, b"line 1\r\n.\r\n.\r\n\0\nend");
    assert_eq!(
        r.messages[0].params.body,
        Some(smtpkit::server::Body::BinaryMime)
    );
    assert_eq!(r.messages[1].body, b"hello");
}

fn in_transaction_again(c: &mut Client) {
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
}

#[test]
fn bdat_sequencing_and_syntax() {
    let (srv, rec) = chunking();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    // BDAT out of order: 503, and its chunk is consumed, not run as commands.
    c.send_raw(b"BDAT 23\r\nRSET\r\nMAIL FROM:<x@y>\r\n");
    assert_eq!(c.expect("503 "), "503 5.5.1 Error: need MAIL command");
    c.cmd("NOOP", "250 ");
    c.cmd("BDAT x", "501 5.5.4");
    // A syntax error with a readable size still consumes the chunk.
    c.send_raw(b"BDAT 6 MORE\r\nRSET\r\n");
    c.expect("501 5.5.4");
    c.cmd("NOOP", "250 ");
    c.cmd("MAIL FROM:<a@b.example> BODY=BINARYMIME", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "503 5.5.1");
    c.send_raw(b"BDAT 2 LAST\r\nok");
    c.expect("250 2.0.0 OK");
    // BDAT after LAST: the transaction is over.
    c.send_raw(b"BDAT 2 LAST\r\nno");
    c.expect("503 5.5.1");
    // DATA in the middle of a BDAT sequence ends that message: nothing is delivered.
    in_transaction_again(&mut c);
    c.send_raw(b"BDAT 4\r\nhalf");
    c.expect("250 2.0.0 4 octets");
    c.cmd("DATA", "503 5.5.1");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].body, b"ok");
}

#[test]
fn pipelined_bdat_after_a_rejected_chunk_stays_in_sync() {
    let (srv, rec) = chunking();
    let mut c = Client::greeted(srv.local_addr());
    in_transaction(&mut c);
    // 1200 octets over a 1000 limit, in two pipelined chunks, then NOOP: every chunk is
    // consumed, each BDAT answered, and the NOOP still runs as NOOP.
    let mut burst = b"BDAT 600\r\n".to_vec();
    burst.extend(vec![b'a'; 600]);
    burst.extend_from_slice(b"BDAT 600 LAST\r\n");
    burst.extend(vec![b'b'; 600]);
    burst.extend_from_slice(b"NOOP\r\n");
    c.send_raw(&burst);
    assert_eq!(c.expect("250 "), "250 2.0.0 600 octets received");
    assert_eq!(
        c.expect("552 "),
        "552 5.3.4 Message size exceeds fixed limit"
    );
    c.expect("250 2.0.0 OK");
    // A huge declared size is not allocated: the chunk is just streamed.
    in_transaction_again(&mut c);
    c.send_raw(b"BDAT 18446744073709551615\r\nabc");
    drop(c);
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert!(r.messages.is_empty());
    assert_eq!(r.errors.last().unwrap(), "Closed(Data)");
}

#[test]
fn bdat_not_offered_by_default() {
    let (srv, _rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.line("EHLO x.example");
    assert!(!c.reply().iter().any(|l| l.contains("CHUNKING")));
    in_transaction_again(&mut c);
    // Refused as not offered, its chunk is still consumed: RSET does not run.
    c.send_raw(b"BDAT 6 LAST\r\nRSET\r\n");
    c.expect("502 5.5.1");
    c.cmd("NOOP", "250 ");
    c.cmd("MAIL FROM:<a@b.example> BODY=BINARYMIME", "503 ");
}

#[test]
fn dsn_parameters_are_parsed_and_typed() {
    let (srv, rec) = start(Server::builder().dsn(true));
    let mut c = Client::greeted(srv.local_addr());
    c.line("EHLO x.example");
    assert!(c.reply().iter().any(|l| &l[4..] == "DSN"));
    c.script(&[
        ("MAIL FROM:<a@b.example> RET=FOO", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> ENVID=a=b", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> RET=HDRS ENVID=QQ+2B314159", "250 "),
        ("RCPT TO:<c@d.example> NOTIFY=NEVER,SUCCESS", "501 5.5.4"),
        ("RCPT TO:<c@d.example> NOTIFY=SOMETIMES", "501 5.5.4"),
        ("RCPT TO:<c@d.example> ORCPT=rfc822", "501 5.5.4"),
        (
            "RCPT TO:<c@d.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c+40d.example",
            "250 ",
        ),
        ("RCPT TO:<e@d.example> NOTIFY=NEVER", "250 "),
        ("DATA", "354 "),
    ]);
    c.send(".\r\n");
    c.expect("250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    let p = &r.messages[0].params;
    assert_eq!(p.ret, Some(smtpkit::dsn::Ret::Headers));
    assert_eq!(p.envid.as_deref(), Some("QQ+314159"));
    // DSN parameters never reach on_rcpt_param when DSN is on.
    assert!(r.rcpt_params.is_empty(), "{:?}", r.rcpt_params);
}

#[test]
fn dsn_recipient_fields() {
    struct Keep(Arc<Mutex<Vec<smtpkit::server::Recipient>>>);
    impl Handler for Keep {
        fn on_data(
            &mut self,
            env: &smtpkit::server::Envelope,
            data: &mut dyn std::io::Read,
        ) -> Result<smtpkit::Reply, smtpkit::Reply> {
            let _ = smtpkit::server::collect(data);
            self.0
                .lock()
                .unwrap()
                .extend(env.recipients.iter().cloned());
            Ok(smtpkit::Reply::QUEUED)
        }
    }
    let seen: Arc<Mutex<Vec<smtpkit::server::Recipient>>> = Default::default();
    let s2 = Arc::clone(&seen);
    let srv = Server::builder()
        .dsn(true)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(move |_| Keep(Arc::clone(&s2)))
        .unwrap();
    let mut c = Client::greeted(srv.local_addr());
    in_transaction_again_ehlo(&mut c);
    c.cmd(
        "RCPT TO:<e@d.example> NOTIFY=FAILURE ORCPT=rfc822;E+40D.example",
        "250 ",
    );
    c.cmd("DATA", "354 ");
    c.send(".\r\n");
    c.expect("250 ");
    let r = seen.lock().unwrap();
    assert_eq!(
        r[0].notify,
        Some(smtpkit::dsn::Notify {
            success: false,
            failure: true,
            delay: false
        })
    );
    assert_eq!(
        r[0].orcpt.as_ref().map(|o| o.address.as_str()),
        Some("E@D.example")
    );
}

fn in_transaction_again_ehlo(c: &mut Client) {
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
}

/// What the factory saw of each connection: peer, balancer, listener.
type Seen = Arc<Mutex<Vec<(std::net::SocketAddr, Option<std::net::SocketAddr>, usize)>>>;

/// An accepting handler.
struct Peers;
impl Handler for Peers {}

fn peers_server(opts: ListenerOptions) -> (smtpkit::server::ServerHandle, Seen) {
    let seen: Seen = Default::default();
    let s2 = Arc::clone(&seen);
    let srv = Server::builder()
        .proxy_timeout(Duration::from_millis(500))
        .proxy_trusted(&["127.0.0.1"])
        .bind("127.0.0.1:0")
        .unwrap()
        .listen("127.0.0.1:0", opts)
        .unwrap()
        .spawn(move |c: &ConnInfo| {
            s2.lock().unwrap().push((c.peer, c.proxy, c.listener));
            Peers
        })
        .unwrap();
    (srv, seen)
}

#[test]
fn proxy_protocol_v1_and_v2() {
    let (srv, seen) = peers_server(ListenerOptions {
        proxy_protocol: true,
        ..Default::default()
    });
    let addr = srv.local_addrs()[1];
    let mut c = Client::connect(addr);
    c.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n");
    c.expect("220 ");
    c.cmd("EHLO x.example", "250 ");
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2.extend_from_slice(&[203, 0, 113, 9, 198, 51, 100, 1, 0x9c, 0x41, 0, 25]);
    let mut c2 = Client::connect(addr);
    c2.send_raw(&v2);
    c2.expect("220 ");
    // A LOCAL header (health check) keeps the real address.
    let mut c3 = Client::connect(addr);
    c3.send_raw(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00");
    c3.expect("220 ");
    // The plain listener takes no header.
    let mut c4 = Client::greeted(srv.local_addrs()[0]);
    c4.cmd("NOOP", "250 ");
    let s = seen.lock().unwrap().clone();
    assert_eq!(s[0].0, "192.0.2.7:40000".parse().unwrap());
    assert_eq!(s[0].1.map(|a| a.ip()), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(s[0].2, 1);
    assert_eq!(s[1].0, "203.0.113.9:40001".parse().unwrap());
    assert_eq!(
        s[2].0.ip(),
        "127.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(s[2].1, None);
    assert_eq!((s[3].1, s[3].2), (None, 0));
}

#[test]
fn proxy_header_missing_malformed_or_slow_closes() {
    let (srv, seen) = peers_server(ListenerOptions {
        proxy_protocol: true,
        ..Default::default()
    });
    let addr = srv.local_addrs()[1];
    for junk in [
        &b"EHLO x.example\r\n"[..],
        b"PROXY TCP4 1.2.3.4\r\n",
        b"PROXY TCP9 a b c d\r\n",
    ] {
        let mut c = Client::connect(addr);
        c.send_raw(junk);
        assert!(c.closed(), "{:?}", String::from_utf8_lossy(junk));
    }
    // Slow: nothing within the deadline.
    let mut c = Client::connect(addr);
    assert!(c.closed());
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(srv.stats().proxy_errors, 4);
}

#[test]
fn proxy_from_untrusted_balancer_is_refused() {
    let seen: Seen = Default::default();
    let s2 = Arc::clone(&seen);
    let srv = Server::builder()
        .proxy_trusted(&["10.0.0.0/8"])
        .bind("127.0.0.1:0")
        .unwrap()
        .listen(
            "127.0.0.1:0",
            ListenerOptions {
                proxy_protocol: true,
                ..Default::default()
            },
        )
        .unwrap()
        .spawn(move |c: &ConnInfo| {
            s2.lock().unwrap().push((c.peer, c.proxy, c.listener));
            Peers
        })
        .unwrap();
    let mut c = Client::connect(srv.local_addrs()[1]);
    c.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n");
    assert!(c.closed());
    assert!(seen.lock().unwrap().is_empty());
    assert!(
        Server::builder()
            .proxy_trusted(&["10.0.0.0/33"])
            .bind("127.0.0.1:0")
            .is_err()
    );
}

#[test]
fn per_listener_protocol() {
    let srv = Server::builder()
        .hostname("h.example")
        .bind("127.0.0.1:0")
        .unwrap()
        .listen(
            "127.0.0.1:0",
            ListenerOptions {
                protocol: Some(Protocol::Lmtp),
                ..Default::default()
            },
        )
        .unwrap()
        .spawn(|_| Peers)
        .unwrap();
    let mut smtp = Client::connect(srv.local_addrs()[0]);
    assert_eq!(smtp.read_line(), "220 h.example ESMTP");
    let mut lmtp = Client::connect(srv.local_addrs()[1]);
    assert_eq!(lmtp.read_line(), "220 h.example LMTP");
    lmtp.cmd("EHLO x", "500 ");
    lmtp.cmd("LHLO x", "250 ");
}

#[test]
fn per_address_limit() {
    let (srv, _rec) = start(Server::builder().max_sessions_per_ip(2));
    let mut a = Client::greeted(srv.local_addr());
    let _b = Client::greeted(srv.local_addr());
    let mut c = Client::connect(srv.local_addr());
    assert_eq!(
        c.read_line(),
        "421 4.7.0 Too many connections from your address"
    );
    assert!(c.closed());
    assert_eq!(srv.stats().refused_per_ip, 1);
    a.cmd("QUIT", "221 ");
    assert!(a.closed());
    // Released when a session ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = Client::connect(srv.local_addr());
        let l = d.read_line();
        if l.starts_with("220 ") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{l}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pregreet_talkers_are_refused() {
    let (srv, rec) = start(Server::builder().greeting_delay(Some(Duration::from_millis(300))));
    let mut early = TcpStream::connect(srv.local_addr()).unwrap();
    early.write_all(b"EHLO spammer.example\r\n").unwrap();
    let mut c = Client {
        reader: std::io::BufReader::new(early.try_clone().unwrap()),
        stream: early,
    };
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        c.read_line(),
        "554 5.5.0 Protocol error: talked before the greeting"
    );
    assert!(c.closed());
    // A patient client is greeted after the delay.
    let mut ok = Client::greeted(srv.local_addr());
    ok.cmd("EHLO x.example", "250 ");
    assert_eq!(srv.stats().pregreet, 1);
    assert_eq!(rec.lock().unwrap().connects, 1);
}

#[test]
fn counters_match_the_traffic() {
    let (srv, rec) = start(Server::builder().max_message_size(Some(50)));
    for i in 0..3 {
        let mut c = Client::greeted(srv.local_addr());
        c.cmd("EHLO x.example", "250 ");
        c.send_mail("a@b.example", &["c@d.example"], &format!("message {i}\r\n"));
        c.cmd("MAIL FROM:<a@b.example>", "250 ");
        c.cmd("RCPT TO:<c@d.example>", "250 ");
        c.cmd("DATA", "354 ");
        c.send(&format!("{}\r\n.\r\n", "x".repeat(60)));
        c.expect("552 ");
        c.cmd("BOGUS", "500 ");
        c.cmd("QUIT", "221 ");
    }
    wait_closed(&rec, 3);
    let s = srv.stats();
    assert_eq!((s.accepted, s.messages, s.messages_rejected), (3, 3, 3));
    // Per session: the 552 and the unknown command.
    assert_eq!(s.protocol_errors, 6);
    assert!(s.bytes_received > 3 * 60, "{s:?}");
}

/// No default trusts every sender: a PROXY listener without trusted balancers does not bind,
/// and trusting everyone takes the loudly named opt-in.
#[test]
fn proxy_listener_needs_trusted_balancers() {
    let opts = ListenerOptions {
        proxy_protocol: true,
        ..Default::default()
    };
    let err = Server::builder()
        .bind_with("127.0.0.1:0", opts)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("proxy_trusted"), "{err}");
    let err = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .listen("127.0.0.1:0", opts)
        .unwrap_err();
    assert!(err.to_string().contains("proxy_trusted"), "{err}");
    let srv = Server::builder()
        .dangerous_proxy_trust_any(true)
        .bind_with("127.0.0.1:0", opts)
        .unwrap()
        .spawn(|_: &ConnInfo| Peers)
        .unwrap();
    let mut c = Client::connect(srv.local_addr());
    c.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n");
    c.expect("220 ");
    c.cmd("QUIT", "221 ");
}

/// Per-client limits count IPv6 clients by /64: addresses claimed (through PROXY v2) inside
/// one /64 share one count, another /64 has its own.
#[test]
fn per_ip_limit_counts_ipv6_by_prefix() {
    let srv = Server::builder()
        .proxy_trusted(&["127.0.0.1"])
        .max_sessions_per_ip(2)
        .bind_with(
            "127.0.0.1:0",
            ListenerOptions {
                proxy_protocol: true,
                ..Default::default()
            },
        )
        .unwrap()
        .spawn(|_: &ConnInfo| Peers)
        .unwrap();
    let v6 = |src: [u8; 16]| {
        let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24".to_vec();
        h.extend_from_slice(&src);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0x9c, 0x40, 0, 25]);
        h
    };
    let host = |last: u8| {
        let mut a = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        a[15] = last;
        a
    };
    let mut held = Vec::new();
    for last in [1, 2] {
        let mut c = Client::connect(srv.local_addr());
        c.send_raw(&v6(host(last)));
        c.expect("220 ");
        held.push(c);
    }
    // A third address in the same /64 is refused.
    let mut c = Client::connect(srv.local_addr());
    c.send_raw(&v6(host(3)));
    c.expect("421 4.7.0");
    // Another /64 is another client.
    let mut other = host(1);
    other[7] = 3;
    let mut c = Client::connect(srv.local_addr());
    c.send_raw(&v6(other));
    c.expect("220 ");
    assert_eq!(srv.stats().refused_per_ip, 1);
}
