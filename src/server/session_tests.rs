//! The session as scripted exchanges, in memory: no sockets, no threads (see `script`).
//! Each case is the client's bytes and faults, and the exact replies the server owes.

use std::io::Read;

use super::script::{self, Script, Step};
use super::{Envelope, ErrorAction, Handler, ServerConfig, SessionError};
use crate::Reply;
#[cfg(feature = "auth")]
use crate::sasl::{Credentials, Mechanism};

/// Accepts everything; records messages and errors.
#[derive(Default)]
struct Rec {
    messages: Vec<Vec<u8>>,
    errors: Vec<String>,
    closed: usize,
}

impl Handler for Rec {
    fn on_data(&mut self, _env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let mut body = Vec::new();
        data.read_to_end(&mut body)
            .map_err(|_| Reply::TRANSACTION_FAILED)?;
        self.messages.push(body);
        Ok(Reply::QUEUED)
    }
    #[cfg(feature = "auth")]
    fn on_auth(&mut self, c: &Credentials) -> Result<(), Reply> {
        if c.username() == "u" {
            Ok(())
        } else {
            Err(Reply::AUTH_FAILED)
        }
    }
    fn on_error(&mut self, e: &SessionError) -> ErrorAction {
        self.errors.push(format!("{e:?}"));
        ErrorAction::Continue
    }
    fn on_close(&mut self) {
        self.closed += 1;
    }
}

fn cfg() -> ServerConfig {
    ServerConfig {
        hostname: "mx.example".into(),
        ..ServerConfig::default()
    }
}

/// Runs `script` and checks the reply lines that start each reply (continuation lines of
/// multi-line replies are skipped), in order, by prefix.
fn exchange(config: ServerConfig, script: Script, want: &[&str]) -> script::Outcome<Rec> {
    let out = script::run(config, Rec::default(), script).unwrap();
    let finals: Vec<String> = out
        .replies()
        .into_iter()
        .filter(|l| l.as_bytes().get(3) != Some(&b'-'))
        .collect();
    assert_eq!(finals.len(), want.len(), "{finals:#?}");
    for (got, want) in finals.iter().zip(want) {
        assert!(
            got.starts_with(want),
            "{got:?} does not start with {want:?}\n{finals:#?}"
        );
    }
    assert_eq!(out.handler.closed, 1, "on_close exactly once");
    out
}

fn mail(s: Script) -> Script {
    s.line("EHLO c.example")
        .line("MAIL FROM:<a@b.example>")
        .line("RCPT TO:<c@d.example>")
}

#[test]
fn a_message_and_quit() {
    let out = exchange(
        cfg(),
        mail(Script::new()).send("DATA\r\nhello\r\n..dot\r\n.\r\nQUIT\r\n"),
        &[
            "220 mx.example ESMTP",
            "250 ",
            "250 2.1.0",
            "250 2.1.5",
            "354 ",
            "250 2.0.0",
            "221 2.0.0",
        ],
    );
    assert_eq!(out.handler.messages, vec![b"hello\r\n.dot\r\n".to_vec()]);
    assert_eq!(out.stats.messages, 1);
}

#[test]
fn sequence_errors_leave_the_state_alone() {
    exchange(
        cfg(),
        Script::new()
            .line("MAIL FROM:<a@b.example>")
            .line("EHLO c.example")
            .line("RCPT TO:<c@d.example>")
            .line("DATA")
            .line("MAIL FROM:<a@b.example>")
            .line("MAIL FROM:<a@b.example>")
            .line("BDAT 0 LAST"),
        &[
            "220 ",
            "503 5.5.1",
            "250 ",
            "503 5.5.1",
            "503 5.5.1",
            "250 2.1.0",
            "503 5.5.1",
            "502 5.5.1",
        ],
    );
}

#[test]
fn faults_end_the_session_with_the_right_reply() {
    let out = exchange(
        cfg(),
        Script::new().line("EHLO c.example").then(Step::Timeout),
        &["220 ", "250 ", "421 4.4.2"],
    );
    assert!(out.handler.errors[0].starts_with("Timeout(Command)"));
    assert_eq!(out.stats.timeouts, 1);
    // Vanishing mid-DATA: nothing delivered, on_close once.
    let out = exchange(
        cfg(),
        mail(Script::new())
            .send("DATA\r\nhalf a mess")
            .then(Step::Reset),
        &["220 ", "250 ", "250 ", "250 ", "354 "],
    );
    assert!(out.handler.messages.is_empty());
    assert!(out.handler.errors[0].starts_with("Reset(Data)"));
    // A client that stops reading: the failed write is reported, nothing more is written.
    let out = exchange(
        cfg(),
        Script::new()
            .line("EHLO c.example")
            .then(Step::StopReading)
            .line("NOOP")
            .line("NOOP"),
        &["220 ", "250 "],
    );
    assert!(
        out.handler.errors[0].starts_with("Send(TimedOut)"),
        "{:?}",
        out.handler.errors
    );
}

