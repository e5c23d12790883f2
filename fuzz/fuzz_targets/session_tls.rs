//! A whole server session over TLS framing, on a real loopback socket. One in-process
//! `Server` is started once, with a certificate made by rcgen at startup, on two listeners: a
//! plain one that offers STARTTLS, an implicit-TLS one, and an implicit-TLS one behind the
//! PROXY protocol (127.0.0.1 trusted). Per input the target connects and
//! plays a script of operations decoded from the bytes; the TLS client is a rustls
//! `ClientConnection` held in memory, so the target decides how its records are cut and what
//! else goes on the wire.
//!
//! Input: byte 0 chooses the setup:
//! - bit 0: 0 the plain listener (greeting read first; STARTTLS by op 3), 1 implicit TLS;
//! - bit 1: the client offers TLS 1.2 only (else 1.2 and 1.3);
//! - bit 2: the client keeps a session cache across inputs (resumption), else none;
//! - bit 3: the PROXY + implicit-TLS listener instead (bit 0 ignored): nothing is sent at
//!   connect, so the input writes the header itself (op 0 or 1) and starts TLS with op 3, in
//!   the same segment or after a pause (op 4).
//!
//! Then operations, one opcode byte each (`op % 8`), arguments after it (a missing argument
//! reads as 0, a length past the end takes what is left):
//! - 0 `len rec seg data[len]`: send `data` as application data (plaintext before TLS),
//!   written in records of `rec` bytes (0: one record per 16 KiB) and put on the socket in
//!   writes of `seg` bytes (0: all at once); drives the handshake to its end first;
//! - 1 `len data[len]`: inject raw bytes into the socket (garbage, truncated records);
//! - 2 `type ver len_hi len_lo n body[n]`: inject a forged record header `type 3.ver len` and
//!   `n` bytes of body (truncated or overlong on purpose);
//! - 3 `flags`: start TLS: bit 0 sends `STARTTLS` first (in plaintext, or inside TLS when
//!   already on), bit 1 waits for its reply; then the client's ClientHello goes out;
//! - 4 `wait`: read what the server sent (waiting up to `wait % 32` ms), answer the
//!   handshake, flush in writes of the current segment size;
//! - 5: send close_notify (what the server sends after it is read but no longer decrypted);
//! - 6: half-close (shutdown write);
//! - 7: stop reading (replies are left unread; the socket is dropped with them at the end).
//!
//! At the end the client half-closes and, unless it stopped reading, reads until the server
//! closes. Checks:
//! - the server closes the connection within 5 s of the client's half-close (its own
//!   timeouts are 1 s), so nothing a client does holds a session;
//! - every complete line decrypted from the server is an SMTP reply line with CRLF, and
//!   multi-line replies keep one code;
//! - every session has ended within 5 s after the client left (the target runs one input at a
//!   time; its check connections end with QUIT);
//! - `on_close` runs exactly once for the connection if a handler was built (none is when the
//!   server drops the connection before the session, e.g. for a bad PROXY header);
//! - after each input the server still accepts and greets on the plain listener, and every
//!   32nd input a full implicit-TLS handshake still ends in a `220` greeting.
//!
//! `SESSION_TLS_DEBUG=1` prints what the client received (plaintext and decrypted).
#![no_main]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use smtpkit::Reply;
use smtpkit::reply::parse_reply_line;
use smtpkit::sasl::Mechanism;
use smtpkit::server::{ConnInfo, Envelope, Handler, ListenerOptions, Server, ServerHandle};
use smtpkit::tls::{Identity, ServerTls};

/// The server's own timeouts: small, so a stuck session ends well inside the target's limits.
const SERVER_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the server may take to close after the client half-closed.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);
/// How long the client waits for a handshake flight or a STARTTLS reply.
const STEP_WAIT: Duration = Duration::from_millis(500);

#[derive(Default, Clone, Copy)]
struct Seen {
    /// Handlers built (the server builds none when it drops a connection before the session:
    /// a bad PROXY header, a per-address limit).
    opens: usize,
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

struct Pki {
    ca: CertificateDer<'static>,
    cert: String,
    key: String,
}

/// A CA and a leaf for mx.example, made once per process.
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "smtpkit fuzz CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["mx.example".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "mx.example");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &issuer).unwrap();
        Pki {
            ca: ca_cert.der().clone(),
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    })
}

