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
//! opportunistic STARTTLS whose handshake fails is retried on the same host without TLS. A
//! retry goes only to the recipients deferred so far (4xx): a recipient that has its `250`
//! never gets the message twice, and one whose fate is unknown (the connection was lost after
//! the final dot) is never retried; the [`Receipt`] merges the attempts.
//!
//! # TLS modes
//!
//! | mode | what is verified | falls back to cleartext |
//! |---|---|---|
//! | [`TlsMode::Never`] | nothing (no TLS) | — |
//! | [`TlsMode::Opportunistic`] | nothing is required: the certificate is checked and the result logged and kept in [`Receipt::tls`], but a bad certificate still gets an encrypted session (RFC 7435) | only when STARTTLS is not offered, is refused, or the handshake itself fails |
//! | [`TlsMode::Required`] | the certificate, against [`Options::trust`] and the host name (or [`Options::tls_name`]) | never: no STARTTLS or a bad certificate ends the attempt |
//! | [`TlsMode::Implicit`] | as `Required`, TLS from the first byte (port 465) | never |
//!
//! # Credentials mean authentication
//!
//! With credentials set ([`Options::login`]) a transaction never starts unauthenticated: a
//! server without AUTH, no common mechanism, AUTH impossible without TLS, or every mechanism
//! refused ends the attempt with an error before MAIL ([`AuthPolicy::IfAvailable`] restores
//! the old "authenticate if offered" behaviour, on request only). With credentials and no TLS
//! mode chosen, the mode is `Required`. Credentials are never sent in cleartext unless
//! [`Options::allow_insecure_auth`], nor over TLS whose certificate did not verify unless
//! [`Options::allow_unverified_auth`] (or verification was turned off explicitly with
//! [`ClientTrust::DangerAcceptAnyCertificate`](crate::tls::ClientTrust)).

mod conn;
mod email;
mod error;
#[cfg(feature = "mx")]
#[cfg_attr(docsrs, doc(cfg(feature = "mx")))]
pub mod mx;
mod options;
mod queue;
mod receipt;

use std::net::{SocketAddr, ToSocketAddrs};

use crate::reply::Reply;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use log::{debug, info};

pub use conn::Connection;
use conn::{Peer, TlsSetup};
pub use email::{BodySource, Email, Envelope, FileBody, ReaderBody, Recipient};
pub use error::{Error, ErrorKind};
pub use options::{
    AuthPolicy, Direction, Login, OnError, Options, Route, Timeouts, TlsMode, Transcript,
};
pub use queue::{Delivery, MAX_WORKERS, SendQueue};
pub use receipt::{Outcome, Receipt, RecipientResult, Status, TlsStatus};

/// One host to try: its name (for TLS verification and logs) and addresses.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    addrs: Vec<SocketAddr>,
    /// The name to verify instead of `name` (relay routes with `tls_name`).
    tls_name: Option<String>,
}

impl Target {
    fn peer(&self) -> Peer<'_> {
        Peer {
            host: &self.name,
            addrs: &self.addrs,
            tls_name: self.tls_name.as_deref(),
        }
    }
}

