//! The SMTP/LMTP server: a builder, a blocking listener that hands each connection to a
//! thread pool, and a handle to watch and stop it.
//!
//! ```no_run
//! use smtpkit::server::{Server, Handler, Envelope};
//! use smtpkit::Reply;
//! use std::io::Read;
//!
//! struct Catcher;
//! impl Handler for Catcher {
//!     fn on_data(&mut self, env: &Envelope, data: &mut dyn Read) -> Result<Reply, Reply> {
//!         let body = smtpkit::server::collect(data).map_err(|_| Reply::TRANSACTION_FAILED)?;
//!         println!("{} bytes for {} recipient(s)", body.len(), env.recipients.len());
//!         Ok(Reply::QUEUED)
//!     }
//! }
//!
//! let server = Server::builder().hostname("mx.example").bind("127.0.0.1:2525")?;
//! server.serve(|_conn| Catcher)?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod cidr;
mod config;
mod handler;
pub mod params;
pub mod proxy;
mod reader;
pub mod script;
mod session;
mod session_io;
#[cfg(test)]
mod session_tests;
mod shared;

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{debug, warn};
use threadpool::ThreadPool;

pub use crate::data::BareLinePolicy;
pub use crate::stream::{HandshakeError, RecvError, SendError};
pub use config::{MAX_SESSIONS_LIMIT, Protocol, ServerConfig, default_hostname};
pub use handler::{
    Body, ConnInfo, Envelope, ErrorAction, Greeting, Handler, MailParams, Phase, Recipient,
    SessionError, collect,
};
pub use shared::Stats;

use crate::reply::Reply;
use crate::sasl::Mechanism;
use crate::stream::{Conn, deadline_in};
use crate::tls::ServerTls;
use session::Session;
use shared::{SessionSlot, Shared};

/// Entry point: `Server::builder()`. A bound server, ready to `spawn` or `serve`.
#[derive(Debug)]
pub struct Server {
    listeners: Vec<Bound>,
    config: Arc<ServerConfig>,
}

/// One bound listener.
#[derive(Debug)]
struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
    options: ListenerOptions,
}

/// How one listener behaves. Listeners of one server share its configuration, pool and
/// handler factory; [`ConnInfo::listener`] tells them apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerOptions {
    /// TLS handshake before the greeting (port 465 style). Needs [`ServerBuilder::tls`].
    pub implicit_tls: bool,
    /// Expect a PROXY protocol header (v1 or v2) from a load balancer first.
    pub proxy_protocol: bool,
    /// SMTP or LMTP on this listener (default: the server's).
    pub protocol: Option<Protocol>,
}

/// Configures a [`Server`]; every limit has a safe default (see [`ServerConfig`]).
#[derive(Debug, Clone, Default)]
pub struct ServerBuilder {
    config: ServerConfig,
}

/// Why a server could not start.
fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

