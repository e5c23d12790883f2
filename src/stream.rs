//! The thin socket layer: a buffered connection with deadlines, and typed I/O errors.
//!
//! Everything above this module works on lines and byte slices; everything that can fail on
//! the wire comes back as a [`SendError`] or [`RecvError`], never as a panic.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod error;
pub use error::{HandshakeError, RecvError, SendError};

#[cfg(feature = "tls")]
/// What a TLS upgrade does with input that arrived before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// STARTTLS: plaintext sent before the handshake is dropped. It must never run as a
    /// command (CVE-2011-0411) nor be taken as a reply (response injection).
    Discard,
    /// Implicit TLS: what followed a PROXY header in the same segment is the start of the
    /// ClientHello and goes to rustls.
    HandToTls,
}

/// What [`Conn::read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line, without its CRLF (or bare LF).
    Complete(Vec<u8>),
    /// A line longer than the limit; it was read and discarded up to its end.
    TooLong,
}

const READ_CHUNK: usize = 16 * 1024;
/// A connection's reads start this small and grow to `READ_CHUNK` once a read fills its room:
/// commands are short, and the buffer's pages are touched (zeroed) when it grows, so an idle
/// session holds 1 KiB here instead of 16 (RSS per idle session).
const FIRST_READ: usize = 1024;

/// A deadline `d` from now, saturating: a configured duration too large for the clock
/// (`Duration::MAX`, `u64::MAX` seconds) means "as late as the clock goes", never a panic.
pub(crate) fn deadline_in(d: Duration) -> Instant {
    deadline_after(Instant::now(), d)
}

/// A deadline `d` after `now`, saturating as [`deadline_in`] does.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// The socket under every transport: its writes never raise SIGPIPE, and every read and every
/// write runs against an absolute deadline.
///
/// std's `write` uses `send(MSG_NOSIGNAL)`, but its `write_vectored` (which rustls uses for TLS
/// records) is a plain `writev` that raises SIGPIPE on a closed socket, killing a host program
/// whose SIGPIPE is at its default. Not overriding `write_vectored` makes it fall back to `write`.
///
/// The deadlines are the one mechanism that keeps a peer from holding a session: each socket
/// read or write is given only the time left until its deadline, so a peer that sends (or
/// reads) a byte now and then cannot stretch a line, a reply, a TLS record or a handshake past
/// it. rustls reads and writes through this type too, so TLS gets the same totals as plaintext.
#[derive(Debug)]
pub(crate) struct NoSigPipe {
    /// Shared with the server's session registry, which shuts the socket down to wake an
    /// idle session at shutdown: an `Arc`, not a `dup` of the descriptor (two syscalls and a
    /// descriptor per connection).
    pub(crate) sock: Arc<TcpStream>,
    /// Every read until changed must finish by this instant (None: the socket's own timeout).
    pub(crate) read_deadline: Option<Instant>,
    /// Every write until changed must finish by this instant (None: the socket's own timeout).
    pub(crate) write_deadline: Option<Instant>,
    /// The receive and send timeouts this type last set on the socket. A `setsockopt` per
    /// read and per write was a third of the syscalls of a message; see [`timeout_for`].
    rcv_timeout: Option<Duration>,
    snd_timeout: Option<Duration>,
}

impl NoSigPipe {
    pub(crate) fn new(sock: Arc<TcpStream>) -> Self {
        NoSigPipe {
            sock,
            read_deadline: None,
            write_deadline: None,
            rcv_timeout: None,
            snd_timeout: None,
        }
    }

    /// Forgets the timeouts set so far (the socket's were changed behind this type's back).
    fn forget_timeouts(&mut self) {
        self.rcv_timeout = None;
        self.snd_timeout = None;
    }
}

/// The time left until `deadline`, never zero (std takes a zero timeout as "block forever");
/// `TimedOut` once it has passed.
#[cfg(feature = "tls")]
fn time_left(deadline: Instant) -> io::Result<Duration> {
    time_left_at(deadline, Instant::now())
}