#[test]
fn limits_answer_and_close() {
    let mut c = cfg();
    c.max_junk_commands = 3;
    exchange(
        c,
        Script::new()
            .line("EHLO c.example")
            .line("NOOP")
            .line("RSET")
            .line("NOOP")
            .line("NOOP"),
        &[
            "220 ",
            "250 ",
            "250 ",
            "250 ",
            "421 4.7.0 Too many commands",
        ],
    );
    let mut c = cfg();
    c.max_errors = 2;
    exchange(
        c,
        Script::new().line("FOO").line("BAR").line("NOOP"),
        &[
            "220 ",
            "500 5.5.2",
            "500 5.5.2",
            "421 4.7.0 Too many errors",
        ],
    );
    exchange(
        cfg(),
        Script::new().line("EHLO a\u{1b}b").line("HELO ok.example"),
        &["220 ", "501 5.5.2 Error: invalid EHLO hostname", "250 "],
    );
}

#[test]
fn accepted_mail_resets_the_junk_budget() {
    let mut c = cfg();
    c.max_junk_commands = 2;
    let mut s = Script::new().line("EHLO c.example");
    let mut want = vec!["220 ", "250 "];
    for _ in 0..3 {
        want.extend(["250 ", "250 2.1.0", "250 2.1.5", "354 ", "250 2.0.0"]);
        s = s
            .line("RSET")
            .line("MAIL FROM:<a@b.example>")
            .line("RCPT TO:<c@d.example>")
            .send("DATA\r\nx\r\n.\r\n");
    }
    want.push("221 ");
    let out = exchange(c, s.line("QUIT"), &want);
    assert_eq!(out.handler.messages.len(), 3);
}

/// STARTTLS drops what was pipelined behind it (CVE-2011-0411) and starts the session over.
#[test]
#[cfg(feature = "tls")]
fn starttls_drops_pipelined_plaintext() {
    let mut c = cfg();
    c.tls = Some(crate::tls::test_server_tls());
    exchange(
        c,
        Script::new()
            .line("EHLO c.example")
            .send("STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n")
            .line("MAIL FROM:<a@b.example>")
            .line("EHLO c.example")
            .line("MAIL FROM:<a@b.example>"),
        &[
            "220 ",
            "250 ",
            "220 2.0.0",
            "503 5.5.1",
            "250 ",
            "250 2.1.0",
        ],
    );
}

/// A refused BDAT consumes its chunk; a command that ends a BDAT sequence runs once, in the
/// main loop.
#[test]
fn bdat_chunks_never_run_as_commands() {
    let mut c = cfg();
    c.chunking = true;
    let out = exchange(
        c,
        Script::new()
            .line("EHLO c.example")
            .send("BDAT 6\r\nRSET\r\n")
            .send("BDAT 6 LAST x\r\nRSET\r\n")
            .line("MAIL FROM:<a@b.example>")
            .line("RCPT TO:<c@d.example>")
            .send("BDAT 4\r\nhalf")
            .line("NOOP")
            .line("RCPT TO:<c@d.example>"),
        &[
            "220 ",
            "250 ",
            "503 5.5.1",
            "501 5.5.4",
            "250 2.1.0",
            "250 2.1.5",
            "250 2.0.0 4 octets",
            "250 2.0.0",
            "503 5.5.1",
        ],
    );
    assert!(out.handler.messages.is_empty());
}

#[test]
#[cfg(feature = "auth")]
fn auth_initial_response_up_to_12288_octets() {
    let mut c = cfg();
    c.auth_mechanisms = vec![Mechanism::Plain];
    c.allow_insecure_auth = true;
    // A long authorization identity makes the initial response about 9,300 octets.
    let b64 = crate::sasl::plain_response(&"z".repeat(7000), "u", "p");
    assert!(b64.len() > 9000 && b64.len() < 12288);
    exchange(
        c,
        Script::new()
            .line("EHLO c.example")
            .line(&format!("AUTH PLAIN {b64}"))
            .line(&format!("NOOP {}", "x".repeat(3000))),
        &["220 ", "250 ", "235 2.7.0", "500 5.5.2 Line too long"],
    );
}

#[test]
fn handler_panics_are_contained() {
    struct Boom;
    impl Handler for Boom {
        fn on_mail(
            &mut self,
            _: Option<&crate::address::Mailbox>,
            _: &super::MailParams,
        ) -> Result<(), Reply> {
            panic!("boom")
        }
    }
    let out = script::run(
        cfg(),
        Boom,
        Script::new()
            .line("EHLO c.example")
            .line("MAIL FROM:<a@b.example>"),
    )
    .unwrap();
    assert_eq!(
        out.replies().last().unwrap(),
        "421 4.3.0 Internal error, closing connection"
    );
    assert_eq!(out.stats.handler_panics, 1);
}

#[test]
fn a_configuration_value_never_panics() {
    let mut c = cfg();
    c.command_timeout = std::time::Duration::MAX;
    c.max_session_duration = std::time::Duration::MAX;
    exchange(c, Script::new().line("NOOP"), &["220 ", "250 "]);
    let mut c = cfg();
    c.max_sessions = 0;
    assert!(script::run(c, Rec::default(), Script::new()).is_err());
}
