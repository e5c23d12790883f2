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

mod config;
mod handler;
mod reader;
mod session;
mod shared;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use threadpool::ThreadPool;

pub use crate::data::BareLinePolicy;
pub use crate::stream::{RecvError, SendError};
pub use config::{Protocol, ServerConfig, default_hostname};
pub use handler::{
    Body, ConnInfo, Envelope, ErrorAction, Greeting, Handler, MailParams, Phase, Recipient,
    SessionError, collect,
};
pub use shared::Stats;

use crate::reply::Reply;
use crate::stream::Conn;
use session::Session;
use shared::{SessionSlot, Shared};

/// Entry point: `Server::builder()`.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: Arc<ServerConfig>,
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
    /// Most sessions at once, and the pool size (default 128).
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
    /// Replaces the whole configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration so far.
    pub fn config_ref(&self) -> &ServerConfig {
        &self.config
    }

    /// Checks the configuration and binds the listener (port 0 picks a free port; see
    /// [`Server::local_addr`]). LMTP on port 25 is refused (RFC 2033 §5).
    pub fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        let c = &self.config;
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        if c.protocol == Protocol::Lmtp && addrs.iter().any(|a| a.port() == 25) {
            return Err(invalid(
                "LMTP must not be offered on port 25 (RFC 2033 section 5)",
            ));
        }
        if c.max_sessions == 0 || c.max_line_length < 64 || c.max_recipients == 0 {
            return Err(invalid(
                "max_sessions and max_recipients must be positive, max_line_length at least 64",
            ));
        }
        if c.hostname.is_empty() || c.hostname.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(invalid("hostname must be non-empty printable ASCII"));
        }
        if c.command_timeout.is_zero() || c.data_block_timeout.is_zero() || c.data_timeout.is_zero()
        {
            return Err(invalid("timeouts must be positive"));
        }
        let listener = TcpListener::bind(&addrs[..])?;
        let local_addr = listener.local_addr()?;
        Ok(Server {
            listener,
            local_addr,
            config: Arc::new(self.config),
        })
    }
}

impl Server {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The address the listener is bound to (tells the port after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configuration in force.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Starts the listener on its own thread and returns a handle. `factory` builds one
    /// handler per connection.
    pub fn spawn<H, F>(self, factory: F) -> io::Result<ServerHandle>
    where
        H: Handler + 'static,
        F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared::default());
        let local_addr = self.local_addr;
        let s2 = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("smtpkit-accept".into())
            .spawn(move || self.accept_loop(s2, Arc::new(factory)))?;
        Ok(ServerHandle {
            shared,
            local_addr,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs the listener on this thread until the process ends.
    pub fn serve<H, F>(self, factory: F) -> io::Result<()>
    where
        H: Handler + 'static,
        F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
    {
        self.accept_loop(Arc::new(Shared::default()), Arc::new(factory));
        Ok(())
    }

    fn accept_loop<H, F>(self, shared: Arc<Shared>, factory: Arc<F>)
    where
        H: Handler + 'static,
        F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
    {
        let cfg = self.config;
        let pool = ThreadPool::with_name("smtpkit-session".into(), cfg.max_sessions);
        let next_id = AtomicU64::new(1);
        let mut backoff = Duration::from_millis(10);
        info!("listening on {} ({:?})", self.local_addr, cfg.protocol);
        loop {
            let (stream, peer) = match self.listener.accept() {
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
            if shared.live() >= cfg.max_sessions {
                shared.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
                debug!("{peer}: refused, {} sessions live", cfg.max_sessions);
                refuse_busy(stream);
                continue;
            }
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let (slot_stream, local) = match (stream.try_clone(), stream.local_addr()) {
                (Ok(s), Ok(l)) => (s, l),
                (Err(e), _) | (_, Err(e)) => {
                    debug!("{peer}: dropped at accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let slot = Arc::new(SessionSlot {
                stream: slot_stream,
                idle: Default::default(),
            });
            shared.register(id, Arc::clone(&slot));
            shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
            let (cfg, shared, factory) =
                (Arc::clone(&cfg), Arc::clone(&shared), Arc::clone(&factory));
            pool.execute(move || {
                let info = ConnInfo {
                    id,
                    peer,
                    local,
                    protocol: cfg.protocol,
                };
                // Unregister even if something below panics.
                let _guard = Unregister(Arc::clone(&shared), id);
                let handler =
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| factory(&info)))
                    {
                        Ok(h) => h,
                        Err(_) => {
                            warn!("{peer} session {id}: handler factory panicked");
                            shared.stats.handler_panics.fetch_add(1, Ordering::Relaxed);
                            let mut s = stream;
                            let _ = s.write_all(
                                &Reply::with(421, (4, 3, 0), "Internal error").to_bytes(),
                            );
                            return;
                        }
                    };
                let conn = Conn::new(stream, cfg.command_timeout, cfg.enhanced_status_codes);
                Session::new(
                    conn,
                    Arc::clone(&cfg),
                    Arc::clone(&shared),
                    slot,
                    info,
                    handler,
                )
                .run();
            });
        }
        debug!("listener on {} stopped", self.local_addr);
    }
}

struct Unregister(Arc<Shared>, u64);

impl Drop for Unregister {
    fn drop(&mut self) {
        self.0.unregister(self.1);
    }
}

/// Answers `421 4.7.0` without ever blocking the listener, and closes.
fn refuse_busy(stream: TcpStream) {
    if stream.set_nonblocking(true).is_ok() {
        let mut s = &stream;
        let _ = s.write_all(&Reply::BUSY.to_bytes());
    }
}

/// A running server: counters, shutdown and join.
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ServerHandle {
    /// The listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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
        self.wake_listener();
        self.join_listener();
        if !self.shared.wait_empty(Instant::now() + grace) {
            self.shared.begin_shutdown(true);
            self.shared
                .wait_empty(Instant::now() + Duration::from_secs(5));
        }
    }

    /// Waits until the server has stopped: the listener ended (after
    /// [`ServerHandle::shutdown`] from another thread) and every session is over.
    pub fn join(&self) {
        self.join_listener();
        while !self
            .shared
            .wait_empty(Instant::now() + Duration::from_secs(3600))
        {}
    }

    fn join_listener(&self) {
        let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = t {
            let _ = t.join();
        }
    }

    /// `accept` blocks; a connection to ourselves wakes it to see the flag.
    fn wake_listener(&self) {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    }
}