impl ServerBuilder {
    /// Name in the greeting and EHLO reply.
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.config.hostname = name.into();
        self
    }
    /// SMTP (default) or LMTP.
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.config.protocol = p;
        self
    }
    /// Longest command line, CRLF included (default 2048).
    pub fn max_line_length(mut self, n: usize) -> Self {
        self.config.max_line_length = n;
        self
    }
    /// Longest DATA line, CRLF included (default: no limit; RFC 5321 says 1000).
    pub fn max_data_line(mut self, n: Option<usize>) -> Self {
        self.config.max_data_line = n;
        self
    }
    /// Largest message (default 10,240,000 octets; `None` = no limit).
    pub fn max_message_size(mut self, n: Option<u64>) -> Self {
        self.config.max_message_size = n;
        self
    }
    /// Most recipients per message (default 1000).
    pub fn max_recipients(mut self, n: usize) -> Self {
        self.config.max_recipients = n;
        self
    }
    /// Protocol errors allowed per session before `421` (default 20).
    pub fn max_errors(mut self, n: usize) -> Self {
        self.config.max_errors = n;
        self
    }
    /// Deadline for each command line, and write timeout (default 300 s).
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.config.command_timeout = d;
        self
    }
    /// Deadline for each DATA line (default 180 s).
    pub fn data_block_timeout(mut self, d: Duration) -> Self {
        self.config.data_block_timeout = d;
        self
    }
    /// Deadline for a whole DATA body (default 600 s).
    pub fn data_timeout(mut self, d: Duration) -> Self {
        self.config.data_timeout = d;
        self
    }
    /// Most sessions at once, and the pool size (default 128, at most
    /// [`config::MAX_SESSIONS_LIMIT`]).
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.config.max_sessions = n;
        self
    }
    /// Bare CR/LF policy in DATA (default: reject).
    pub fn bare_line_policy(mut self, p: BareLinePolicy) -> Self {
        self.config.bare_line = p;
        self
    }
    /// Enforce RFC 5321 path lengths (default true).
    pub fn strict_path_lengths(mut self, on: bool) -> Self {
        self.config.paths.strict_lengths = on;
        self
    }
    /// Accept and advertise SMTPUTF8 (default true).
    pub fn smtputf8(mut self, on: bool) -> Self {
        self.config.smtputf8 = on;
        self
    }
    /// Accept and advertise 8BITMIME (default true).
    pub fn eight_bit_mime(mut self, on: bool) -> Self {
        self.config.eight_bit_mime = on;
        self
    }
    /// Advertise PIPELINING (default true).
    pub fn pipelining(mut self, on: bool) -> Self {
        self.config.pipelining = on;
        self
    }
    /// Send enhanced status codes (default true).
    pub fn enhanced_status_codes(mut self, on: bool) -> Self {
        self.config.enhanced_status_codes = on;
        self
    }
    /// Certificates for STARTTLS and implicit-TLS listeners (see [`crate::tls::ServerTls`]).
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.config.tls = Some(tls);
        self
    }
    /// Deadline for a TLS handshake (default 30 s).
    pub fn tls_handshake_timeout(mut self, d: Duration) -> Self {
        self.config.tls_handshake_timeout = d;
        self
    }
    /// Serve only EHLO/HELO/NOOP/RSET/QUIT/STARTTLS before TLS (default false).
    pub fn require_tls(mut self, on: bool) -> Self {
        self.config.require_tls = on;
        self
    }
    /// Offer AUTH with these mechanisms (default: none). Credentials go to `Handler::on_auth`.
    pub fn auth_mechanisms(mut self, mechanisms: &[Mechanism]) -> Self {
        self.config.auth_mechanisms = mechanisms.to_vec();
        self
    }
    /// Offer AUTH without TLS (default false).
    pub fn allow_insecure_auth(mut self, on: bool) -> Self {
        self.config.allow_insecure_auth = on;
        self
    }
    /// Refuse MAIL before AUTH with `530 5.7.0` (default false).
    pub fn require_auth(mut self, on: bool) -> Self {
        self.config.require_auth = on;
        self
    }
    /// Offer CHUNKING/BDAT (RFC 3030; default off).
    pub fn chunking(mut self, on: bool) -> Self {
        self.config.chunking = on;
        self
    }
    /// Offer BINARYMIME (needs chunking; default off).
    pub fn binary_mime(mut self, on: bool) -> Self {
        self.config.binary_mime = on;
        self
    }
    /// Offer DSN and parse RET, ENVID, NOTIFY, ORCPT (RFC 3461; default off).
    pub fn dsn(mut self, on: bool) -> Self {
        self.config.dsn = on;
        self
    }
    /// Most sessions from one client (default 50), counted by address prefix (see
    /// [`ServerBuilder::per_ip_prefix_v6`]).
    pub fn max_sessions_per_ip(mut self, n: usize) -> Self {
        self.config.max_sessions_per_ip = n;
        self
    }
    /// Delay the greeting; early talkers get `554 5.5.0` (default: no delay).
    pub fn greeting_delay(mut self, d: Option<Duration>) -> Self {
        self.config.greeting_delay = d;
        self
    }
    /// Deadline for a PROXY protocol header (default 5 s).
    pub fn proxy_timeout(mut self, d: Duration) -> Self {
        self.config.proxy_timeout = d;
        self
    }
    /// Balancers trusted to send PROXY headers, as addresses or CIDR networks. A PROXY
    /// listener needs this (default: none, and binding one is an error).
    pub fn proxy_trusted(mut self, nets: &[&str]) -> Self {
        self.config.proxy_trusted = nets.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Accept PROXY headers from any sender (default false). Only where nothing but the
    /// balancer can reach the listener; see [`ServerConfig::dangerous_proxy_trust_any`].
    pub fn dangerous_proxy_trust_any(mut self, on: bool) -> Self {
        self.config.dangerous_proxy_trust_any = on;
        self
    }
    /// Prefix length by which per-address limits count IPv4 clients (default 32).
    pub fn per_ip_prefix_v4(mut self, bits: u8) -> Self {
        self.config.per_ip_prefix_v4 = bits;
        self
    }
    /// Prefix length by which per-address limits count IPv6 clients (default 64: one host
    /// usually holds a whole /64).
    pub fn per_ip_prefix_v6(mut self, bits: u8) -> Self {
        self.config.per_ip_prefix_v6 = bits;
        self
    }
    /// Commands that move no mail allowed before `421` (default 100; reset by each accepted
    /// message). See [`ServerConfig::max_junk_commands`].
    pub fn max_junk_commands(mut self, n: usize) -> Self {
        self.config.max_junk_commands = n;
        self
    }
    /// Longest a session may last (default 1 hour).
    pub fn max_session_duration(mut self, d: Duration) -> Self {
        self.config.max_session_duration = d;
        self
    }
    /// Replaces the whole configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration so far.
    pub fn config_ref(&self) -> &ServerConfig {
        &self.config
    }

    /// Checks the configuration and binds the first listener (port 0 picks a free port; see
    /// [`Server::local_addr`]). LMTP on port 25 is refused (RFC 2033 §5).
    pub fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        self.bind_with(addr, ListenerOptions::default())
    }

    /// Like [`ServerBuilder::bind`], with options for this first listener (PROXY protocol,
    /// implicit TLS, protocol).
    pub fn bind_with(
        self,
        addr: impl ToSocketAddrs,
        options: ListenerOptions,
    ) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        self.config.validate().map_err(|e| invalid(&e))?;
        let server = Server {
            listeners: Vec::new(),
            config: Arc::new(self.config),
        };
        server.listen(&addrs[..], options)
    }
}

