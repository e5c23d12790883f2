//! State shared by the listener, the sessions and the handle: counters, the shutdown flag and
//! the registry of live sessions (so a shutdown can wake idle ones).

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::handler::SessionError;

/// Live counters; read a snapshot with [`ServerHandle::stats`](super::ServerHandle::stats).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_busy: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) messages_rejected: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) closed_early: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
    pub(crate) tls_handshakes: AtomicU64,
    pub(crate) tls_failures: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) refused_per_ip: AtomicU64,
    pub(crate) pregreet: AtomicU64,
    pub(crate) proxy_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn count_error(&self, e: &SessionError) {
        let c = match e {
            SessionError::Timeout(_) | SessionError::SessionTooLong => &self.timeouts,
            SessionError::Closed(_)
            | SessionError::Reset(_)
            | SessionError::Send(_)
            | SessionError::Recv(..) => &self.closed_early,
            SessionError::HandlerPanic { .. } => &self.handler_panics,
            SessionError::TlsHandshake(_) => &self.tls_failures,
            SessionError::AuthFailed(_) => &self.auth_failures,
            _ => &self.protocol_errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sessions running now.
    pub sessions: u64,
    /// Connections accepted into a session.
    pub accepted: u64,
    /// Connections refused with `421 4.7.0` because the session cap was reached.
    pub refused_busy: u64,
    /// Messages accepted (a `250` after DATA; in LMTP, for at least one recipient).
    pub messages: u64,
    /// Message bodies refused (by a limit, the bare-line policy or the handler).
    pub messages_rejected: u64,
    /// Octets received by finished sessions.
    pub bytes_received: u64,
    /// Sessions ended by a deadline.
    pub timeouts: u64,
    /// Sessions whose peer vanished (closed, reset, failed write) other than after QUIT.
    pub closed_early: u64,
    /// Protocol errors answered (syntax, sequence, long lines, rejected bodies...).
    pub protocol_errors: u64,
    /// Handler panics caught.
    pub handler_panics: u64,
    /// TLS handshakes completed (STARTTLS and implicit).
    pub tls_handshakes: u64,
    /// TLS handshakes failed.
    pub tls_failures: u64,
    /// AUTH attempts refused.
    pub auth_failures: u64,
    /// Connections refused by the per-address limit.
    pub refused_per_ip: u64,
    /// Clients that talked before the greeting (with a greeting delay).
    pub pregreet: u64,
    /// Connections closed for a missing, malformed, slow or untrusted PROXY header.
    pub proxy_errors: u64,
}

/// What the registry keeps of a live session.
#[derive(Debug)]
pub(crate) struct SessionSlot {
    /// A handle on the session's socket, to wake its read at shutdown (none in memory).
    pub(crate) stream: Option<TcpStream>,
    /// The session is waiting for a command outside any transaction.
    pub(crate) idle: AtomicBool,
}

impl SessionSlot {
    /// Ends the session's pending read, so it sees the shutdown flag.
    fn wake(&self) {
        if let Some(s) = &self.stream {
            let _ = s.shutdown(Shutdown::Read);
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    shutdown: AtomicBool,
    pub(crate) stats: Counters,
    sessions: Mutex<HashMap<u64, std::sync::Arc<SessionSlot>>>,
    per_ip: Mutex<HashMap<std::net::IpAddr, usize>>,
    ended: Condvar,
}

impl Shared {
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, std::sync::Arc<SessionSlot>>> {
        // A poisoned lock only means a panic elsewhere; the map itself is still sound.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn live(&self) -> usize {
        self.lock().len()
    }

    /// Registers a session unless `max` are live already; false when refused.
    pub(crate) fn try_register(
        &self,
        id: u64,
        slot: std::sync::Arc<SessionSlot>,
        max: usize,
    ) -> bool {
        let mut map = self.lock();
        if map.len() >= max {
            return false;
        }
        map.insert(id, slot);
        true
    }

    /// Counts a session for `ip` unless `max` are live from it already.
    pub(crate) fn try_acquire_ip(&self, ip: std::net::IpAddr, max: usize) -> bool {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    pub(crate) fn release_ip(&self, ip: std::net::IpAddr) {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }

    pub(crate) fn unregister(&self, id: u64) {
        let mut map = self.lock();
        map.remove(&id);
        if map.is_empty() {
            self.ended.notify_all();
        }
    }

    /// Raises the shutdown flag and wakes sessions waiting for a command outside a
    /// transaction: their read ends, they see the flag and answer `421 4.3.2`.
    /// With `all`, every session is woken (the grace period is over).
    pub(crate) fn begin_shutdown(&self, all: bool) {
        self.shutdown.store(true, Ordering::SeqCst);
        for slot in self.lock().values() {
            if all || slot.idle.load(Ordering::SeqCst) {
                slot.wake();
            }
        }
    }

    /// Waits until no session is live or `deadline` passes; true when none is left.
    pub(crate) fn wait_empty(&self, deadline: std::time::Instant) -> bool {
        let mut map = self.lock();
        loop {
            if map.is_empty() {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            // Re-check idle sessions now and then: one may have finished its transaction.
            let wait = (deadline - now).min(std::time::Duration::from_millis(50));
            map = match self.ended.wait_timeout(map, wait) {
                Ok((m, _)) => m,
                Err(p) => p.into_inner().0,
            };
            for slot in map.values() {
                if self.shutting_down() && slot.idle.load(Ordering::SeqCst) {
                    slot.wake();
                }
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let s = &self.stats;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            sessions: self.live() as u64,
            accepted: g(&s.accepted),
            refused_busy: g(&s.refused_busy),
            messages: g(&s.messages),
            messages_rejected: g(&s.messages_rejected),
            bytes_received: g(&s.bytes_received),
            timeouts: g(&s.timeouts),
            closed_early: g(&s.closed_early),
            protocol_errors: g(&s.protocol_errors),
            handler_panics: g(&s.handler_panics),
            tls_handshakes: g(&s.tls_handshakes),
            tls_failures: g(&s.tls_failures),
            auth_failures: g(&s.auth_failures),
            refused_per_ip: g(&s.refused_per_ip),
            pregreet: g(&s.pregreet),
            proxy_errors: g(&s.proxy_errors),
        }
    }
}