/// [`time_left`] from `now`, read by the caller.
fn time_left_at(deadline: Instant, now: Instant) -> io::Result<Duration> {
    if now >= deadline {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok((deadline - now).max(Duration::from_millis(1)))
}

/// The timeout to set on the socket before a read or write that must end by `deadline`, or
/// None when the one already set (`current`) ends it in time: a blocking call returns within
/// its socket timeout, so any timeout no longer than the time left keeps the deadline.
///
/// A new timeout is 7/8 of the time left, so the next calls (the next command's deadline is
/// as far off again) find it short enough and need no `setsockopt`. A call that times out
/// before its deadline is retried by the caller with the time then left ([`retry_timeout`]),
/// so a deadline is never met early either. A timeout under half the time left is replaced
/// too: one left by a deadline that was close (milliseconds) would otherwise wake an idle
/// session that often for minutes.
fn timeout_for(
    current: Option<Duration>,
    deadline: Instant,
    now: Instant,
) -> io::Result<Option<Duration>> {
    let left = time_left_at(deadline, now)?;
    Ok(match current {
        Some(t) if t <= left && t >= left / 2 => None,
        _ => Some((left - left / 8).max(Duration::from_millis(1))),
    })
}

/// After a socket call that failed at `start`: true when it was the socket timeout, shorter
/// than the deadline, that ended it, so the call is made again. A socket timeout always
/// lasts at least a millisecond, so a call that failed sooner (a non-blocking socket) is not
/// retried in a loop.
fn retry_timeout(e: &io::Error, start: Instant, deadline: Option<Instant>) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) && deadline.is_some_and(|d| Instant::now() < d)
        && start.elapsed() >= Duration::from_millis(1)
}

impl Read for NoSigPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // One clock reading serves the timeout and the retry test.
            let start = Instant::now();
            if let Some(deadline) = self.read_deadline {
                if let Some(t) = timeout_for(self.rcv_timeout, deadline, start)? {
                    self.rcv_timeout = None;
                    self.sock.set_read_timeout(Some(t))?;
                    self.rcv_timeout = Some(t);
                }
            }
            match (&*self.sock).read(buf) {
                Err(e) if retry_timeout(&e, start, self.read_deadline) => continue,
                other => return other,
            }
        }
    }
}

