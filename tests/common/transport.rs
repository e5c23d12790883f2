//! The transports the fault matrix runs over, on both sides: a server bound for a transport
//! (`Via::bind`), and a client that hides it (`Wire`): plaintext, STARTTLS, implicit TLS, and
//! PROXY v1/v2 in front of plaintext and of implicit TLS, with the PROXY header and the first
//! client bytes in one segment or split 200 ms apart.
//!
//! A `Wire` speaks SMTP through the transport (`send`, `reply`, `cmd`...) and keeps the raw
//! socket for faults: RST (SO_LINGER 0), half-close, and bytes trickled on the wire (over TLS:
//! the encrypted record, one octet at a time). Every step returns an `io::Result`, so faults
//! are data, and every read is bounded by `CLIENT_TIMEOUT`.
#![allow(dead_code)]

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use smtpkit::server::{ListenerOptions, Server, ServerBuilder};

use super::pki;

/// The longest any client read waits: a test that should fail does so in bounded time.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// The gap between the PROXY header and the first client bytes when split.
pub const SPLIT_GAP: Duration = Duration::from_millis(200);

/// What the connection carries before SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    StartTls,
    ImplicitTls,
    ProxyV1Plain,
    ProxyV2Plain,
    ProxyV1Tls,
    ProxyV2Tls,
}

/// PROXY header and first client bytes (the ClientHello for TLS, the first command for
/// plaintext) in one write, or two writes `SPLIT_GAP` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segmenting {
    OneSegment,
    Split,
}

/// One cell of the matrix's transport axis.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Via {
    pub transport: Transport,
    pub segmenting: Segmenting,
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.proxy().is_some() {
            write!(f, "{:?}/{:?}", self.transport, self.segmenting)
        } else {
            write!(f, "{:?}", self.transport)
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Via {
    pub const fn new(transport: Transport, segmenting: Segmenting) -> Via {
        Via {
            transport,
            segmenting,
        }
    }

    /// A transport without PROXY (segmenting does not apply).
    pub const fn plain(transport: Transport) -> Via {
        Via::new(transport, Segmenting::OneSegment)
    }

    /// Every transport, PROXY ones in both segmentings: 11 cells. `SMTPKIT_VIA=<text>` keeps
    /// only the cells whose name contains the text (e.g. `ProxyV2Tls`, `Split`), or is the
    /// text after `=` (`=Plain`).
    pub fn all() -> Vec<Via> {
        use Segmenting::*;
        use Transport::*;
        let mut v = vec![
            Via::plain(Plain),
            Via::plain(StartTls),
            Via::plain(ImplicitTls),
        ];
        for t in [ProxyV1Plain, ProxyV2Plain, ProxyV1Tls, ProxyV2Tls] {
            v.push(Via::new(t, OneSegment));
            v.push(Via::new(t, Split));
        }
        match std::env::var("SMTPKIT_VIA") {
            Ok(f) if f.starts_with('=') => v.retain(|via| via.to_string() == f[1..]),
            Ok(f) if !f.is_empty() => v.retain(|via| via.to_string().contains(&f)),
            _ => {}
        }
        v
    }

    /// PROXY protocol version in front, if any.
    pub fn proxy(self) -> Option<u8> {
        match self.transport {
            Transport::ProxyV1Plain | Transport::ProxyV1Tls => Some(1),
            Transport::ProxyV2Plain | Transport::ProxyV2Tls => Some(2),
            _ => None,
        }
    }

    /// TLS from the first byte (after the PROXY header, if any).
    pub fn implicit_tls(self) -> bool {
        matches!(
            self.transport,
            Transport::ImplicitTls | Transport::ProxyV1Tls | Transport::ProxyV2Tls
        )
    }

    /// Encrypted once the session is ready.
    pub fn tls(self) -> bool {
        self.implicit_tls() || self.transport == Transport::StartTls
    }

    /// The listener options for this transport.
    pub fn options(self) -> ListenerOptions {
        ListenerOptions {
            implicit_tls: self.implicit_tls(),
            proxy_protocol: self.proxy().is_some(),
            ..Default::default()
        }
    }

    /// Adds what the transport needs to `b`: certificates for the TLS ones, the trusted
    /// balancer (127.0.0.1) for PROXY, and a TLS handshake deadline short enough that a lost
    /// ClientHello fails a test in seconds rather than 30.
    pub fn configure(self, b: ServerBuilder) -> ServerBuilder {
        let mut b = b.tls_handshake_timeout(Duration::from_secs(5));
        if self.tls() {
            b = b.tls(pki::server_tls());
        }
        if self.proxy().is_some() {
            b = b.proxy_trusted(&["127.0.0.1"]);
        }
        b
    }

    /// `b`, configured for this transport, bound on 127.0.0.1:0.
    pub fn bind(self, b: ServerBuilder) -> Server {
        self.configure(b)
            .bind_with("127.0.0.1:0", self.options())
            .unwrap_or_else(|e| panic!("{self}: bind: {e}"))
    }
}

/// The address a PROXY header claims by default.
pub fn claimed_source() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 40000)
}

