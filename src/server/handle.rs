//! A running server's handle: its addresses, counters, shutdown and join.

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::pool::Pool;
use super::shared::{Shared, Stats};
use crate::stream::deadline_in;

/// A running server: counters, shutdown and join.
///
/// Dropping the handle shuts the server down (with no grace period: sessions get `421 4.3.2`
/// at once) and waits for its sessions to end, so no server thread outlives it; keep the
/// handle for as long as the server should run, or call [`ServerHandle::join`].
#[derive(Debug)]
#[must_use = "dropping the handle shuts the server down"]
pub struct ServerHandle {
    pub(super) shared: Arc<Shared>,
    pub(super) addrs: Vec<SocketAddr>,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(super) pool: Pool,
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

    /// Session threads alive now: [`ServerConfig::min_threads`](super::ServerConfig::min_threads)
    /// start with the server, more on demand (one per concurrent session), and those above
    /// the minimum retire when idle.
    pub fn threads(&self) -> usize {
        self.pool.threads()
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

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if !self.shared.shutting_down() {
            self.shutdown(Duration::ZERO);
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