/// The server: listeners [plain with STARTTLS, implicit TLS, PROXY then implicit TLS].
fn server() -> &'static ServerHandle {
    static SERVER: OnceLock<ServerHandle> = OnceLock::new();
    SERVER.get_or_init(|| {
        let p = pki();
        let tls = ServerTls::new(
            Identity::from_pem(p.cert.as_bytes(), p.key.as_bytes()).expect("identity"),
        );
        Server::builder()
            .hostname("mx.example")
            .tls(tls)
            .auth_mechanisms(&[Mechanism::Plain, Mechanism::Login])
            .chunking(true)
            .max_errors(1_000_000)
            .max_line_length(512)
            .max_message_size(Some(64 * 1024))
            .command_timeout(SERVER_TIMEOUT)
            .data_block_timeout(SERVER_TIMEOUT)
            .data_timeout(SERVER_TIMEOUT)
            .tls_handshake_timeout(SERVER_TIMEOUT)
            .max_sessions(32)
            .proxy_trusted(&["127.0.0.1"])
            .bind("127.0.0.1:0")
            .expect("bind")
            .listen(
                "127.0.0.1:0",
                ListenerOptions {
                    implicit_tls: true,
                    ..Default::default()
                },
            )
            .expect("bind implicit TLS")
            .listen(
                "127.0.0.1:0",
                ListenerOptions {
                    implicit_tls: true,
                    proxy_protocol: true,
                    ..Default::default()
                },
            )
            .expect("bind PROXY + implicit TLS")
            // Behind PROXY, `peer` is the address the header claims; the socket's is `proxy`.
            .spawn(|c: &ConnInfo| {
                let port = c.proxy.unwrap_or(c.peer).port();
                seen().lock().unwrap().entry(port).or_default().opens += 1;
                Recorder { port }
            })
            .expect("spawn")
    })
}

/// Client configs: [1.2 and 1.3, 1.2 only] x [no resumption, resumption].
fn client_config(tls12_only: bool, resume: bool) -> Arc<ClientConfig> {
    static CONFIGS: OnceLock<Vec<Arc<ClientConfig>>> = OnceLock::new();
    let configs = CONFIGS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add(pki().ca.clone()).unwrap();
        let mut out = Vec::new();
        for only12 in [false, true] {
            for resume in [false, true] {
                let versions: &[&rustls::SupportedProtocolVersion] = if only12 {
                    &[&rustls::version::TLS12]
                } else {
                    &[&rustls::version::TLS13, &rustls::version::TLS12]
                };
                let mut c = ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
                if !resume {
                    c.resumption = rustls::client::Resumption::disabled();
                }
                out.push(Arc::new(c));
            }
        }
        out
    });
    configs[usize::from(tls12_only) * 2 + usize::from(resume)].clone()
}

/// The fuzz input as a stream of arguments; past the end every byte reads as 0.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

struct Client {
    sock: TcpStream,
    tls: Option<ClientConnection>,
    /// The client's TLS failed (an alert from the server, garbage, a record it could not
    /// decrypt): nothing more goes through it.
    tls_dead: bool,
    /// The client sent close_notify: what arrives after it is read and dropped, not given to
    /// rustls (rustls marks close_notify as its fatal alert, and a second one on a bad record
    /// is a debug assertion in rustls, a fuzz-build panic that is not the server's).
    sent_close_notify: bool,
    config: Arc<ClientConfig>,
    /// Bytes before TLS started, as received (replies, or whatever the server sent).
    plain_rx: Vec<u8>,
    /// Decrypted application data.
    tls_rx: Vec<u8>,
    reading: bool,
    eof: bool,
    write_closed: bool,
    seg: usize,
}

impl Client {
    /// Writes to the socket in pieces of `seg` bytes (0: at once). Errors (the server closed)
    /// end writing.
    fn put(&mut self, bytes: &[u8]) {
        if self.write_closed || bytes.is_empty() {
            return;
        }
        let seg = if self.seg == 0 { bytes.len() } else { self.seg };
        for piece in bytes.chunks(seg) {
            if self.sock.write_all(piece).is_err() {
                self.write_closed = true;
                return;
            }
        }
    }