/// A PROXY v1 header from `source` to `dest`.
pub fn proxy_v1(source: SocketAddr, dest: SocketAddr) -> Vec<u8> {
    let (proto, dest_ip) = match (source.ip(), dest.ip()) {
        (IpAddr::V4(_), IpAddr::V4(d)) => ("TCP4", IpAddr::V4(d)),
        (IpAddr::V6(_), IpAddr::V6(d)) => ("TCP6", IpAddr::V6(d)),
        (IpAddr::V6(_), IpAddr::V4(d)) => ("TCP6", IpAddr::V6(d.to_ipv6_mapped())),
        (IpAddr::V4(_), IpAddr::V6(_)) => ("TCP4", IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    format!(
        "PROXY {proto} {} {dest_ip} {} {}\r\n",
        source.ip(),
        source.port(),
        dest.port()
    )
    .into_bytes()
}

/// A PROXY v2 header (command PROXY, TCP) from `source` to `dest`.
pub fn proxy_v2(source: SocketAddr, dest: SocketAddr) -> Vec<u8> {
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.push(0x21);
    let mut body = Vec::new();
    let v6 = |ip: IpAddr| match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    match (source.ip(), dest.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.push(0x21);
            body.extend_from_slice(&v6(s).octets());
            body.extend_from_slice(&v6(d).octets());
        }
    }
    body.extend_from_slice(&source.port().to_be_bytes());
    body.extend_from_slice(&dest.port().to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// An IPv6 address for tests (documentation prefix 2001:db8::/32).
pub fn v6(segments: [u16; 8]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(segments))
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

/// How a trickle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trickled {
    /// The server sent something (read it with `reply`) after this long.
    Answered(Duration),
    /// The server closed or reset the connection (EOF or a failed write) after this long.
    Closed(Duration),
    /// Still open and silent when the limit passed.
    Held(Duration),
}

/// A client connection over one transport.
pub struct Wire {
    pub via: Via,
    /// The socket itself, for faults.
    pub raw: TcpStream,
    io: Io,
    buf: Vec<u8>,
    /// A plaintext PROXY connection sent EHLO with (or right after) its header: `ready`
    /// reads its reply instead of sending another.
    ehlo_sent: bool,
}

pub const EHLO: &str = "EHLO client.example";

impl Wire {
    /// Connects over `via`, claiming `claimed_source()` in a PROXY header.
    pub fn open(via: Via, addr: SocketAddr) -> io::Result<(Wire, (u16, String))> {
        Wire::open_as(via, addr, claimed_source())
    }

    /// Connects over `via`: PROXY header (claiming `source`), TLS handshake for implicit TLS,
    /// then the greeting, which is returned. For STARTTLS a `220` greeting is followed by
    /// EHLO, STARTTLS and the handshake. A handshake that fails (a listener that refuses an
    /// implicit-TLS connection just closes it) is an error.
    pub fn open_as(
        via: Via,
        addr: SocketAddr,
        source: SocketAddr,
    ) -> io::Result<(Wire, (u16, String))> {
        Wire::open_on(via, TcpStream::connect(addr)?, source)
    }

    /// Like [`Wire::open_as`] over a socket already connected (to time what follows the
    /// connect alone).
    pub fn open_on(
        via: Via,
        sock: TcpStream,
        source: SocketAddr,
    ) -> io::Result<(Wire, (u16, String))> {
        let addr = sock.peer_addr()?;
        sock.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        sock.set_write_timeout(Some(CLIENT_TIMEOUT))?;
        let _ = sock.set_nodelay(true);
        let raw = sock.try_clone()?;
        let header = match via.proxy() {
            Some(1) => proxy_v1(source, addr),
            Some(_) => proxy_v2(source, addr),
            None => Vec::new(),
        };
        let (io, ehlo_sent) = if via.implicit_tls() {
            (
                Io::Tls(Box::new(handshake(sock, &header, via.segmenting)?)),
                false,
            )
        } else {
            let mut s = sock;
            if !header.is_empty() {
                let first = format!("{EHLO}\r\n").into_bytes();
                // A server that refused the connection (421 and close) resets it when more
                // arrives: the 421 is still there to read, so a failed write is not the end.
                let _ = send_first(&mut s, &header, &first, via.segmenting);
            }
            (Io::Plain(s), !header.is_empty())
        };
        let mut w = Wire {
            via,
            raw,
            io,
            buf: Vec::new(),
            ehlo_sent,
        };
        let greeting = w.reply()?;
        if via.transport == Transport::StartTls && greeting.0 == 220 {
            w.cmd_expect(EHLO, 250)?;
            w.cmd_expect("STARTTLS", 220)?;
            let Io::Plain(s) = std::mem::replace(&mut w.io, Io::Plain(w.raw.try_clone()?)) else {
                unreachable!()
            };
            w.io = Io::Tls(Box::new(handshake(s, &[], via.segmenting)?));
        }
        Ok((w, greeting))
    }

    /// Connected, greeted (`220`) and past EHLO (`250`): ready for MAIL.
    pub fn ready(via: Via, addr: SocketAddr) -> io::Result<Wire> {
        Wire::ready_as(via, addr, claimed_source())
    }

    /// Like [`Wire::ready`], claiming `source` in the PROXY header.
    pub fn ready_as(via: Via, addr: SocketAddr, source: SocketAddr) -> io::Result<Wire> {
        let (mut w, (code, line)) = Wire::open_as(via, addr, source)?;
        if code != 220 {
            return Err(io::Error::other(format!("greeting: {line:?}")));
        }
        w.hello()?;
        Ok(w)
    }

    /// After a `220` greeting from [`Wire::open`]: EHLO and its `250` (a plaintext PROXY
    /// connection sent its EHLO with the header: only the reply is read).
    pub fn hello(&mut self) -> io::Result<()> {
        if self.ehlo_sent {
            self.ehlo_sent = false;
            self.expect(250).map(drop)
        } else {
            self.cmd_expect(EHLO, 250).map(drop)
        }
    }

    /// Sets the timeout of every later read and write.
    pub fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.raw.set_read_timeout(Some(t))?;
        self.raw.set_write_timeout(Some(t))
    }

    /// Writes `bytes` through the transport.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.io {
            Io::Plain(s) => s.write_all(bytes),
            Io::Tls(t) => {
                t.write_all(bytes)?;
                t.flush()
            }
        }
    }

    /// Sends `line` and CRLF.
    pub fn line(&mut self, line: &str) -> io::Result<()> {
        self.send(format!("{line}\r\n").as_bytes())
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = match &mut self.io {
            Io::Plain(s) => s.read(&mut chunk)?,
            Io::Tls(t) => t.read(&mut chunk)?,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// One reply line without its CRLF.
    pub fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let s = String::from_utf8_lossy(&line);
                return Ok(s.trim_end_matches(['\r', '\n']).to_string());
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "closed while waiting for a reply (partial: {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        }
    }

    /// One whole reply: its code and its last line.
    pub fn reply(&mut self) -> io::Result<(u16, String)> {
        loop {
            let line = self.read_line()?;
            let Some(code) = line.get(..3).and_then(|c| c.parse().ok()) else {
                return Err(io::Error::other(format!("bad reply {line:?}")));
            };
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, line));
            }
        }
    }

    /// A reply with this code; its last line.
    pub fn expect(&mut self, code: u16) -> io::Result<String> {
        let (c, line) = self.reply()?;
        if c != code {
            return Err(io::Error::other(format!("expected {code}, got {line:?}")));
        }
        Ok(line)
    }

    pub fn cmd(&mut self, line: &str) -> io::Result<(u16, String)> {
        self.line(line)?;
        self.reply()
    }

    pub fn cmd_expect(&mut self, line: &str, code: u16) -> io::Result<String> {
        self.line(line)?;
        self.expect(code)
    }

    /// MAIL, RCPT, DATA, `body` (text without the terminator), the final dot: the reply.
    pub fn mail(&mut self, from: &str, to: &str, body: &[u8]) -> io::Result<(u16, String)> {
        self.cmd_expect(&format!("MAIL FROM:<{from}>"), 250)?;
        self.cmd_expect(&format!("RCPT TO:<{to}>"), 250)?;
        self.cmd_expect("DATA", 354)?;
        let mut wire = body.to_vec();
        wire.extend_from_slice(b".\r\n");
        self.send(&wire)?;
        self.reply()
    }

    /// QUIT and `221`.
    pub fn quit(mut self) -> io::Result<()> {
        self.cmd_expect("QUIT", 221).map(drop)
    }

    /// A client that pipelines EHLOs (encrypted when TLS) and never reads, until the server
    /// cuts it or `give_up` passes (or 1 GiB was sent). Returns whether it was cut, how long
    /// after its writes stopped making progress (or how long it waited, when not cut), and the
    /// octets sent.
    pub fn write_without_reading(&mut self, give_up: Duration) -> (bool, Duration, u64) {
        let _ = self.raw.set_write_timeout(Some(Duration::from_millis(50)));
        // Small socket buffers (no autotuning up to tens of MiB): the server's writes block
        // after little work, and little is queued for it to work through, so a busy machine
        // does not stretch the wait into minutes of CPU.
        let sock = socket2::SockRef::from(&self.raw);
        let _ = sock.set_recv_buffer_size(16 * 1024);
        let _ = sock.set_send_buffer_size(16 * 1024);
        // EHLO, not NOOP: its reply is several times the command, so the buffers fill with
        // little work (a debug build keeps up).
        let block: Vec<u8> = b"EHLO slow.example\r\n"
            .iter()
            .copied()
            .cycle()
            .take(60_000)
            .collect();
        // What is on the wire (TLS records over TLS), and how much of it is written. The
        // server reads (and answers) until its replies fill the socket buffers; then its
        // write blocks and it stops reading, and so do our writes: the clock starts there.
        let (mut pending, mut off) = (Vec::new(), 0);
        let t = Instant::now();
        let mut blocked: Option<Instant> = None;
        let mut sent = 0u64;
        loop {
            let waited = blocked.map_or(t.elapsed(), |b| b.elapsed());
            if waited >= give_up || sent >= 1 << 30 {
                return (false, waited, sent);
            }
            if off == pending.len() {
                match self.encrypt(&block) {
                    Ok(p) => pending = p,
                    Err(_) => return (false, waited, sent),
                }
                off = 0;
            }
            match (&self.raw).write(&pending[off..]) {
                Ok(n) => {
                    off += n;
                    sent += n as u64;
                    blocked = None;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    blocked.get_or_insert_with(Instant::now);
                }
                Err(_) => return (true, blocked.map_or(Duration::ZERO, |b| b.elapsed()), sent),
            }
        }
    }

    /// The octets `plain` becomes on the wire: itself, or TLS records (not sent).
    pub fn encrypt(&mut self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let Io::Tls(t) = &mut self.io else {
            return Ok(plain.to_vec());
        };
        let mut out = Vec::new();
        let mut rest = plain;
        loop {
            while t.conn.wants_write() {
                t.conn.write_tls(&mut out)?;
            }
            if rest.is_empty() {
                return Ok(out);
            }
            let n = t.conn.writer().write(rest)?;
            if n == 0 && !t.conn.wants_write() {
                return Err(io::Error::other("rustls took no plaintext"));
            }
            rest = &rest[n..];
        }
    }

    /// Something from the server (or its close) is waiting on the socket, without reading it.
    pub fn server_spoke(&self) -> Option<io::Result<usize>> {
        if self.raw.set_nonblocking(true).is_err() {
            return None;
        }
        let mut one = [0u8; 1];
        let r = self.raw.peek(&mut one);
        let _ = self.raw.set_nonblocking(false);
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            other => Some(other),
        }
    }

    /// Drips `plain` (encrypted first over TLS: the record's octets go one at a time) on the
    /// raw socket, one octet every `gap`, until the server answers or closes, or `limit`
    /// passes. Elapsed times count from the first octet.
    pub fn trickle(&mut self, plain: &[u8], gap: Duration, limit: Duration) -> Trickled {
        let wire = match self.encrypt(plain) {
            Ok(w) => w,
            Err(_) => return Trickled::Closed(Duration::ZERO),
        };
        let t = Instant::now();
        let mut i = 0;
        loop {
            match self.server_spoke() {
                Some(Ok(n)) if n > 0 => return Trickled::Answered(t.elapsed()),
                Some(_) => return Trickled::Closed(t.elapsed()),
                None => {}
            }
            if t.elapsed() > limit {
                return Trickled::Held(t.elapsed());
            }
            if let Some(b) = wire.get(i) {
                match (&self.raw).write(&[*b]) {
                    Ok(_) => i += 1,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        // The server is gone; what it said first may still be readable.
                        return match self.server_spoke() {
                            Some(Ok(n)) if n > 0 => Trickled::Answered(t.elapsed()),
                            _ => Trickled::Closed(t.elapsed()),
                        };
                    }
                }
            }
            // Poll for the answer in small steps during the gap.
            let until = Instant::now() + gap;
            while Instant::now() < until {
                if self.server_spoke().is_some() {
                    break;
                }
                sleep(gap.min(Duration::from_millis(20)));
            }
        }
    }

    /// Writes raw octets (already encrypted when TLS) on the socket.
    pub fn send_raw(&mut self, wire: &[u8]) -> io::Result<()> {
        (&self.raw).write_all(wire)
    }

    /// Leaves with RST: SO_LINGER 0, then close.
    pub fn rst(self) {
        let _ = socket2::SockRef::from(&self.raw).set_linger(Some(Duration::ZERO));
        drop(self);
    }

    /// Half-close: FIN on our side (no close_notify: a peer that just stops), reads go on.
    pub fn half_close(&mut self) -> io::Result<()> {
        self.raw.shutdown(Shutdown::Write)
    }

    /// Reads (and decrypts) until the server closes: everything it said. An error other than
    /// the end (a reset, a missing close_notify) also ends it; a timeout is an error.
    pub fn read_to_close(&mut self) -> io::Result<String> {
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(e);
                }
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        Ok(text)
    }

    /// True when the server closes the connection within the read timeout (what it still
    /// sends is skipped).
    pub fn closed(&mut self) -> bool {
        self.read_to_close().is_ok()
    }
}

