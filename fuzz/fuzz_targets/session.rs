//! A whole server session over a real loopback socket. One in-process `Server` on
//! 127.0.0.1:0 is started once; per input the target connects, writes the fuzz bytes in chunks
//! (sizes from the first byte), half-closes, reads every reply, and checks:
//! - every reply line is `DDD`, `DDD text` or `DDD-text` with CRLF, and multi-line replies
//!   keep one code;
//! - there are no more replies than command lines + 1 (the greeting);
//! - no message reaches the handler unless the input holds a DATA terminator (`\n.\r\n`, the
//!   LF ending the DATA line or a CRLF, then `.` CRLF), and never more messages than terminators;
//! - `on_close` runs exactly once for the connection.
#![no_main]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smtpkit::Reply;
use smtpkit::reply::parse_reply_line;
use smtpkit::server::{ConnInfo, Envelope, Handler, Server, ServerHandle};

#[derive(Default, Clone, Copy)]
struct Seen {
    messages: usize,
    closes: usize,
}

static SEEN: OnceLock<Mutex<HashMap<u16, Seen>>> = OnceLock::new();

fn seen() -> &'static Mutex<HashMap<u16, Seen>> {
    SEEN.get_or_init(Default::default)
}

struct Recorder {
    port: u16,
}

impl Handler for Recorder {
    fn on_data(&mut self, _env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
        smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
        seen()
            .lock()
            .unwrap()
            .entry(self.port)
            .or_default()
            .messages += 1;
        Ok(Reply::QUEUED)
    }
    fn on_close(&mut self) {
        seen().lock().unwrap().entry(self.port).or_default().closes += 1;
    }
}

fn server() -> SocketAddr {
    static SERVER: OnceLock<ServerHandle> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            Server::builder()
                .hostname("fuzz.example")
                .max_errors(1_000_000)
                .max_line_length(512)
                .max_message_size(Some(64 * 1024))
                .command_timeout(Duration::from_secs(5))
                .data_block_timeout(Duration::from_secs(5))
                .data_timeout(Duration::from_secs(5))
                .max_sessions(8)
                .bind("127.0.0.1:0")
                .expect("bind")
                .spawn(|c: &ConnInfo| Recorder {
                    port: c.peer.port(),
                })
                .expect("spawn")
        })
        .local_addr()
}

fn check_replies(out: &[u8]) -> usize {
    let text = std::str::from_utf8(out).expect("replies are UTF-8");
    assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
    let mut replies = 0;
    let mut open: Option<u16> = None;
    for line in text.split_terminator("\r\n") {
        assert!(!line.contains(['\r', '\n']), "{line:?}");
        let (code, more, _) = parse_reply_line(line).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        if let Some(c) = open {
            assert_eq!(c, code, "{text:?}");
        }
        open = more.then_some(code);
        if !more {
            replies += 1;
        }
    }
    assert_eq!(open, None, "unfinished multi-line reply: {text:?}");
    replies
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let addr = server();
    let mut s = TcpStream::connect(addr).expect("connect");
    let port = s.local_addr().unwrap().port();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    let chunk = usize::from(sel).max(1);
    for piece in input.chunks(chunk) {
        if s.write_all(piece).is_err() {
            break; // the server closed (QUIT, 421): the rest is never read
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading replies: {e}"),
        }
    }
    let replies = check_replies(&out);
    let lines = count(input, b"\n");
    assert!(replies <= lines + 1, "{replies} replies for {lines} lines");
    assert!(replies >= 1, "no greeting");

    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let got = seen()
            .lock()
            .unwrap()
            .get(&port)
            .copied()
            .unwrap_or_default();
        if got.closes > 0 || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_micros(50));
    };
    assert_eq!(got.closes, 1, "on_close count");
    let terminators = count(input, b"\n.\r\n");
    assert!(
        got.messages <= terminators,
        "{} messages but {terminators} terminators",
        got.messages
    );
    // Ports are reused; forget this one.
    seen().lock().unwrap().remove(&port);
});
