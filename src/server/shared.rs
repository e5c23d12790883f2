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
    pub(crate) stream: Option<std::sync::Arc<TcpStream>>,
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
            // No polling: a session that finishes its transaction marks itself idle and then
            // reads the flag (both SeqCst), so either it sees the shutdown and leaves, or
            // begin_shutdown saw it idle and woke it. The last one to leave notifies.
            map = match self.ended.wait_timeout(map, deadline - now) {
                Ok((m, _)) => m,
                Err(p) => p.into_inner().0,
            };
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

impl Stats {
    /// Each counter with its name and help text, in a fixed order: `(name, value, help,
    /// is_gauge)`. `sessions` is a gauge; the others only grow.
    fn fields(&self) -> [(&'static str, u64, &'static str, bool); 16] {
        [
            ("sessions", self.sessions, "Sessions running now.", true),
            (
                "accepted",
                self.accepted,
                "Connections accepted into a session.",
                false,
            ),
            (
                "refused_busy",
                self.refused_busy,
                "Connections refused because the session cap was reached.",
                false,
            ),
            (
                "refused_per_ip",
                self.refused_per_ip,
                "Connections refused by the per-address limit.",
                false,
            ),
            ("messages", self.messages, "Messages accepted.", false),
            (
                "messages_rejected",
                self.messages_rejected,
                "Message bodies refused.",
                false,
            ),
            (
                "bytes_received",
                self.bytes_received,
                "Octets received by finished sessions.",
                false,
            ),
            (
                "timeouts",
                self.timeouts,
                "Sessions ended by a deadline.",
                false,
            ),
            (
                "closed_early",
                self.closed_early,
                "Sessions whose peer vanished other than after QUIT.",
                false,
            ),
            (
                "protocol_errors",
                self.protocol_errors,
                "Protocol errors answered.",
                false,
            ),
            (
                "handler_panics",
                self.handler_panics,
                "Handler panics caught.",
                false,
            ),
            (
                "tls_handshakes",
                self.tls_handshakes,
                "TLS handshakes completed.",
                false,
            ),
            (
                "tls_failures",
                self.tls_failures,
                "TLS handshakes failed.",
                false,
            ),
            (
                "auth_failures",
                self.auth_failures,
                "AUTH attempts refused.",
                false,
            ),
            (
                "pregreet",
                self.pregreet,
                "Clients that talked before the greeting.",
                false,
            ),
            (
                "proxy_errors",
                self.proxy_errors,
                "Connections closed for a bad or untrusted PROXY header.",
                false,
            ),
        ]
    }

    /// The counters in the Prometheus text exposition format (version 0.0.4), each metric
    /// named `<prefix>_<counter>` (`_total` for counters) with its `# HELP` and `# TYPE`
    /// lines, e.g. `smtpkit_messages_total 3` for `to_prometheus("smtpkit")`.
    pub fn to_prometheus(&self, prefix: &str) -> String {
        let mut out = String::new();
        for (name, value, help, gauge) in self.fields() {
            let (metric, kind) = if gauge {
                (format!("{prefix}_{name}"), "gauge")
            } else {
                (format!("{prefix}_{name}_total"), "counter")
            };
            out.push_str(&format!(
                "# HELP {metric} {help}\n# TYPE {metric} {kind}\n{metric} {value}\n"
            ));
        }
        out
    }
}

/// One line of `key=value` pairs separated by spaces, in a fixed order, for logs:
/// `sessions=0 accepted=3 refused_busy=0 ...`.
impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, value, _, _)) in self.fields().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod stats_tests {
    use super::Stats;

    #[test]
    fn key_value_line_and_prometheus_text() {
        let s = Stats {
            sessions: 2,
            accepted: 7,
            messages: 3,
            bytes_received: 1024,
            ..Stats::default()
        };
        assert_eq!(
            s.to_string(),
            "sessions=2 accepted=7 refused_busy=0 refused_per_ip=0 messages=3 \
             messages_rejected=0 bytes_received=1024 timeouts=0 closed_early=0 \
             protocol_errors=0 handler_panics=0 tls_handshakes=0 tls_failures=0 \
             auth_failures=0 pregreet=0 proxy_errors=0"
        );
        let p = s.to_prometheus("smtpkit");
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines.len(), 16 * 3);
        assert_eq!(
            &lines[..6],
            [
                "# HELP smtpkit_sessions Sessions running now.",
                "# TYPE smtpkit_sessions gauge",
                "smtpkit_sessions 2",
                "# HELP smtpkit_accepted_total Connections accepted into a session.",
                "# TYPE smtpkit_accepted_total counter",
                "smtpkit_accepted_total 7",
            ]
        );
        assert!(lines.contains(&"smtpkit_messages_total 3"));
        assert!(lines.contains(&"smtpkit_bytes_received_total 1024"));
        assert!(p.ends_with("smtpkit_proxy_errors_total 0\n"));
    }
}
