//! The accept loop (one thread per listener) and the worker that runs each accepted
//! connection on a pool thread: PROXY header, per-client limit, pregreet test, handler, session.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use log::{debug, warn};

use super::pool::Pool;
use super::session::Session;
use super::session_io;
use super::shared::{SessionSlot, Shared};
use super::{Bound, ConnInfo, Handler, ListenerOptions, ServerConfig, cidr, proxy};
use crate::reply::Reply;
use crate::stream::{Conn, deadline_in};

/// One listener's accept loop.
pub(super) struct Acceptor<F> {
    pub(super) bound: Bound,
    pub(super) index: usize,
    pub(super) cfg: Arc<ServerConfig>,
    pub(super) shared: Arc<Shared>,
    pub(super) pool: Pool,
    pub(super) factory: Arc<F>,
    pub(super) next_id: Arc<AtomicU64>,
}

impl<F> Acceptor<F> {
    pub(super) fn run<H>(self)
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
            if self.bound.options.implicit_tls() {
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
            // A listener bound to one address accepts on that address only: no getsockname.
            let local = match self.bound.addr.ip().is_unspecified() {
                true => stream.local_addr(),
                false => Ok(self.bound.addr),
            };
            let local = match local {
                Ok(l) => l,
                Err(e) => {
                    debug!("{peer}: dropped at accept: {e}");
                    continue;
                }
            };
            let stream = Arc::new(stream);
            let slot = Arc::new(SessionSlot {
                stream: Some(Arc::clone(&stream)),
                idle: Default::default(),
            });
            // Check and register under one lock: listeners on other threads share the cap.
            if !shared.try_register(id, Arc::clone(&slot), cfg.max_sessions) {
                shared.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
                debug!("{peer}: refused, {} sessions live", cfg.max_sessions);
                refuse(&stream, self.bound.options.implicit_tls(), &Reply::BUSY);
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
                implicit_tls: opts.implicit_tls(),
                proxy: None,
            };
            let (cfg, shared, factory) = (
                Arc::clone(cfg),
                Arc::clone(shared),
                Arc::clone(&self.factory),
            );
            let slot_for_refusal = Arc::clone(&slot);
            let worker = Worker {
                stream,
                info,
                opts,
                cfg,
                shared,
                slot,
                factory,
            };
            if let Err(e) = self.pool.execute(move || worker.run()) {
                // No thread for it (the system refused one): the client is told to come back.
                warn!("{peer}: no thread for a session: {e}");
                self.shared
                    .stats
                    .refused_busy
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(s) = &slot_for_refusal.stream {
                    refuse(s, self.bound.options.implicit_tls(), &Reply::BUSY);
                }
                self.shared.unregister(id);
            }
        }
        debug!("listener on {} stopped", self.bound.addr);
    }
}

/// One accepted connection, handed to a pool thread: everything its session needs.
struct Worker<F> {
    stream: Arc<TcpStream>,
    info: ConnInfo,
    opts: ListenerOptions,
    cfg: Arc<ServerConfig>,
    shared: Arc<Shared>,
    slot: Arc<SessionSlot>,
    factory: Arc<F>,
}

impl<F> Worker<F> {
    /// The worker's job: PROXY header, per-client limit, pregreet test, then the handler and
    /// the session.
    fn run<H>(self)
    where
        H: Handler + 'static,
        F: Fn(&ConnInfo) -> H + Send + Sync + 'static,
    {
        let Worker {
            stream,
            mut info,
            opts,
            cfg,
            shared,
            slot,
            factory,
        } = self;
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
            if !opts.implicit_tls() {
                session_io::queue(&mut conn, &Reply::TOO_MANY_FROM_ADDRESS, enhanced);
            }
            conn.close();
            return;
        }
        guard.ip = Some(key);
        if let (Some(delay), false) = (cfg.greeting_delay, opts.implicit_tls()) {
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
        let handler =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (*factory)(&info))) {
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
fn refuse(stream: &TcpStream, implicit_tls: bool, reply: &Reply) {
    if !implicit_tls && stream.set_nonblocking(true).is_ok() {
        let mut s = stream;
        let _ = s.write_all(&reply.to_bytes());
    }
}
