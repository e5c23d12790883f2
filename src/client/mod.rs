//! The SMTP/LMTP client: send through a relay or straight to a domain's MX hosts, over TLS,
//! with AUTH, pipelining, and a result for every recipient.
//!
//! ```no_run
//! use smtpkit::client::{Client, Email, Options, TlsMode};
//!
//! let client = Client::new(Options::relay("smtp.example.org:587").tls(TlsMode::Required).login("alice", "s3cret"))?;
//! let email = Email::new("alice@example.org", &["bob@example.net"], "Subject: hi\r\n\r\nHello Bob\r\n")?;
//! let receipt = client.send(&email)?;
//! for r in &receipt.recipients {
//!     println!("{} {}", r.mailbox, r.reply);
//! }
//! # Ok::<(), smtpkit::client::Error>(())
//! ```
//!
//! Routing is explicit: [`Options::relay`] connects to exactly that host; [`Options::mx`]
//! looks up the domain's MX hosts (then A/AAAA) and tries them in preference order. Each host
//! gets `retries + 1` attempts on transient failures; a permanent failure stops at once; an
//! opportunistic STARTTLS that fails is retried on the same host without TLS. A connection lost
//! after the final dot is [`ErrorKind::StatusUnknown`] and never retried.

mod conn;
mod email;
mod error;
pub mod mx;
mod options;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use log::debug;

pub use conn::Connection;
pub use email::{Email, Receipt, RecipientResult, Status};
pub use error::{Error, ErrorKind};
pub use options::{
    AuthPolicy, Direction, Login, OnError, Options, Route, Timeouts, TlsMode, Transcript,
};

/// One host to try: its name (for TLS verification and logs) and addresses.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    addrs: Vec<SocketAddr>,
}

/// Sends mail as its [`Options`] say. Cheap to clone; one client can send from many threads.
#[derive(Debug, Clone)]
pub struct Client {
    opts: Arc<Options>,
    /// Built once so TLS sessions can be resumed.
    tls_config: Option<Arc<rustls::ClientConfig>>,
}

/// Splits `host[:port]` / `[v6]:port`.
fn split_host_port(s: &str, default: u16) -> Result<(String, u16), Error> {
    let bad = || Error::new(ErrorKind::InvalidInput, format!("bad relay address {s:?}"));
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        _ => Ok((s.to_string(), default)),
    }
}