impl Server {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Adds a listener with its own options (implicit TLS, PROXY protocol, SMTP or LMTP).
    pub fn listen(
        mut self,
        addr: impl ToSocketAddrs,
        options: ListenerOptions,
    ) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let protocol = options.protocol.unwrap_or(self.config.protocol);
        if protocol == Protocol::Lmtp && addrs.iter().any(|a| a.port() == 25) {
            return Err(invalid(
                "LMTP must not be offered on port 25 (RFC 2033 section 5)",
            ));
        }
        if options.implicit_tls && self.config.tls.is_none() {
            return Err(invalid(
                "an implicit-TLS listener needs a TLS configuration",
            ));
        }
        if options.proxy_protocol
            && self.config.proxy_trusted.is_empty()
            && !self.config.dangerous_proxy_trust_any
        {
            return Err(invalid(
                "a PROXY protocol listener needs proxy_trusted (the balancers' addresses or \
                 networks); whoever may send a PROXY header chooses the client address",
            ));
        }
        let listener = TcpListener::bind(&addrs[..])?;
        let addr = listener.local_addr()?;
        self.listeners.push(Bound {
            listener,
            addr,
            options,
        });
        Ok(self)
    }

    /// Adds a listener whose connections start with a TLS handshake before the greeting
    /// (implicit TLS, port 465 style, RFC 8314). Needs [`ServerBuilder::tls`].
    pub fn bind_implicit_tls(self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        self.listen(
            addr,
            ListenerOptions {
                implicit_tls: true,
                ..Default::default()
            },
        )
    }

    /// The first listener's address (tells the port after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners
            .first()
            .map(|b| b.addr)
            .unwrap_or_else(|| ([0, 0, 0, 0], 0).into())
    }

    /// Every listener's address, in the order they were bound.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|b| b.addr).collect()
    }

    /// The configuration in force.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Starts one accepting thread per listener and returns a handle. `factory` builds one
    /// handler per connection; all listeners share it and one pool of `max_sessions` workers.
    pub fn spawn<H, F>(self, factory: F) -> io::Result<ServerHandle>
    where
        H: Handler + 'static,
        F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared::default());
        let addrs = self.local_addrs();
        let pool = ThreadPool::with_name("smtpkit-session".into(), self.config.max_sessions);
        let factory = Arc::new(factory);
        let next_id = Arc::new(AtomicU64::new(1));
        let mut threads = Vec::new();
        for (index, bound) in self.listeners.into_iter().enumerate() {
            let acceptor = Acceptor {
                bound,
                index,
                cfg: Arc::clone(&self.config),
                shared: Arc::clone(&shared),
                pool: pool.clone(),
                factory: Arc::clone(&factory),
                next_id: Arc::clone(&next_id),
            };
            let t = thread::Builder::new()
                .name(format!("smtpkit-accept-{index}"))
                .spawn(move || acceptor.run());
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let handle = ServerHandle {
                        shared,
                        addrs,
                        threads: Mutex::new(threads),
                    };
                    handle.shutdown(Duration::ZERO);
                    return Err(e);
                }
            }
        }
        Ok(ServerHandle {
            shared,
            addrs,
            threads: Mutex::new(threads),
        })
    }

    /// Runs the server until it is shut down (which, without a handle, is never): `spawn`
    /// then [`ServerHandle::join`].
    pub fn serve<H, F>(self, factory: F) -> io::Result<()>
    where
        H: Handler + 'static,
        F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
    {
        self.spawn(factory)?.join();
        Ok(())
    }
}

