//! Test support: a scripted client over a real socket, and a recording handler.
#![allow(dead_code)]

#[cfg(feature = "dns")]
pub mod dnsmasq;
#[cfg(feature = "tls")]
pub mod pki;
pub mod tools;
#[cfg(feature = "tls")]
pub mod transport;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtpkit::Reply;
use smtpkit::address::Mailbox;
use smtpkit::command::Param;
use smtpkit::server::{
    ConnInfo, Envelope, ErrorAction, Greeting, Handler, MailParams, Server, ServerBuilder,
    ServerHandle, SessionError,
};

/// A whole (possibly multi-line) reply, line by line from `read_line` (CRLF stripped); the
/// plain client and the TLS one (`pki::TlsClient`) read replies through this.
pub fn read_reply(mut read_line: impl FnMut() -> String) -> Vec<String> {
    let mut lines = vec![];
    loop {
        let l = read_line();
        let more = l.as_bytes().get(3) == Some(&b'-');
        lines.push(l);
        if !more {
            return lines;
        }
    }
}

/// The last line of `lines`, checked to start with `prefix`.
pub fn last_line_starts(lines: Vec<String>, prefix: &str) -> String {
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with(prefix),
        "expected {prefix:?}, got {lines:?}"
    );
    last
}

/// A line-by-line SMTP client for scripted exchanges.
pub struct Client {
    pub reader: BufReader<TcpStream>,
    pub stream: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// Connects and checks the 220 greeting.
    pub fn greeted(addr: SocketAddr) -> Client {
        let mut c = Client::connect(addr);
        c.expect("220 ");
        c
    }

    pub fn send(&mut self, text: &str) {
        self.send_raw(text.as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends a line with CRLF.
    pub fn line(&mut self, line: &str) {
        self.send(&format!("{line}\r\n"));
    }

    /// Reads one reply line (with CRLF stripped); panics on EOF or timeout.
    pub fn read_line(&mut self) -> String {
        let mut s = String::new();
        let n = self.reader.read_line(&mut s).expect("read reply");
        assert!(n > 0, "connection closed while waiting for a reply");
        assert!(s.ends_with("\r\n"), "reply line without CRLF: {s:?}");
        s.truncate(s.len() - 2);
        s
    }

    /// Reads a whole (possibly multi-line) reply; returns its lines.
    pub fn reply(&mut self) -> Vec<String> {
        read_reply(|| self.read_line())
    }

    /// Reads a reply and checks that its last line starts with `prefix`.
    pub fn expect(&mut self, prefix: &str) -> String {
        last_line_starts(self.reply(), prefix)
    }

    /// Sends `line` and checks the reply.
    pub fn cmd(&mut self, line: &str, prefix: &str) -> String {
        self.line(line);
        self.expect(prefix)
    }

    /// Runs a script of (command, expected reply prefix) pairs.
    pub fn script(&mut self, steps: &[(&str, &str)]) {
        for (line, prefix) in steps {
            self.cmd(line, prefix);
        }
    }

    /// EHLO, MAIL, RCPT..., DATA with `body` (already dot-stuffed, without terminator).
    pub fn send_mail(&mut self, from: &str, to: &[&str], body: &str) -> String {
        self.cmd(&format!("MAIL FROM:<{from}>"), "250 ");
        for t in to {
            self.cmd(&format!("RCPT TO:<{t}>"), "250 ");
        }
        self.cmd("DATA", "354 ");
        self.send(body);
        self.send(".\r\n");
        self.expect("250 ")
    }

    /// True when the server closed the connection (EOF or reset within the timeout); what
    /// it sent before closing (a TLS alert, say) is skipped.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        for _ in 0..64 {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut;
                }
            }
        }
        false
    }
}

/// A received message.
#[derive(Debug, Clone)]
pub struct Message {
    pub from: Option<String>,
    pub to: Vec<String>,
    pub params: MailParams,
    pub body: Vec<u8>,
}