impl Client {
    /// Checks the options and builds the TLS configuration. Credentials with TLS `Never`
    /// (and no `allow_insecure_auth`) are refused here, before anything is sent.
    pub fn new(opts: Options) -> Result<Client, Error> {
        if opts.login.is_some()
            && opts.tls == TlsMode::Never
            && !opts.allow_insecure_auth
            && opts.auth != AuthPolicy::Never
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "credentials would be sent without TLS: use a TLS mode or allow_insecure_auth",
            ));
        }
        let tls_config = match opts.tls {
            TlsMode::Never => None,
            _ => Some(opts.trust.client_config().map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("TLS configuration: {e}"))
                    .with_source(e)
            })?),
        };
        Ok(Client {
            opts: Arc::new(opts),
            tls_config,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Where to connect, in order.
    fn targets(&self) -> Result<Vec<Target>, Error> {
        let port = self.opts.default_port();
        match &self.opts.route {
            Route::Relay(r) => {
                let (host, port) = split_host_port(r, port)?;
                let addrs: Vec<SocketAddr> = (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| {
                        Error::new(ErrorKind::Dns, format!("resolving {host}: {e}")).with_source(e)
                    })?
                    .collect();
                Ok(vec![Target { name: host, addrs }])
            }
            Route::Mx(domain) => {
                let hosts = mx::resolve_mx(domain, &self.opts.dns).map_err(|e| {
                    let perm = if e.is_permanent() { " (permanent)" } else { "" };
                    Error::new(ErrorKind::Dns, format!("MX lookup for {domain}: {e}{perm}"))
                        .with_source(e)
                })?;
                Ok(hosts
                    .into_iter()
                    .map(|h| Target {
                        addrs: h
                            .addrs
                            .iter()
                            .map(|ip| SocketAddr::new(*ip, port))
                            .collect(),
                        name: h.name,
                    })
                    .collect())
            }
        }
    }

    /// Opens a connection to the first host that answers, with the same failover rules as
    /// [`Client::send`].
    pub fn connect(&self) -> Result<Connection, Error> {
        self.with_failover(Ok)
    }

    /// Sends one message (one connection, closed afterwards).
    pub fn send(&self, email: &Email) -> Result<Receipt, Error> {
        self.with_failover(|mut c| {
            let r = c.deliver(email);
            c.close();
            r
        })
    }

    /// Sends on a new thread and calls `done` with the result (gen_smtp's `send/3`).
    pub fn send_background<F>(&self, email: Email, done: F) -> JoinHandle<()>
    where
        F: FnOnce(Result<Receipt, Error>) + Send + 'static,
    {
        let client = self.clone();
        thread::spawn(move || done(client.send(&email)))
    }

    /// Sends on a new thread; `join` the handle for the result.
    pub fn spawn_send(&self, email: Email) -> JoinHandle<Result<Receipt, Error>> {
        let client = self.clone();
        thread::spawn(move || client.send(&email))
    }

    /// Tries hosts in order, each `retries + 1` times, running `f` on each opened connection.
    fn with_failover<T>(&self, f: impl Fn(Connection) -> Result<T, Error>) -> Result<T, Error> {
        let targets = self.targets()?;
        let mut last = Error::new(ErrorKind::Dns, "no host to deliver to");
        for t in &targets {
            let mut tls = self.opts.tls;
            let mut attempt = 0;
            while attempt <= self.opts.retries {
                let result = Connection::open_to(
                    &t.name,
                    &t.addrs,
                    &self.opts,
                    tls,
                    self.tls_config.clone(),
                )
                .and_then(&f);
                let e = match result {
                    Ok(v) => return Ok(v),
                    Err(e) => e,
                };
                debug!(target: "smtpkit::client", "{}: attempt {} failed: {e}", t.name, attempt + 1);
                match e.kind() {
                    ErrorKind::Tls if tls == TlsMode::Opportunistic => {
                        // Opportunistic TLS must not make delivery worse than no TLS.
                        tls = TlsMode::Never;
                        last = e;
                        continue;
                    }
                    ErrorKind::StatusUnknown
                    | ErrorKind::InvalidInput
                    | ErrorKind::MissingRequirement => return Err(e),
                    _ if e.is_permanent() => return Err(e),
                    _ => {}
                }
                last = e;
                attempt += 1;
            }
        }
        Err(last)
    }
}

/// A small pool of open connections for programs that send steadily: an idle connection is
/// checked with NOOP before it is reused, and a broken one replaced.
#[derive(Debug)]
pub struct Pool {
    client: Client,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl Pool {
    /// A pool keeping at most `max_idle` idle connections.
    pub fn new(client: Client, max_idle: usize) -> Pool {
        Pool {
            client,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    fn take(&self) -> Option<Connection> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// Sends one message over a pooled connection (opening one when none is idle and alive).
    pub fn send(&self, email: &Email) -> Result<Receipt, Error> {
        let mut conn = loop {
            match self.take() {
                Some(mut c) => {
                    if c.noop().is_ok() {
                        break c;
                    }
                    c.close();
                }
                None => break self.client.connect()?,
            }
        };
        let result = conn.deliver(email);
        let reusable = conn.is_open() && (result.is_ok() || conn.reset().is_ok());
        if reusable {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.max_idle {
                idle.push(conn);
                return result;
            }
        }
        conn.close();
        result
    }

    /// Closes every idle connection (QUIT).
    pub fn close(&self) {
        let conns = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for c in conns {
            c.close();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.close();
    }
}
