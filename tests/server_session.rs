//! Scripted exchanges against a real server on 127.0.0.1: every reply path of the session.

mod common;

use common::*;
use smtpkit::server::Server;

#[test]
fn greeting_ehlo_and_a_message() {
    let (srv, rec) = default_server();
    let mut c = Client::connect(srv.local_addr());
    assert_eq!(c.read_line(), "220 test.example ESMTP");
    c.line("EHLO client.example");
    assert_eq!(
        c.reply(),
        [
            "250-test.example",
            "250-PIPELINING",
            "250-SIZE 10240000",
            "250-8BITMIME",
            "250-SMTPUTF8",
            "250 ENHANCEDSTATUSCODES"
        ]
    );
    assert_eq!(c.cmd("MAIL FROM:<a@example.org>", "250 "), "250 2.1.0 OK");
    assert_eq!(c.cmd("RCPT TO:<b@example.net>", "250 "), "250 2.1.5 OK");
    assert_eq!(
        c.cmd("RCPT TO:<bad@example.net>", "550 "),
        "550 5.1.1 Mailbox unavailable"
    );
    assert_eq!(c.cmd("RCPT TO:<c@example.net>", "250 "), "250 2.1.5 OK");
    assert_eq!(c.cmd("DATA", "354 "), "354 End data with <CR><LF>.<CR><LF>");
    c.send("Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n");
    assert_eq!(c.expect("250 "), "250 2.0.0 OK: queued");
    assert_eq!(c.cmd("QUIT", "221 "), "221 2.0.0 Bye");
    assert!(c.closed());
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    assert_eq!(m.from.as_deref(), Some("a@example.org"));
    assert_eq!(m.to, ["b@example.net", "c@example.net"]);
    assert_eq!(m.body, b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

#[test]
fn helo_noop_help_vrfy_expn_unknown() {
    let (srv, _rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    assert_eq!(c.cmd("HELO", "501 "), "501 5.5.4 Syntax: HELO hostname");
    assert_eq!(c.cmd("HELO client.example", "250 "), "250 test.example");
    c.script(&[
        ("NOOP", "250 2.0.0"),
        ("NOOP whatever", "250 2.0.0"),
        ("HELP", "214 2.0.0"),
        ("VRFY someone", "252 2.1.5"),
        ("EXPN list", "502 5.5.1"),
        ("FOOBAR x y", "500 5.5.2"),
        ("", "500 5.5.2"),
        ("RSET", "250 2.0.0"),
        ("RSET now", "501 5.5.4"),
        ("DATA now", "501 5.5.4"),
        ("QUIT", "221 2.0.0"),
    ]);
}

#[test]
fn commands_out_of_order_get_503_and_keep_state() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.script(&[
        ("MAIL FROM:<a@b.example>", "503 5.5.1"),
        ("RCPT TO:<a@b.example>", "503 5.5.1"),
        ("DATA", "503 5.5.1"),
        ("EHLO x.example", "250 "),
        ("RCPT TO:<a@b.example>", "503 5.5.1"),
        ("DATA", "503 5.5.1"),
        ("MAIL FROM:<a@b.example>", "250 2.1.0"),
        ("MAIL FROM:<a@b.example>", "503 5.5.1"),
        ("DATA", "503 5.5.1"),
        // The transaction survived the 503s.
        ("RCPT TO:<c@d.example>", "250 2.1.5"),
        ("DATA", "354 "),
    ]);
    c.send("x\r\n.\r\n");
    c.expect("250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 1);
    assert_eq!(
        r.errors
            .iter()
            .filter(|e| e.starts_with("OutOfOrder"))
            .count(),
        7,
        "{:?}",
        r.errors
    );
}

#[test]
fn rset_and_new_ehlo_clear_the_transaction() {
    let (srv, _rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.script(&[
        ("EHLO x.example", "250 "),
        ("MAIL FROM:<a@b.example>", "250 "),
        ("RCPT TO:<c@d.example>", "250 "),
        ("RSET", "250 2.0.0"),
        ("DATA", "503 5.5.1"),
        ("RCPT TO:<c@d.example>", "503 5.5.1"),
        ("MAIL FROM:<a@b.example>", "250 "),
        ("EHLO x.example", "250 "),
        ("RCPT TO:<c@d.example>", "503 5.5.1"),
        ("MAIL FROM:<>", "250 2.1.0"),
    ]);
}

#[test]
fn mail_parameters() {
    let (srv, rec) = start(Server::builder().max_message_size(Some(1000)));
    let mut c = Client::greeted(srv.local_addr());
    c.line("EHLO x.example");
    assert!(c.reply().contains(&"250-SIZE 1000".to_string()));
    c.script(&[
        ("MAIL FROM:<a@b.example> SIZE=1001", "552 5.3.4"),
        ("MAIL FROM:<a@b.example> SIZE=abc", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE", "501 5.5.4"),
        (
            "MAIL FROM:<a@b.example> SIZE=99999999999999999999999",
            "501 5.5.4",
        ),
        ("MAIL FROM:<a@b.example> BODY=9BIT", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> SMTPUTF8=yes", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> FOO=bar", "555 5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4"),
        ("MAIL FROM:<jö@b.example>", "553 5.6.7"),
        (
            "MAIL FROM:<jö@b.example> SMTPUTF8 SIZE=1000 BODY=8bitmime XOK=1",
            "250 2.1.0",
        ),
        ("RCPT TO:<ü@d.example>", "250 "),
        ("RCPT TO:<c@d.example> NOTIFY=NEVER", "250 "),
        (
            "RCPT TO:<c@d.example> ORCPT=rfc822;c@d.example",
            "555 5.5.4",
        ),
        ("DATA", "354 "),
    ]);
    c.send("hi\r\n.\r\n");
    c.expect("250 ");
    // A transaction without SMTPUTF8 cannot take a non-ASCII recipient.
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<ü@d.example>", "553 5.6.7");
    // Parameters are an ESMTP feature: not after HELO.
    c.cmd("HELO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example> SIZE=10", "555 5.5.4");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    let m = &r.messages[0];
    assert_eq!(m.params.size, Some(1000));
    assert_eq!(m.params.body, Some(smtpkit::server::Body::EightBitMime));
    assert!(m.params.smtputf8);
    assert_eq!(m.params.other.len(), 1);
    assert_eq!(m.to, ["ü@d.example", "c@d.example"]);
    assert_eq!(
        r.rcpt_params
            .iter()
            .map(|p| p.keyword.as_str())
            .collect::<Vec<_>>(),
        ["NOTIFY", "ORCPT"]
    );
}

#[test]
fn bad_paths() {
    let (srv, _rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.script(&[
        ("EHLO x.example", "250 "),
        ("MAIL FROM:<a@@b>", "501 5.1.7"),
        ("MAIL FROM <a@b.example>", "501 5.5.4"),
        ("MAIL FROM:<a@b.example", "501 5.1.7"),
        ("MAIL FROM:<a@b.example>", "250 "),
        ("RCPT TO:<>", "501 5.1.3"),
        ("RCPT TO:<@>", "501 5.1.3"),
        ("RCPT TO:<Postmaster>", "250 "),
        ("RCPT TO:<@relay.example:c@d.example>", "250 "),
        ("RCPT TO:<\"john doe\"@d.example>", "250 "),
        ("RCPT TO:<x@[192.0.2.1]>", "250 "),
        ("RCPT TO:<x@[192.0.2.256]>", "501 5.1.3"),
    ]);
    let long_local = "a".repeat(65);
    c.cmd(&format!("RCPT TO:<{long_local}@d.example>"), "501 5.1.3");
}

#[test]
fn recipient_limit() {
    let (srv, _rec) = start(Server::builder().max_recipients(3));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    for i in 0..3 {
        c.cmd(&format!("RCPT TO:<r{i}@d.example>"), "250 ");
    }
    assert_eq!(
        c.cmd("RCPT TO:<r4@d.example>", "452 "),
        "452 4.5.3 Too many recipients"
    );
    c.cmd("DATA", "354 ");
    c.send("x\r\n.\r\n");
    c.expect("250 ");
}

#[test]
fn pipelined_group_answered_in_order() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.send(
        "EHLO x.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n\
         RCPT TO:<bad@d.example>\r\nRCPT TO:<e@d.example>\r\nDATA\r\n",
    );
    c.expect("250 ENHANCEDSTATUSCODES");
    c.expect("250 2.1.0");
    c.expect("250 2.1.5");
    c.expect("550 5.1.1");
    c.expect("250 2.1.5");
    c.expect("354 ");
    // The body, its terminator and the next commands in one write: nothing is lost.
    c.send("one\r\n.\r\nMAIL FROM:<f@b.example>\r\nRCPT TO:<g@d.example>\r\nDATA\r\n");
    c.expect("250 2.0.0");
    c.expect("250 2.1.0");
    c.expect("250 2.1.5");
    c.expect("354 ");
    c.send("two\r\n.\r\nQUIT\r\n");
    c.expect("250 2.0.0");
    c.expect("221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages.len(), 2);
    assert_eq!(r.messages[0].to, ["c@d.example", "e@d.example"]);
    assert_eq!(r.messages[1].body, b"two\r\n");
}

#[test]
fn empty_message_and_split_terminator() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    c.send(".\r\n");
    c.expect("250 ");
    c.cmd("MAIL FROM:<a@b.example>", "250 ");
    c.cmd("RCPT TO:<c@d.example>", "250 ");
    c.cmd("DATA", "354 ");
    // The terminator in three segments, with pauses between them.
    for part in ["body\r", "\n.", "\r", "\n"] {
        c.send(part);
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    c.expect("250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let r = rec.lock().unwrap();
    assert_eq!(r.messages[0].body, b"");
    assert_eq!(r.messages[1].body, b"body\r\n");
}

#[test]
fn long_command_line_is_refused_and_session_goes_on() {
    let (srv, rec) = start(Server::builder().max_line_length(100));
    let mut c = Client::greeted(srv.local_addr());
    c.line(&format!("EHLO {}", "x".repeat(200)));
    assert_eq!(c.expect("500 "), "500 5.5.2 Line too long");
    c.cmd("EHLO x.example", "250 ");
    // A huge line costs one bounded buffer and one reply.
    let chunk = vec![b'y'; 1 << 20];
    for _ in 0..16 {
        c.send_raw(&chunk);
    }
    c.send("\r\n");
    c.expect("500 5.5.2");
    c.cmd("NOOP", "250 ");
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().errors, ["LineTooLong", "LineTooLong"]);
}

#[test]
fn error_budget_then_421() {
    let (srv, rec) = start(Server::builder().max_errors(3));
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("BLAH", "500 ");
    c.cmd("MAIL FROM:<a@b.example>", "503 ");
    c.cmd("HELO", "501 ");
    assert_eq!(
        c.cmd("NOOP", "421 "),
        "421 4.7.0 Too many errors, closing connection"
    );
    assert!(c.closed());
    wait_closed(&rec, 1);
    assert_eq!(rec.lock().unwrap().errors.last().unwrap(), "TooManyErrors");
}

#[test]
fn greeting_reject_and_silent_close() {
    use smtpkit::server::{ConnInfo, Greeting, Handler};
    struct Reject(bool);
    impl Handler for Reject {
        fn on_connect(&mut self, _c: &ConnInfo) -> Greeting {
            if self.0 {
                Greeting::Reject(smtpkit::Reply::ACCESS_DENIED)
            } else {
                Greeting::Close
            }
        }
    }
    for reject in [true, false] {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .unwrap()
            .spawn(move |_| Reject(reject))
            .unwrap();
        let mut c = Client::connect(srv.local_addr());
        if reject {
            assert_eq!(c.read_line(), "554 5.7.1 Access denied");
        }
        assert!(c.closed());
    }
}

#[test]
fn custom_banner_and_no_enhanced_codes() {
    use smtpkit::server::{ConnInfo, Greeting, Handler};
    struct Banner;
    impl Handler for Banner {
        fn on_connect(&mut self, c: &ConnInfo) -> Greeting {
            Greeting::Banner(format!("hello {}", c.peer.ip()))
        }
    }
    let srv = Server::builder()
        .hostname("h.example")
        .enhanced_status_codes(false)
        .bind("127.0.0.1:0")
        .unwrap()
        .spawn(|_| Banner)
        .unwrap();
    let mut c = Client::connect(srv.local_addr());
    assert_eq!(c.read_line(), "220 h.example hello 127.0.0.1");
    c.line("EHLO x");
    assert!(!c.reply().iter().any(|l| l.contains("ENHANCEDSTATUSCODES")));
    assert_eq!(c.cmd("MAIL FROM:<a@b.example>", "250"), "250 OK");
}

#[test]
fn stats_count_sessions_and_messages() {
    let (srv, rec) = default_server();
    let mut c = Client::greeted(srv.local_addr());
    c.cmd("EHLO x.example", "250 ");
    c.send_mail("a@b.example", &["c@d.example"], "x\r\n");
    assert_eq!(srv.stats().sessions, 1);
    c.cmd("QUIT", "221 ");
    wait_closed(&rec, 1);
    let s = srv.stats();
    assert_eq!((s.accepted, s.messages, s.refused_busy), (1, 1, 0));
    assert!(s.bytes_received > 50, "{s:?}");
}
