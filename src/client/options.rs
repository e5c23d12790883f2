//! Client options: where to deliver, TLS and AUTH policies, timeouts, retries.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "mx")]
use crate::dns::DnsConfig;
use crate::proto::Protocol;
use crate::sasl::Mechanism;
use crate::tls::{ClientTrust, Identity};

/// Where to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Exactly this host (a smarthost); no MX lookup.
    Relay(String),
    /// The MX hosts of this domain, in preference order, then its A/AAAA (RFC 5321 §5.1).
    #[cfg(feature = "mx")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mx")))]
    Mx(String),
}

/// When to use TLS, and what is verified.
///
/// | mode | TLS | certificate | falls back to cleartext |
/// |---|---|---|---|
/// | `Never` | no | — | — |
/// | `Opportunistic` | STARTTLS when offered | checked, but a failure only goes to the log and [`Receipt::tls`](super::Receipt) (RFC 7435) | when STARTTLS is not offered, refused, or the handshake itself fails |
/// | `Required` | STARTTLS | verified: a failure ends the attempt ([`ErrorKind::Tls`](super::ErrorKind)) | never ([`ErrorKind::MissingRequirement`](super::ErrorKind) when not offered) |
/// | `Implicit` | TLS from the first byte (port 465) | verified | never |
///
/// Without an explicit mode the client uses `Opportunistic`, or `Required` when credentials
/// are set (see [`Options::tls_mode`]). Verification uses [`Options::trust`] against
/// [`Options::tls_name`] or the host name connected to;
/// [`ClientTrust::DangerAcceptAnyCertificate`] turns it off in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Never, even if offered.
    Never,
    /// STARTTLS when offered, encrypting even when the certificate does not verify; cleartext
    /// only when STARTTLS is absent or the handshake fails (that host is tried again without
    /// TLS).
    #[default]
    Opportunistic,
    /// STARTTLS with a verified certificate, or fail without sending anything.
    Required,
    /// TLS from the first byte (port 465, RFC 8314), certificate verified.
    Implicit,
}

/// When to authenticate.
///
/// The rule: **credentials mean authentication.** With credentials set and the default
/// policy, a transaction never starts without a successful AUTH: a server that offers no
/// AUTH, no common mechanism, AUTH impossible because the session is not encrypted (or not
/// verified), or every mechanism refused ends the attempt with an error before MAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthPolicy {
    /// Never, even with credentials.
    Never,
    /// The old, weaker behaviour, only on request: authenticate when the server offers AUTH,
    /// and send *unauthenticated* when it does not (or no mechanism is in common).
    IfAvailable,
    /// With credentials: authenticate or fail (the default). Without credentials: no AUTH.
    #[default]
    Always,
}

/// What to do with the connection after a failed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Send QUIT and close (the default for `Client::send`).
    #[default]
    Quit,
    /// Send RSET and keep the connection (for `Connection` users sending more).
    Reset,
}

/// Timeouts per phase (RFC 5321 §4.5.3.2 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (default 30 s).
    pub connect: Duration,
    /// The greeting (default 300 s).
    pub greeting: Duration,
    /// EHLO, STARTTLS, AUTH, RSET, NOOP, QUIT replies (default 300 s).
    pub command: Duration,
    /// MAIL reply (default 300 s).
    pub mail: Duration,
    /// Each RCPT reply (default 300 s).
    pub rcpt: Duration,
    /// The `354` after DATA (default 120 s).
    pub data_start: Duration,
    /// Each block of the body written (default 180 s).
    pub data_block: Duration,
    /// The reply after the final dot (default 600 s).
    pub data_end: Duration,
    /// TLS handshake (default 30 s).
    pub tls: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(300),
            command: Duration::from_secs(300),
            mail: Duration::from_secs(300),
            rcpt: Duration::from_secs(300),
            data_start: Duration::from_secs(120),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
            tls: Duration::from_secs(30),
        }
    }
}

/// Which way a transcript line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the client (AUTH payloads masked; the message body is not included).
    Sent,
    /// Received from the server.
    Received,
}

/// A transcript callback (gen_smtp's `trace_fun`): host, direction, line without CRLF.
pub type Transcript = Arc<dyn Fn(&str, Direction, &str) + Send + Sync>;