/// One listener's accept loop.
struct Acceptor<F> {
    bound: Bound,
    index: usize,
    cfg: Arc<ServerConfig>,
    shared: Arc<Shared>,
    pool: ThreadPool,
    factory: Arc<F>,
    next_id: Arc<AtomicU64>,
}

impl<F> Acceptor<F> {
    fn run<H>(self)
    where
        H: Handler + 'static,
        F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
    {
        let (cfg, shared) = (&self.cfg, &self.shared);
        let mut backoff = Duration::from_millis(10);
        debug!(
            "listening on {} ({:?}{})",
            self.bound.addr,
            cfg.protocol,
            if self.bound.options.implicit_tls {
                ", implicit TLS"
            } else {
                ""
            }
        );
        loop {
            let (stream, peer) = match self.bound.listener.accept() {
                Ok(v) => v,
                Err(_) if shared.shutting_down() => break,
                Err(e) => {
                    use io::ErrorKind::*;
                    if matches!(
                        e.kind(),
                        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
                    ) {
                        continue;
                    }
                    // EMFILE, ENFILE, ENOBUFS...: wait for resources instead of spinning.
                    warn!("accept failed: {e}; retrying in {backoff:?}");
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            backoff = Duration::from_millis(10);
            if shared.shutting_down() {
                break;
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (slot_stream, local) = match (stream.try_clone(), stream.local_addr()) {
                (Ok(s), Ok(l)) => (s, l),
                (Err(e), _) | (_, Err(e)) => {
                    debug!("{peer}: dropped at accept: {e}");
                    continue;
                }
            };
            let slot = Arc::new(SessionSlot {
                stream: Some(slot_stream),
                idle: Default::default(),
            });
            // Check and register under one lock: listeners on other threads share the cap.
            if !shared.try_register(id, Arc::clone(&slot), cfg.max_sessions) {
                shared.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
                debug!("{peer}: refused, {} sessions live", cfg.max_sessions);
                refuse(stream, self.bound.options.implicit_tls, &Reply::BUSY);
                continue;
            }
            let _ = stream.set_nodelay(true);
            shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
            let opts = self.bound.options;
            let info = ConnInfo {
                id,
                peer,
                local,
                protocol: opts.protocol.unwrap_or(cfg.protocol),
                listener: self.index,
                implicit_tls: opts.implicit_tls,
                proxy: None,
            };
            let (cfg, shared, factory) = (
                Arc::clone(cfg),
                Arc::clone(shared),
                Arc::clone(&self.factory),
            );
            self.pool
                .execute(move || run_session(stream, info, opts, cfg, shared, slot, &*factory));
        }
        debug!("listener on {} stopped", self.bound.addr);
    }
}

/// A worker's job: PROXY header, per-address limit, pregreet test, then the handler and the
/// session.
#[allow(clippy::too_many_arguments)]
fn run_session<H, F>(
    stream: TcpStream,
    mut info: ConnInfo,
    opts: ListenerOptions,
    cfg: Arc<ServerConfig>,
    shared: Arc<Shared>,
    slot: Arc<SessionSlot>,
    factory: &F,
) where
    H: Handler + 'static,
    F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
{
    // Unregister even if something below panics.
    let mut guard = Unregister {
        shared: Arc::clone(&shared),
        id: info.id,
        ip: None,
    };
    let mut conn = Conn::new(stream, cfg.command_timeout);
    let enhanced = cfg.enhanced_status_codes;
    if opts.proxy_protocol {
        match read_proxy_header(&mut conn, &cfg, info.peer) {
            Ok(Some(source)) => {
                info.proxy = Some(info.peer);
                info.peer = source;
            }
            Ok(None) => {}
            Err(e) => {
                debug!("{} session {}: {e}", info.peer, info.id);
                shared.stats.proxy_errors.fetch_add(1, Ordering::Relaxed);
                conn.close();
                return;
            }
        }
    }
    // The per-address limit counts real clients, so it comes after the PROXY header.
    let key = cidr::client_key(info.peer.ip(), cfg.per_ip_prefix_v4, cfg.per_ip_prefix_v6);
    if !shared.try_acquire_ip(key, cfg.max_sessions_per_ip) {
        shared.stats.refused_per_ip.fetch_add(1, Ordering::Relaxed);
        debug!(
            "{} session {}: refused, too many connections from this address",
            info.peer, info.id
        );
        if !opts.implicit_tls {
            session_io::queue(&mut conn, &Reply::TOO_MANY_FROM_ADDRESS, enhanced);
        }
        conn.close();
        return;
    }
    guard.ip = Some(key);
    if let (Some(delay), false) = (cfg.greeting_delay, opts.implicit_tls) {
        // Postfix's pregreet test: a client that talks before the greeting is not SMTP.
        let early = !conn.buffered().is_empty() || conn.fill(deadline_in(delay)).is_ok();
        if early {
            shared.stats.pregreet.fetch_add(1, Ordering::Relaxed);
            debug!(
                "{} session {}: talked before the greeting",
                info.peer, info.id
            );
            session_io::queue(&mut conn, &Reply::PREGREET, enhanced);
            conn.close();
            return;
        }
    }
    let handler = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| factory(&info))) {
        Ok(h) => h,
        Err(_) => {
            warn!(
                "{} session {}: handler factory panicked",
                info.peer, info.id
            );
            shared.stats.handler_panics.fetch_add(1, Ordering::Relaxed);
            if !info.implicit_tls {
                session_io::queue(&mut conn, &Reply::INTERNAL_ERROR_CLOSING, enhanced);
            }
            conn.close();
            return;
        }
    };
    Session::new(conn, cfg, shared, slot, info, handler).run();
}

/// Reads the PROXY header (bounded in size and time) from a trusted balancer. `Ok(None)`:
/// a LOCAL/UNKNOWN header (health check): keep the connection's own addresses.
fn read_proxy_header(
    conn: &mut Conn,
    cfg: &ServerConfig,
    balancer: SocketAddr,
) -> Result<Option<SocketAddr>, String> {
    let trusted = cfg.dangerous_proxy_trust_any || cidr::in_any(balancer.ip(), &cfg.proxy_trusted);
    if !trusted {
        return Err(format!("PROXY header from untrusted address {balancer}"));
    }
    let deadline = deadline_in(cfg.proxy_timeout);
    loop {
        match proxy::parse(conn.buffered()) {
            Ok(Some((header, n))) => {
                conn.consume(n);
                return Ok(match header {
                    proxy::ProxyHeader::Tcp { source, .. } => Some(source),
                    proxy::ProxyHeader::Local => None,
                });
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        conn.fill(deadline)
            .map_err(|e| format!("reading the PROXY header: {e}"))?;
    }
}

/// Releases a session's registry slot and per-address count, whatever happens.
struct Unregister {
    shared: Arc<Shared>,
    id: u64,
    ip: Option<IpAddr>,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            self.shared.release_ip(ip);
        }
        self.shared.unregister(self.id);
    }
}

/// Answers (`421 4.7.0`) without ever blocking the listener, and closes. On an implicit-TLS
/// listener there is no way to answer before a handshake, so the connection is just closed.
fn refuse(stream: TcpStream, implicit_tls: bool, reply: &Reply) {
    if !implicit_tls && stream.set_nonblocking(true).is_ok() {
        let mut s = &stream;
        let _ = s.write_all(&reply.to_bytes());
    }
}

/// A running server: counters, shutdown and join.
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ServerHandle {
    /// The first listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs
            .first()
            .copied()
            .unwrap_or_else(|| ([0, 0, 0, 0], 0).into())
    }

    /// Every listener's address, in the order they were bound.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.snapshot()
    }

    /// Stops accepting, lets sessions finish their current transaction, answers `421 4.3.2`
    /// and closes; sessions still busy after `grace` are cut off the same way. Returns when
    /// every session has ended (or a few seconds after `grace` if one is stuck in a handler).
    /// Safe to call from any thread, more than once.
    pub fn shutdown(&self, grace: Duration) {
        self.shared.begin_shutdown(false);
        for addr in &self.addrs {
            wake_listener(*addr);
        }
        self.join_listeners();
        if !self.shared.wait_empty(deadline_in(grace)) {
            self.shared.begin_shutdown(true);
            self.shared
                .wait_empty(Instant::now() + Duration::from_secs(5));
        }
    }

    /// Waits until the server has stopped: the listeners ended (after
    /// [`ServerHandle::shutdown`] from another thread) and every session is over.
    pub fn join(&self) {
        self.join_listeners();
        while !self
            .shared
            .wait_empty(Instant::now() + Duration::from_secs(3600))
        {}
    }

    fn join_listeners(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// `accept` blocks; a connection to ourselves wakes it to see the flag.
fn wake_listener(mut addr: SocketAddr) {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
}