/// Writes the PROXY header and the first bytes as `seg` says.
fn send_first(
    sock: &mut TcpStream,
    header: &[u8],
    first: &[u8],
    seg: Segmenting,
) -> io::Result<()> {
    match seg {
        Segmenting::OneSegment => {
            let mut all = header.to_vec();
            all.extend_from_slice(first);
            sock.write_all(&all)
        }
        Segmenting::Split => {
            sock.write_all(header)?;
            sock.flush()?;
            thread::sleep(SPLIT_GAP);
            sock.write_all(first)
        }
    }
}

/// A client handshake for mx.example; `header` (a PROXY header, or nothing) goes before the
/// ClientHello as `seg` says.
fn handshake(mut sock: TcpStream, header: &[u8], seg: Segmenting) -> io::Result<TlsStream> {
    let name = ServerName::try_from("mx.example").expect("server name");
    let mut conn =
        rustls::ClientConnection::new(pki::client_config(), name).map_err(io::Error::other)?;
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello)?;
    }
    if header.is_empty() {
        sock.write_all(&hello)?;
    } else {
        send_first(&mut sock, header, &hello, seg)?;
    }
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Runs `scenario` once per transport (`Via::all()`), all at once on their own threads and
/// servers, and fails naming every cell that failed. Prints one `[matrix]` line per cell.
pub fn run_matrix(scenario: &str, f: impl Fn(Via) + Send + Sync + 'static) {
    let f = std::sync::Arc::new(f);
    let vias = Via::all();
    let t0 = Instant::now();
    let handles: Vec<_> = vias
        .iter()
        .map(|&via| {
            let f = std::sync::Arc::clone(&f);
            thread::Builder::new()
                .name(format!("{scenario} over {via}"))
                .spawn(move || {
                    let t = Instant::now();
                    f(via);
                    t.elapsed()
                })
                .expect("spawn a matrix cell")
        })
        .collect();
    let mut failed = Vec::new();
    for (via, h) in vias.iter().zip(handles) {
        match h.join() {
            Ok(took) => eprintln!("[matrix] {scenario} over {via}: ok in {took:.2?}"),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".to_string());
                eprintln!("[matrix] {scenario} over {via}: FAILED: {msg}");
                failed.push(format!("  {via}: {msg}"));
            }
        }
    }
    eprintln!(
        "[matrix] {scenario}: {} of {} transports passed in {:.2?}",
        vias.len() - failed.len(),
        vias.len(),
        t0.elapsed()
    );
    assert!(
        failed.is_empty(),
        "{scenario}: {} of {} transports failed:\n{}",
        failed.len(),
        vias.len(),
        failed.join("\n")
    );
}