/// Sends mail as its [`Options`] say. Cheap to clone; one client can send from many threads.
#[derive(Debug, Clone)]
pub struct Client {
    opts: Arc<Options>,
    /// Built once so TLS sessions can be resumed.
    tls: Option<Arc<TlsSetup>>,
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
        if opts.wants_auth() && opts.tls_mode() == TlsMode::Never && !opts.allow_insecure_auth {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "credentials would be sent without TLS: use a TLS mode or allow_insecure_auth",
            ));
        }
        if let Some(name) = &opts.tls_name {
            rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("tls_name {name:?} is not a valid TLS server name: {e}"),
                )
            })?;
        }
        let tls = match opts.tls_mode() {
            TlsMode::Never => None,
            _ => {
                let bad = |e: crate::tls::TlsError| {
                    Error::new(ErrorKind::InvalidInput, format!("TLS configuration: {e}"))
                        .with_source(e)
                };
                let verifier = opts.trust.server_verifier().map_err(bad)?;
                let (config, verifies) = match &opts.rustls_config {
                    // The caller's verifier decides (for Required and Implicit).
                    Some(c) => (c.clone(), true),
                    None => (
                        opts.trust
                            .client_config_with(opts.client_identity.as_ref())
                            .map_err(bad)?,
                        opts.trust.verifies(),
                    ),
                };
                Some(Arc::new(TlsSetup {
                    config,
                    verifier,
                    verifies,
                }))
            }
        };
        Ok(Client {
            opts: Arc::new(opts),
            tls,
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
                Ok(vec![Target {
                    name: host,
                    addrs,
                    tls_name: self.opts.tls_name.clone(),
                }])
            }
            #[cfg(feature = "mx")]
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
                        tls_name: None,
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

    /// Sends one message (one connection per attempt, closed afterwards).
    ///
    /// Retries (see [`Options::retries`] and the MX failover) go only to the recipients
    /// deferred so far; the receipt merges the attempts. `Ok` when at least one recipient has
    /// the message; otherwise the last error, with every recipient's result.
    pub fn send(&self, email: &Email) -> Result<Receipt, Error> {
        self.send_envelope(&email.envelope(), &email.message)
    }

    /// Sends one message with a full [`Envelope`] (DSN, extra MAIL and RCPT parameters) and a
    /// body from any [`BodySource`]: bytes, a [`FileBody`] (streamed, reopened for a retry)
    /// or a [`ReaderBody`] (streamed, one attempt only). Otherwise like [`Client::send`].
    pub fn send_envelope(
        &self,
        envelope: &Envelope,
        body: &dyn BodySource,
    ) -> Result<Receipt, Error> {
        let n = envelope.to.len();
        // Each recipient's latest result; `settled` once it is final (delivered, refused for
        // good, or unknown): only the others go into a retry.
        let mut results: Vec<Option<RecipientResult>> = vec![None; n];
        let mut settled = vec![false; n];
        let mut last_error: Option<Error> = None;
        let mut host_of_delivery: Option<(String, Reply, Option<TlsStatus>)> = None;
        // Why opportunistic TLS was given up on, to explain a later failure in cleartext.
        let mut tls_given_up: Option<String> = None;
        let targets = self.targets()?;
        'hosts: for t in &targets {
            let mut tls = self.opts.tls_mode();
            let mut attempt = 0;
            while attempt <= self.opts.retries {
                let todo: Vec<usize> = (0..n).filter(|&i| !settled[i]).collect();
                if todo.is_empty() {
                    break 'hosts;
                }
                let mut sub = envelope.clone();
                sub.to = todo.iter().map(|&i| envelope.to[i].clone()).collect();
                let result = Connection::open_to(t.peer(), &self.opts, tls, self.tls.as_deref())
                    .and_then(|mut c| {
                        let r = c.deliver_envelope(&sub, body);
                        c.close();
                        r
                    });
                let (attempt_results, error) = match result {
                    Ok(receipt) => {
                        if host_of_delivery.is_none() {
                            host_of_delivery = Some((
                                receipt.host.clone(),
                                receipt.reply.clone(),
                                receipt.tls.clone(),
                            ));
                        }
                        (receipt.recipients, None)
                    }
                    Err(e) => (e.recipients().to_vec(), Some(e)),
                };
                let mut some_deferred = false;
                if attempt_results.len() == todo.len() {
                    for (&i, r) in todo.iter().zip(attempt_results) {
                        settled[i] = r.outcome != Outcome::Deferred;
                        some_deferred |= !settled[i];
                        results[i] = Some(r);
                    }
                }
                let Some(e) = error else {
                    // Delivered to some; go on for the deferred ones if attempts remain.
                    attempt += 1;
                    continue;
                };
                debug!(target: "smtpkit::client", "{}: attempt {} failed: {e}", t.name, attempt + 1);
                let kind = e.kind();
                // A permanent error still leaves the recipients it deferred (450 beside 550 at
                // RCPT) worth their retry.
                let stop = matches!(
                    kind,
                    ErrorKind::StatusUnknown
                        | ErrorKind::InvalidInput
                        | ErrorKind::MissingRequirement
                ) || (e.is_permanent() && !some_deferred);
                last_error = Some(e);
                if kind == ErrorKind::Tls && tls == TlsMode::Opportunistic {
                    // The handshake itself failed: opportunistic TLS must not make delivery
                    // worse than no TLS (a certificate that does not verify is no failure).
                    if let Some(e) = &last_error {
                        info!(target: "smtpkit::client", "{e}; trying {} again without TLS", t.name);
                        tls_given_up = Some(e.to_string());
                    }
                    tls = TlsMode::Never;
                    continue;
                }
                if stop {
                    break 'hosts;
                }
                attempt += 1;
            }
        }
        let any_result = results.iter().any(Option::is_some);
        let merged: Vec<RecipientResult> = results.into_iter().flatten().collect();
        if let Some((host, reply, tls)) = host_of_delivery {
            return Ok(Receipt {
                host,
                reply,
                recipients: merged,
                tls,
            });
        }
        let mut e =
            last_error.unwrap_or_else(|| Error::new(ErrorKind::Dns, "no host to deliver to"));
        if let Some(why) = tls_given_up.filter(|_| e.kind() != ErrorKind::Tls) {
            e = e.with_context(&format!(" (without TLS, after {why})"));
        }
        if !any_result || merged.len() != n {
            return Err(e);
        }
        let e = if merged.iter().any(|r| r.outcome == Outcome::Unknown)
            && e.kind() != ErrorKind::StatusUnknown
        {
            e.with_kind(ErrorKind::StatusUnknown)
        } else {
            e
        };
        Err(e.with_recipients(merged))
    }

    /// Sends on a new thread and calls `done` with the result (gen_smtp's `send/3`). For many
    /// messages, [`SendQueue`] bounds the threads and reuses connections.
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
            let mut tls = self.opts.tls_mode();
            let mut attempt = 0;
            while attempt <= self.opts.retries {
                let result = Connection::open_to(t.peer(), &self.opts, tls, self.tls.as_deref())
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