/// Everything the recording handler saw, across sessions.
#[derive(Default)]
pub struct Record {
    pub messages: Vec<Message>,
    pub errors: Vec<String>,
    pub closes: usize,
    pub connects: usize,
    pub rcpt_params: Vec<Param>,
    pub mail_params: Vec<Param>,
    pub helos: Vec<String>,
}

pub type Shared = Arc<Mutex<Record>>;

/// Records messages and errors; rejects recipients starting with "bad".
pub struct Recorder {
    pub rec: Shared,
}

impl Handler for Recorder {
    fn on_connect(&mut self, _c: &ConnInfo) -> Greeting {
        self.rec.lock().unwrap().connects += 1;
        Greeting::Accept
    }
    fn on_helo(&mut self, d: &str) -> Result<(), Reply> {
        self.rec.lock().unwrap().helos.push(d.to_string());
        Ok(())
    }
    fn on_mail_param(&mut self, p: &Param) -> Result<(), Reply> {
        if p.keyword == "XOK" {
            self.rec.lock().unwrap().mail_params.push(p.clone());
            return Ok(());
        }
        Err(Reply::UNSUPPORTED_PARAM)
    }
    fn on_rcpt(&mut self, to: &Mailbox, _p: &[Param], _e: &Envelope) -> Result<(), Reply> {
        if to.local_part.starts_with("bad") {
            return Err(Reply::NO_SUCH_USER);
        }
        if to.local_part == "panic" {
            panic!("test panic in on_rcpt");
        }
        Ok(())
    }
    fn on_rcpt_param(&mut self, p: &Param) -> Result<(), Reply> {
        self.rec.lock().unwrap().rcpt_params.push(p.clone());
        if p.keyword == "NOTIFY" {
            return Ok(());
        }
        Err(Reply::UNSUPPORTED_PARAM)
    }
    fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        let body = smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        self.rec.lock().unwrap().messages.push(Message {
            from: env.from.as_ref().map(|m| m.to_string()),
            to: env
                .recipients
                .iter()
                .map(|r| r.mailbox.to_string())
                .collect(),
            params: env.params.clone(),
            body,
        });
        Ok(Reply::QUEUED)
    }
    fn on_error(&mut self, e: &SessionError) -> ErrorAction {
        self.rec.lock().unwrap().errors.push(format!("{e:?}"));
        ErrorAction::Continue
    }
    fn on_close(&mut self) {
        self.rec.lock().unwrap().closes += 1;
    }
}

/// Starts a recording server built from `b` on 127.0.0.1:0.
pub fn start(b: ServerBuilder) -> (ServerHandle, Shared) {
    spawn_recorder(b.hostname("test.example").bind("127.0.0.1:0").unwrap())
}

/// Starts a recording server built from `b` on 127.0.0.1:0, configured and bound for `via`
/// (certificates, implicit TLS, PROXY from 127.0.0.1).
#[cfg(feature = "tls")]
pub fn start_via(via: transport::Via, b: ServerBuilder) -> (ServerHandle, Shared) {
    spawn_recorder(via.bind(b.hostname("test.example")))
}

/// Runs `server` with a [`Recorder`] for every session.
pub fn spawn_recorder(server: Server) -> (ServerHandle, Shared) {
    let rec: Shared = Default::default();
    let r2 = Arc::clone(&rec);
    let handle = server
        .spawn(move |_| Recorder {
            rec: Arc::clone(&r2),
        })
        .unwrap();
    (handle, rec)
}

pub fn default_server() -> (ServerHandle, Shared) {
    start(Server::builder())
}

/// Waits (bounded) until `f` holds on the record; panics with the record's state otherwise.
pub fn wait_for(rec: &Shared, what: &str, f: impl Fn(&Record) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let r = rec.lock().unwrap();
            if f(&r) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}: messages={} errors={:?} closes={}",
                    r.messages.len(),
                    r.errors,
                    r.closes
                );
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until every session has closed (closes == connects).
pub fn wait_closed(rec: &Shared, n: usize) {
    wait_for(rec, "sessions to close", |r| {
        r.closes >= n && r.closes == r.connects
    });
}