    /// Puts the TLS client's pending output on the socket.
    fn flush_tls(&mut self) {
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while tls.wants_write() {
            match tls.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        self.put(&out);
    }

    /// One read from the socket, waiting up to `wait`; what arrives goes to the TLS client
    /// or, before TLS, to `plain_rx`. False when nothing more can arrive.
    fn pump(&mut self, wait: Duration) -> bool {
        if !self.reading || self.eof {
            return false;
        }
        let wait = wait.max(Duration::from_millis(1));
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 8192];
        let n = match self.sock.read(&mut buf) {
            Ok(0) => {
                self.eof = true;
                return false;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return true;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return true,
            Err(_) => {
                // Reset by the server: over.
                self.eof = true;
                return false;
            }
        };
        self.feed(&buf[..n]);
        true
    }

    fn feed(&mut self, mut data: &[u8]) {
        let live = !self.tls_dead && !self.sent_close_notify;
        let Some(tls) = self.tls.as_mut().filter(|_| live) else {
            if self.tls.is_none() {
                self.plain_rx.extend_from_slice(data);
            }
            return;
        };
        while !data.is_empty() {
            match tls.read_tls(&mut data) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => {
                    self.tls_dead = true;
                    return;
                }
            }
            if tls.process_new_packets().is_err() {
                self.tls_dead = true;
                // The alert the client sends about it.
                self.flush_tls();
                return;
            }
            let mut chunk = [0u8; 4096];
            loop {
                match tls.reader().read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.tls_rx.extend_from_slice(&chunk[..n]),
                }
            }
        }
        // A handshake flight, a key update, an alert: answer it.
        self.flush_tls();
    }

    /// Flushes, then while the handshake is on, reads the server's flights and answers them
    /// (bounded by `STEP_WAIT`).
    fn drive_handshake(&mut self) {
        self.flush_tls();
        let deadline = Instant::now() + STEP_WAIT;
        while self
            .tls
            .as_ref()
            .is_some_and(|t| t.is_handshaking() && !self.tls_dead)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.pump(left.min(Duration::from_millis(100))) {
                break;
            }
        }
    }

    fn send_app(&mut self, data: &[u8], rec: usize) {
        if self.tls.is_none() {
            self.put(data);
            return;
        }
        if self.tls_dead {
            return;
        }
        let rec = if rec == 0 { 16384 } else { rec };
        let tls = self.tls.as_mut().unwrap();
        for piece in data.chunks(rec) {
            // Each write makes its own record (buffered until the handshake ends).
            if tls.writer().write_all(piece).is_err() {
                break;
            }
        }
        self.drive_handshake();
    }

    fn start_tls(&mut self, flags: u8) {
        if flags & 1 != 0 {
            let finals = final_replies(&self.plain_rx);
            self.send_app(b"STARTTLS\r\n", 0);
            if flags & 2 != 0 && self.tls.is_none() {
                let deadline = Instant::now() + STEP_WAIT;
                while final_replies(&self.plain_rx) <= finals {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || !self.pump(left.min(Duration::from_millis(100))) {
                        break;
                    }
                }
            }
        }
        if self.tls.is_none() {
            let name = ServerName::try_from("mx.example").unwrap();
            self.tls = Some(ClientConnection::new(self.config.clone(), name).unwrap());
            self.flush_tls();
        }
    }

    fn half_close(&mut self) {
        if !self.write_closed {
            self.write_closed = true;
            let _ = self.sock.shutdown(Shutdown::Write);
        }
    }
}

/// How many complete final reply lines (`DDD ` ... LF) `text` holds.
fn final_replies(text: &[u8]) -> usize {
    let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    text[..end]
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 4 && l[..3].iter().all(u8::is_ascii_digit) && l[3] == b' ')
        .count()
}

/// Every complete line is a reply line; multi-line replies keep one code.
fn check_replies(out: &[u8]) {
    let end = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = std::str::from_utf8(&out[..end])
        .unwrap_or_else(|e| panic!("replies are not UTF-8 ({e}): {out:?}"));
    let mut open: Option<u16> = None;
    for line in text.split_terminator('\n') {
        let line = line
            .strip_suffix('\r')
            .unwrap_or_else(|| panic!("bare LF in replies: {text:?}"));
        assert!(!line.contains('\r'), "{line:?}");
        let (code, more, _) = parse_reply_line(line).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        if let Some(c) = open {
            assert_eq!(c, code, "{text:?}");
        }
        open = more.then_some(code);
    }
}