impl Write for NoSigPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            // One clock reading serves the timeout and the retry test.
            let start = Instant::now();
            if let Some(deadline) = self.write_deadline {
                if let Some(t) = timeout_for(self.snd_timeout, deadline, start)? {
                    self.snd_timeout = None;
                    self.sock.set_write_timeout(Some(t))?;
                    self.snd_timeout = Some(t);
                }
            }
            match (&*self.sock).write(buf) {
                Err(e) if retry_timeout(&e, start, self.write_deadline) => continue,
                other => return other,
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Plain TCP, or TLS over it.
enum Transport {
    Plain(NoSigPipe),
    #[cfg(feature = "tls")]
    ServerTls(Box<rustls::StreamOwned<rustls::ServerConnection, NoSigPipe>>),
    #[cfg(feature = "client")]
    ClientTls(Box<rustls::StreamOwned<rustls::ClientConnection, NoSigPipe>>),
    /// Between taking the socket out of one variant and putting it into another.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Gone,
}

impl Transport {
    fn sock(&self) -> Option<&TcpStream> {
        self.raw().map(|s| &*s.sock)
    }

    fn raw(&self) -> Option<&NoSigPipe> {
        match self {
            Transport::Plain(s) => Some(s),
            #[cfg(feature = "tls")]
            Transport::ServerTls(t) => Some(&t.sock),
            #[cfg(feature = "client")]
            Transport::ClientTls(t) => Some(&t.sock),
            Transport::Gone => None,
        }
    }

    fn raw_mut(&mut self) -> Option<&mut NoSigPipe> {
        match self {
            Transport::Plain(s) => Some(s),
            #[cfg(feature = "tls")]
            Transport::ServerTls(t) => Some(&mut t.sock),
            #[cfg(feature = "client")]
            Transport::ClientTls(t) => Some(&mut t.sock),
            Transport::Gone => None,
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection already closed")
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Transport::ServerTls(t) => t.read(buf),
            #[cfg(feature = "client")]
            Transport::ClientTls(t) => t.read(buf),
            Transport::Gone => Err(gone()),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Transport::ServerTls(t) => t.write(buf),
            #[cfg(feature = "client")]
            Transport::ClientTls(t) => t.write(buf),
            Transport::Gone => Err(gone()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Transport::ServerTls(t) => t.flush(),
            #[cfg(feature = "client")]
            Transport::ClientTls(t) => t.flush(),
            Transport::Gone => Err(gone()),
        }
    }
}

/// A read buffer over some input: what [`read_line`] needs. [`Conn`] reads a socket; the
/// server's in-memory script reads a prepared list of steps.
pub(crate) trait Buffered {
    /// Bytes read but not yet consumed.
    fn buffered(&self) -> &[u8];
    /// Marks `n` buffered bytes as consumed.
    fn consume(&mut self, n: usize);
    /// Reads more input into the buffer (flushing queued output first), waiting at most until
    /// `deadline`. End of input is [`RecvError::Closed`].
    fn fill(&mut self, deadline: Instant) -> Result<usize, RecvError>;
    /// A body follows: reads from now on may take a whole chunk at once. (A connection's
    /// buffer starts small for idle sessions, and would otherwise grow only after a read
    /// filled it: one extra read per connection for any body over 1 KiB.)
    fn expect_bulk(&mut self) {}
}

/// Reads one line (ended by LF, an optional CR before it removed) of at most `max` octets
/// including the line ending. A longer line is discarded up to its end, keeping memory
/// bounded, and reported as [`Line::TooLong`]. The whole line must arrive before `deadline`.
pub(crate) fn read_line<B: Buffered + ?Sized>(
    b: &mut B,
    max: usize,
    deadline: Instant,
) -> Result<Line, RecvError> {
    let mut line = Vec::new();
    Ok(match read_line_into(b, max, deadline, &mut line)? {
        true => Line::Complete(line),
        false => Line::TooLong,
    })
}

/// [`read_line`] into `line` (cleared first), so a caller reading many lines reuses one
/// buffer instead of allocating one per line. True: a complete line; false: too long.
pub(crate) fn read_line_into<B: Buffered + ?Sized>(
    b: &mut B,
    max: usize,
    deadline: Instant,
    line: &mut Vec<u8>,
) -> Result<bool, RecvError> {
    line.clear();
    let mut too_long = false;
    let mut scanned = 0;
    loop {
        let buf = b.buffered();
        if let Some(i) = buf
            .get(scanned..)
            .and_then(|rest| crate::byte_search::find_byte(rest, b'\n'))
        {
            let end = scanned + i;
            if too_long || end + 1 > max {
                b.consume(end + 1);
                return Ok(false);
            }
            let text = buf.get(..end).unwrap_or_default();
            line.extend_from_slice(text.strip_suffix(b"\r").unwrap_or(text));
            b.consume(end + 1);
            return Ok(true);
        }
        scanned = buf.len();
        if scanned >= max {
            // Too long already: drop what we have, remember, keep looking for the end.
            too_long = true;
            b.consume(scanned);
            scanned = 0;
        }
        b.fill(deadline)?;
    }
}

/// A TCP connection with a read buffer, a write buffer and deadline-based reads.
///
/// Replies are queued with [`Conn::queue`] and written by [`Conn::flush`], which happens
/// automatically before any read that would block: pipelined commands get their replies in
/// one write, and a client waiting for a reply always gets it.
pub(crate) struct Conn {
    stream: Transport,
    /// Input: `rbuf[rpos..rend]` is read and not yet consumed. The bytes past `rend` are
    /// zeroed once and reused, so a read costs no `memset` of its buffer (it was 60% of the
    /// instructions of a message).
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    wbuf: Vec<u8>,
    write_timeout: Option<Duration>,
    /// Set by the first failed write: the connection is never written to again.
    write_failed: Option<io::ErrorKind>,
    /// Octets read from the socket, for statistics.
    pub(crate) bytes_in: u64,
}

impl Conn {
    pub(crate) fn new(stream: impl Into<Arc<TcpStream>>, write_timeout: Duration) -> Self {
        Conn {
            stream: Transport::Plain(NoSigPipe::new(stream.into())),
            rbuf: Vec::new(),
            rpos: 0,
            rend: 0,
            wbuf: Vec::with_capacity(512),
            write_timeout: Some(write_timeout),
            write_failed: None,
            bytes_in: 0,
        }
    }

    /// The output queue: bytes here are sent by the next flush.
    pub(crate) fn out(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
    }

    /// Writes every queued reply. On failure the queue is dropped: the bytes cannot be
    /// delivered, and retrying would only repeat the failure.
    pub(crate) fn flush(&mut self) -> Result<(), SendError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        // After a failed write (a peer that does not read, or is gone) another attempt would
        // only wait for the write timeout once more: the session would outlive its deadline.
        if let Some(kind) = self.write_failed {
            self.wbuf.clear();
            return Err(SendError::from(io::Error::from(kind)));
        }
        self.set_write_deadline_on_sock(self.write_timeout.map(deadline_in));
        let res = self
            .stream
            .write_all(&self.wbuf)
            .and_then(|()| self.stream.flush());
        self.set_write_deadline_on_sock(None);
        self.wbuf.clear();
        if let Err(e) = &res {
            self.write_failed = Some(e.kind());
        }
        res.map_err(SendError::from)
    }

    /// Bytes read but not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        self.rbuf.get(self.rpos..self.rend).unwrap_or_default()
    }

    /// Marks `n` buffered bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.rpos = (self.rpos + n).min(self.rend);
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        }
    }

    #[cfg(feature = "tls")]
    /// Drops any input already buffered (after STARTTLS nothing sent in plaintext may run).
    pub(crate) fn discard_buffered(&mut self) -> usize {
        let n = self.buffered().len();
        self.consume(n);
        n
    }

    /// Reads more bytes into the buffer, flushing queued replies first. Waits at most until
    /// `deadline`. End of stream is [`RecvError::Closed`].
    pub(crate) fn fill(&mut self, deadline: Instant) -> Result<usize, RecvError> {
        self.flush().map_err(|e| match e {
            SendError::Closed => RecvError::Closed,
            SendError::Reset => RecvError::Reset,
            SendError::TimedOut => RecvError::TimedOut,
            SendError::Io(e) => RecvError::Io(e),
        })?;
        // Compact so the buffer does not grow with the stream.
        if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        // Every socket read below (rustls may make several to complete one record) gets only
        // the time left until `deadline`, and fails with `TimedOut` once it has passed.
        match self.stream.raw_mut() {
            Some(raw) => raw.read_deadline = Some(deadline),
            None => return Err(RecvError::Io(gone())),
        }
        let start = self.rend;
        // Read into the room after what is buffered, at least FIRST_READ and at most a chunk
        // (zeroed only when the buffer grows).
        let room = self
            .rbuf
            .len()
            .saturating_sub(start)
            .clamp(FIRST_READ, READ_CHUNK);
        if self.rbuf.len() < start + room {
            self.rbuf.resize(start + room, 0);
        }
        let res = loop {
            match self.stream.read(&mut self.rbuf[start..start + room]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = res?;
        self.rend = start + n;
        if n == room && self.rbuf.len() < self.rend + READ_CHUNK {
            // More is coming than fit: a whole chunk next time.
            self.rbuf.resize(self.rend + READ_CHUNK, 0);
        }
        if n == 0 {
            return Err(RecvError::Closed);
        }
        self.bytes_in += n as u64;
        Ok(n)
    }

    #[cfg(any(feature = "client", test))]
    /// Reads one line of at most `max` octets before `deadline` (see [`read_line`]).
    pub(crate) fn read_line(&mut self, max: usize, deadline: Instant) -> Result<Line, RecvError> {
        read_line(self, max, deadline)
    }

    /// Closes the connection without losing the last reply: flush, send FIN, then read and
    /// drop what the peer still sends for a moment. Closing with unread input would make the
    /// kernel send RST, and an RST can destroy the reply before the peer reads it. Bounded:
    /// at most 200 ms and 64 KiB.
    pub(crate) fn close(&mut self) {
        self.flush_and_notify();
        // The drain below sets the socket's timeout itself.
        if let Some(raw) = self.stream.raw_mut() {
            raw.forget_timeouts();
        }
        let Some(sock) = self.stream.sock() else {
            return;
        };
        let _ = sock.shutdown(Shutdown::Write);
        let deadline = Instant::now() + Duration::from_millis(200);
        // What is left unread is dropped, and the read buffer (zeroed already) becomes the
        // scratch space: no 4 KiB of stack to clear per connection.
        self.rpos = 0;
        self.rend = 0;
        if self.rbuf.len() < READ_CHUNK {
            self.rbuf.resize(READ_CHUNK, 0);
        }
        let scratch = &mut self.rbuf[..READ_CHUNK];
        let mut drained = 0;
        while drained < 64 * 1024 {
            let now = Instant::now();
            if now >= deadline || sock.set_read_timeout(Some(deadline - now)).is_err() {
                break;
            }
            // Raw socket reads: what comes now is discarded, TLS or not.
            match (&mut &*sock).read(scratch) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
        let _ = sock.shutdown(Shutdown::Both);
    }

    /// Closes after the client's QUIT, when nothing it sent is left unread: flush, send FIN,
    /// done. The drain in [`Conn::close`] keeps unread input from turning the close into an
    /// RST; a client that said QUIT and sent nothing after it leaves none, and waiting for its
    /// FIN cost three syscalls and a wake-up per connection. Input already read after QUIT
    /// (a client breaking RFC 2920's rule that QUIT ends a pipelined group) still gets the
    /// full close; input sent later than the 221 may meet an RST, as with Postfix's smtpd.
    pub(crate) fn close_after_quit(&mut self) {
        if !self.buffered().is_empty() {
            return self.close();
        }
        self.flush_and_notify();
        if let Some(sock) = self.stream.sock() {
            let _ = sock.shutdown(Shutdown::Write);
        }
    }

    /// The start of every close: queued replies out, then close_notify on an established TLS
    /// session (not on a failed handshake: StreamOwned's flush would try to carry the
    /// handshake on and wait for the peer).
    fn flush_and_notify(&mut self) {
        let _ = self.flush();
        match &mut self.stream {
            _ if self.write_failed.is_some() => {}
            #[cfg(feature = "tls")]
            Transport::ServerTls(t) => close_notify(&mut t.conn, &mut t.sock),
            #[cfg(feature = "client")]
            Transport::ClientTls(t) => close_notify(&mut t.conn, &mut t.sock),
            _ => {}
        }
    }

    /// Every write until the next call must finish by `deadline` (None: no deadline).
    fn set_write_deadline_on_sock(&mut self, deadline: Option<Instant>) {
        if let Some(raw) = self.stream.raw_mut() {
            raw.write_deadline = deadline;
        }
    }

    #[cfg(feature = "tls")]
    /// Takes the plain socket out for a TLS upgrade, with the input already buffered.
    fn take_plain(&mut self) -> Result<(Arc<TcpStream>, Vec<u8>), HandshakeError> {
        let pending = self.buffered().to_vec();
        self.discard_buffered();
        self.wbuf.clear();
        match std::mem::replace(&mut self.stream, Transport::Gone) {
            Transport::Plain(s) => Ok((s.sock, pending)),
            other => {
                self.stream = other;
                Err(HandshakeError::Io(io::Error::other(
                    "TLS is already active",
                )))
            }
        }
    }

    #[cfg(feature = "tls")]
    /// Runs a server-side TLS handshake over this connection (STARTTLS or implicit TLS),
    /// finishing before `deadline`. On failure the connection is unusable and must be closed.
    /// Returns how many buffered octets were dropped (see [`Pending`]).
    pub(crate) fn start_tls(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        deadline: Instant,
        pending: Pending,
    ) -> Result<usize, HandshakeError> {
        let (sock, buffered) = self.take_plain()?;
        let (early, dropped) = match pending {
            Pending::Discard => (Vec::new(), buffered.len()),
            Pending::HandToTls => (buffered, 0),
        };
        let first = match early.first() {
            Some(&b) => Ok(b),
            None => first_byte(&sock, deadline),
        };
        match first {
            Ok(0x16) => {}
            Ok(_) => {
                self.stream = Transport::Plain(NoSigPipe::new(sock));
                return Err(HandshakeError::NotTls);
            }
            Err(e) => {
                self.stream = Transport::Plain(NoSigPipe::new(sock));
                return Err(e);
            }
        }
        let conn = rustls::ServerConnection::new(config).map_err(HandshakeError::Tls)?;
        let mut tls = rustls::StreamOwned::new(conn, NoSigPipe::new(sock));
        let result = feed(&mut tls.conn, &mut tls.sock, &early, deadline)
            .and_then(|()| handshake(&mut tls.conn, &mut tls.sock, deadline));
        self.stream = Transport::ServerTls(Box::new(tls));
        result.map(|()| dropped)
    }

    #[cfg(feature = "client")]
    /// Runs a client-side TLS handshake (STARTTLS after `220`, or implicit TLS), verifying
    /// the server as `name`. Anything buffered came before encryption and is dropped: it must
    /// never be taken as a reply (response injection).
    pub(crate) fn start_tls_client(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        deadline: Instant,
    ) -> Result<usize, HandshakeError> {
        let (sock, buffered) = self.take_plain()?;
        let conn = rustls::ClientConnection::new(config, name).map_err(HandshakeError::Tls)?;
        let mut tls = rustls::StreamOwned::new(conn, NoSigPipe::new(sock));
        let result = handshake(&mut tls.conn, &mut tls.sock, deadline);
        self.stream = Transport::ClientTls(Box::new(tls));
        result.map(|()| buffered.len())
    }

    #[cfg(feature = "client")]
    /// Queues raw bytes (sent by the next flush).
    pub(crate) fn queue_bytes(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    #[cfg(feature = "client")]
    /// Sets the timeout for writes (each flush).
    pub(crate) fn set_write_deadline(&mut self, t: Duration) {
        self.write_timeout = Some(t);
    }

    #[cfg(feature = "tls")]
    /// The server-side TLS connection, once TLS is on.
    pub(crate) fn server_tls(&self) -> Option<&rustls::ServerConnection> {
        match &self.stream {
            #[cfg(feature = "tls")]
            Transport::ServerTls(t) => Some(&t.conn),
            _ => None,
        }
    }
}

impl Buffered for Conn {
    fn buffered(&self) -> &[u8] {
        Conn::buffered(self)
    }
    fn consume(&mut self, n: usize) {
        Conn::consume(self, n)
    }
    fn fill(&mut self, deadline: Instant) -> Result<usize, RecvError> {
        Conn::fill(self, deadline)
    }

    fn expect_bulk(&mut self) {
        if self.rbuf.len() < self.rend + READ_CHUNK {
            self.rbuf.resize(self.rend + READ_CHUNK, 0);
        }
    }
}

#[cfg(feature = "tls")]
/// Waits for the first byte of the handshake and returns it without consuming it. rustls
/// would wait for a whole "record" announced by plaintext bytes (`EHLO` reads as a 20 KB
/// record); a ClientHello starts with 0x16, so anything else can fail at once.
fn first_byte(sock: &TcpStream, deadline: Instant) -> Result<u8, HandshakeError> {
    sock.set_read_timeout(Some(time_left(deadline)?))?;
    let mut b = [0u8; 1];
    match sock.peek(&mut b)? {
        0 => Err(HandshakeError::Closed),
        _ => Ok(b[0]),
    }
}

#[cfg(feature = "tls")]
/// Gives rustls the bytes that arrived before the handshake started (the ClientHello's start,
/// read together with a PROXY header), as if they had just been read from the socket.
fn feed<S: rustls::SideData>(
    conn: &mut rustls::ConnectionCommon<S>,
    sock: &mut NoSigPipe,
    mut early: &[u8],
    deadline: Instant,
) -> Result<(), HandshakeError> {
    if early.is_empty() {
        return Ok(());
    }
    while !early.is_empty() {
        if conn.read_tls(&mut early)? == 0 {
            break;
        }
        if let Err(e) = conn.process_new_packets() {
            // Send the alert rustls queued, within the deadline, then fail.
            sock.write_deadline = Some(deadline);
            while conn.wants_write() && conn.write_tls(sock).is_ok() {}
            return Err(HandshakeError::Tls(e));
        }
    }
    Ok(())
}

#[cfg(feature = "tls")]
/// Sends close_notify on an established session. Not on a failed handshake: StreamOwned's
/// flush would try to carry the handshake on and wait for the peer.
fn close_notify<S: rustls::SideData>(conn: &mut rustls::ConnectionCommon<S>, sock: &mut NoSigPipe) {
    if conn.is_handshaking() {
        return;
    }
    conn.send_close_notify();
    while conn.wants_write() {
        if conn.write_tls(sock).is_err() {
            break;
        }
    }
}

#[cfg(feature = "tls")]
/// Drives a handshake to completion before `deadline`: every socket read and write of it
/// runs against that one deadline.
fn handshake<S: rustls::SideData>(
    conn: &mut rustls::ConnectionCommon<S>,
    sock: &mut NoSigPipe,
    deadline: Instant,
) -> Result<(), HandshakeError> {
    sock.read_deadline = Some(deadline);
    sock.write_deadline = Some(deadline);
    while conn.is_handshaking() {
        conn.complete_io(sock)?;
    }
    // Flush the final flight (TLS 1.3 server: session tickets) so the client is not left waiting.
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    sock.write_deadline = None;
    Ok(())
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
