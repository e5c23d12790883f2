//! The SMTP/LMTP server: a builder, a blocking listener that hands each connection to a
//! thread per session (started on demand), and a handle to watch and stop it.
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

mod builder;
mod cidr;
mod config;
mod handle;
mod handler;
mod listener;
pub mod params;
mod pool;
pub mod proxy;
mod reader;
pub mod script;
mod session;
mod session_io;
#[cfg(test)]
mod session_tests;
mod shared;

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub use crate::data::BareLinePolicy;
pub use crate::stream::{HandshakeError, RecvError, SendError};
pub use builder::ServerBuilder;
pub use config::{MAX_SESSIONS_LIMIT, Protocol, ServerConfig, default_hostname};
pub use handle::ServerHandle;
pub use handler::{
    Body, ConnInfo, Envelope, ErrorAction, Greeting, Handler, MailParams, Phase, Recipient,
    SessionError, collect,
};
pub use shared::Stats;

use builder::invalid;
use listener::Acceptor;
use pool::Pool;
use shared::Shared;

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
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub implicit_tls: bool,
    /// Expect a PROXY protocol header (v1 or v2) from a load balancer first.
    pub proxy_protocol: bool,
    /// SMTP or LMTP on this listener (default: the server's).
    pub protocol: Option<Protocol>,
}

impl ListenerOptions {
    /// Whether connections start with a TLS handshake (always false without `tls`).
    pub(crate) fn implicit_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.implicit_tls;
        #[cfg(not(feature = "tls"))]
        false
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
        if options.implicit_tls() && !self.config.tls_offered() {
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
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
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
        let pool = Pool::new(
            "smtpkit-session",
            self.config.min_threads,
            self.config.thread_idle_timeout,
        );
        pool.start()?;
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
                        pool,
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
            pool,
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