/// One input at a time, and the check connections end at their QUIT: every session ends.
fn wait_sessions_end(server: &ServerHandle) {
    let deadline = Instant::now() + CLOSE_LIMIT;
    while server.stats().sessions > 0 {
        assert!(
            Instant::now() < deadline,
            "{} sessions still live {CLOSE_LIMIT:?} after their clients left",
            server.stats().sessions
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// The plain listener accepts and greets.
fn check_plain_alive(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).expect("connect to the plain listener");
    s.set_read_timeout(Some(CLOSE_LIMIT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // libFuzzer's timer signal interrupts blocking reads.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("no greeting from the plain listener: {e}"),
        }
    }
    assert!(
        got.starts_with(b"220 ") || got.starts_with(b"220-"),
        "plain listener greeted {:?}",
        String::from_utf8_lossy(&got)
    );
    let _ = s.write_all(b"QUIT\r\n");
}

/// A whole implicit-TLS handshake ends in a `220` greeting.
fn check_tls_alive(addr: SocketAddr) {
    let s = TcpStream::connect(addr).expect("connect to the implicit-TLS listener");
    s.set_read_timeout(Some(CLOSE_LIMIT)).unwrap();
    let conn = ClientConnection::new(
        client_config(false, false),
        ServerName::try_from("mx.example").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, s);
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(b"\r\n") {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("implicit TLS: no greeting: {e}"),
        }
    }
    assert!(
        got.starts_with(b"220 ") || got.starts_with(b"220-"),
        "implicit-TLS listener greeted {:?}",
        String::from_utf8_lossy(&got)
    );
    let _ = tls.write_all(b"QUIT\r\n");
    let _ = tls.flush();
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let setup = input.byte();
    let server = server();
    let addrs = server.local_addrs();
    // The last input's check connections have ended: what `seen` gets now is this input's.
    wait_sessions_end(server);
    seen().lock().unwrap().clear();

    let listener = if setup & 8 != 0 {
        2
    } else {
        usize::from(setup & 1)
    };
    let sock = TcpStream::connect(addrs[listener]).expect("connect");
    sock.set_nodelay(true).unwrap();
    let port = sock.local_addr().unwrap().port();

    let config = client_config(setup & 2 != 0, setup & 4 != 0);
    let mut c = Client {
        sock,
        tls: None,
        tls_dead: false,
        sent_close_notify: false,
        config,
        plain_rx: Vec::new(),
        tls_rx: Vec::new(),
        reading: true,
        eof: false,
        write_closed: false,
        seg: 0,
    };
    if listener == 1 {
        c.start_tls(0);
    } else if listener == 0 {
        // A client waits for the greeting.
        let deadline = Instant::now() + STEP_WAIT;
        while final_replies(&c.plain_rx) == 0 && Instant::now() < deadline {
            if !c.pump(Duration::from_millis(100)) {
                break;
            }
        }
    }

    while !input.0.is_empty() {
        match input.byte() % 8 {
            0 => {
                let len = usize::from(input.byte());
                let rec = usize::from(input.byte());
                c.seg = usize::from(input.byte());
                let payload = input.take(len);
                c.send_app(payload, rec);
            }
            1 => {
                let len = usize::from(input.byte());
                let raw = input.take(len);
                c.put(raw);
            }
            2 => {
                let mut rec = vec![input.byte(), 3, input.byte(), input.byte(), input.byte()];
                let n = usize::from(input.byte());
                rec.extend_from_slice(input.take(n));
                c.put(&rec);
            }
            3 => {
                let flags = input.byte();
                c.start_tls(flags);
            }
            4 => {
                let wait = u64::from(input.byte() % 32);
                c.pump(Duration::from_millis(wait));
                c.flush_tls();
            }
            5 => {
                if let Some(tls) = c.tls.as_mut() {
                    tls.send_close_notify();
                    c.sent_close_notify = true;
                }
                c.flush_tls();
            }
            6 => c.half_close(),
            _ => c.reading = false,
        }
    }

    c.flush_tls();
    c.half_close();
    if c.reading {
        let deadline = Instant::now() + CLOSE_LIMIT;
        while !c.eof {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the server kept the connection open {CLOSE_LIMIT:?} after the client's half-close"
            );
            c.pump(left);
        }
    }
    if std::env::var_os("SESSION_TLS_DEBUG").is_some() {
        eprintln!(
            "plain: {:?}\ntls: {:?}\ntls_dead: {} eof: {}",
            String::from_utf8_lossy(&c.plain_rx),
            String::from_utf8_lossy(&c.tls_rx),
            c.tls_dead,
            c.eof
        );
    }
    check_replies(&c.tls_rx);
    drop(c);

    wait_sessions_end(server);
    let got = seen()
        .lock()
        .unwrap()
        .get(&port)
        .copied()
        .unwrap_or_default();
    assert!(got.opens <= 1, "{} handlers for one connection", got.opens);
    assert_eq!(got.closes, got.opens, "on_close count");

    check_plain_alive(addrs[0]);
    static N: AtomicU64 = AtomicU64::new(0);
    if N.fetch_add(1, Ordering::Relaxed) % 32 == 0 {
        check_tls_alive(addrs[1]);
    }
});