/// User name and password (or, for XOAUTH2, an access token).
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything a [`Client`](super::Client) needs; build with [`Options::relay`] or
/// [`Options::mx`] and the setters.
#[derive(Clone)]
pub struct Options {
    /// Where to deliver.
    pub route: Route,
    /// Port (default 25; 465 with implicit TLS). A `Relay("host:port")` overrides it.
    pub port: Option<u16>,
    /// TLS policy; `None` (the default) is `Opportunistic`, or `Required` with credentials.
    pub tls: Option<TlsMode>,
    /// Whom to trust (default: webpki-roots). Certificates are verified against
    /// [`Options::tls_name`], else the host actually connected to (the relay, or the MX host
    /// name).
    pub trust: ClientTrust,
    /// The name to verify the certificate against (and to send as SNI) instead of the host
    /// connected to: for a relay reached by IP address, say. Only for `Relay` routes.
    pub tls_name: Option<String>,
    /// A client certificate, presented when the server asks (mutual TLS).
    pub client_identity: Option<Identity>,
    /// A caller-built rustls configuration, used as it is for `Required` and `Implicit`
    /// (its verifier decides); `trust` and `client_identity` are then ignored, except that
    /// opportunistic TLS records verification against `trust` on a copy of this configuration.
    pub rustls_config: Option<Arc<rustls::ClientConfig>>,
    /// AUTH policy (default `Always`: with credentials, authenticate or fail).
    pub auth: AuthPolicy,
    /// Credentials.
    pub login: Option<Login>,
    /// Mechanisms in order of preference (default gen_smtp's: CRAM-MD5, LOGIN, PLAIN; add
    /// XOAUTH2 or OAUTHBEARER explicitly, the password then being the token).
    pub mechanisms: Vec<Mechanism>,
    /// Send credentials without TLS (default false: refused before anything is sent).
    pub allow_insecure_auth: bool,
    /// Send credentials over TLS whose certificate did not verify (opportunistic TLS against
    /// an unverifiable server; default false: the attempt fails before AUTH).
    pub allow_unverified_auth: bool,
    /// The local address to connect from (a multi-homed host, or an IP with the right
    /// reputation / SPF record). Port chosen by the system.
    pub source_address: Option<IpAddr>,
    /// Name for EHLO (default: the machine's host name).
    pub hostname: String,
    /// Attempts per host after the first, for transient failures (default 1).
    pub retries: usize,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// Per-phase timeouts.
    pub timeouts: Timeouts,
    /// After a failed transaction: QUIT (default) or RSET.
    pub on_error: OnError,
    /// Nameservers for MX lookups (default: /etc/resolv.conf).
    #[cfg(feature = "mx")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mx")))]
    pub dns: DnsConfig,
    /// Use PIPELINING when offered (default true).
    pub pipelining: bool,
    /// Optional transcript callback.
    pub transcript: Option<Transcript>,
    /// Longest reply line and whole reply the client accepts (default 4096 and 64 KiB).
    pub max_reply: (usize, usize),
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("route", &self.route)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("tls_name", &self.tls_name)
            .field("auth", &self.auth)
            .field("login", &self.login)
            .field("mechanisms", &self.mechanisms)
            .field("hostname", &self.hostname)
            .field("retries", &self.retries)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Options {
    fn with_route(route: Route) -> Self {
        Options {
            route,
            port: None,
            tls: None,
            trust: ClientTrust::WebPki,
            tls_name: None,
            client_identity: None,
            rustls_config: None,
            auth: AuthPolicy::default(),
            login: None,
            mechanisms: vec![Mechanism::CramMd5, Mechanism::Login, Mechanism::Plain],
            allow_insecure_auth: false,
            allow_unverified_auth: false,
            source_address: None,
            hostname: crate::proto::default_hostname(),
            retries: 1,
            protocol: Protocol::Smtp,
            timeouts: Timeouts::default(),
            on_error: OnError::default(),
            #[cfg(feature = "mx")]
            dns: DnsConfig::default(),
            pipelining: true,
            transcript: None,
            max_reply: (4096, 64 * 1024),
        }
    }

    /// Deliver through exactly this host (`"smtp.example.org"` or `"smtp.example.org:587"`).
    pub fn relay(host: impl Into<String>) -> Self {
        Options::with_route(Route::Relay(host.into()))
    }

    /// Deliver to the MX hosts of `domain`.
    #[cfg(feature = "mx")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mx")))]
    pub fn mx(domain: impl Into<String>) -> Self {
        Options::with_route(Route::Mx(domain.into()))
    }

    /// Port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// TLS policy (see [`TlsMode`] for what each mode verifies and when it falls back).
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.tls = Some(mode);
        self
    }
    /// Whom to trust.
    pub fn trust(mut self, trust: ClientTrust) -> Self {
        self.trust = trust;
        self
    }
    /// The name to verify the server's certificate against (and send as SNI), for a relay
    /// reached by IP address or by another name than its certificate's.
    pub fn tls_name(mut self, name: impl Into<String>) -> Self {
        self.tls_name = Some(name.into());
        self
    }
    /// A client certificate (mutual TLS).
    pub fn client_identity(mut self, identity: Identity) -> Self {
        self.client_identity = Some(identity);
        self
    }
    /// A caller-built rustls configuration, for anything the other settings do not cover.
    pub fn rustls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.rustls_config = Some(config);
        self
    }
    /// Allow credentials over TLS whose certificate did not verify.
    pub fn allow_unverified_auth(mut self, on: bool) -> Self {
        self.allow_unverified_auth = on;
        self
    }
    /// The local address to connect from.
    pub fn source_address(mut self, addr: IpAddr) -> Self {
        self.source_address = Some(addr);
        self
    }
    /// Credentials: with the default [`AuthPolicy::Always`], every transaction is
    /// authenticated or fails, and TLS defaults to `Required`.
    pub fn login(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.login = Some(Login {
            username: username.into(),
            password: password.into(),
        });
        self
    }
    /// AUTH policy.
    pub fn auth(mut self, policy: AuthPolicy) -> Self {
        self.auth = policy;
        self
    }
    /// Mechanisms, in order of preference.
    pub fn mechanisms(mut self, mechanisms: &[Mechanism]) -> Self {
        self.mechanisms = mechanisms.to_vec();
        self
    }
    /// Allow credentials over plaintext.
    pub fn allow_insecure_auth(mut self, on: bool) -> Self {
        self.allow_insecure_auth = on;
        self
    }
    /// EHLO name.
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.hostname = name.into();
        self
    }
    /// Attempts per host after the first.
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = n;
        self
    }
    /// SMTP or LMTP.
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.protocol = p;
        self
    }
    /// Timeouts.
    pub fn timeouts(mut self, t: Timeouts) -> Self {
        self.timeouts = t;
        self
    }
    /// QUIT or RSET after a failed transaction.
    pub fn on_error(mut self, e: OnError) -> Self {
        self.on_error = e;
        self
    }
    /// Nameservers for MX lookups.
    #[cfg(feature = "mx")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mx")))]
    pub fn dns(mut self, dns: DnsConfig) -> Self {
        self.dns = dns;
        self
    }
    /// Use PIPELINING when offered.
    pub fn pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }
    /// A transcript callback.
    pub fn transcript(mut self, f: impl Fn(&str, Direction, &str) + Send + Sync + 'static) -> Self {
        self.transcript = Some(Arc::new(f));
        self
    }

    /// True when the client will authenticate: credentials set and a policy other than
    /// `Never`.
    pub fn wants_auth(&self) -> bool {
        self.login.is_some() && self.auth != AuthPolicy::Never
    }

    /// The TLS mode in force: the one set, else `Required` when the client will authenticate
    /// (credentials are never sent over cleartext or unverified TLS by default), else
    /// `Opportunistic`.
    pub fn tls_mode(&self) -> TlsMode {
        match self.tls {
            Some(mode) => mode,
            None if self.wants_auth() => TlsMode::Required,
            None => TlsMode::Opportunistic,
        }
    }

    /// The port to use when none is given in the route.
    pub(crate) fn default_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls_mode() {
            TlsMode::Implicit => 465,
            _ => 25,
        })
    }
}
