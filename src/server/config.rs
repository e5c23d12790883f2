//! Server configuration: protocol, limits and timeouts, each with a safe default.

use std::time::Duration;

use crate::address::PathOptions;
use crate::data::{BareLinePolicy, DataLimits};
#[cfg(feature = "auth")]
use crate::sasl::Mechanism;
#[cfg(feature = "tls")]
use crate::tls::ServerTls;

pub use crate::proto::{Protocol, default_hostname};

/// Everything a session needs to know about the server. Built through
/// [`ServerBuilder`](super::ServerBuilder); every field has a setter there.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Name used in the greeting and EHLO reply. Default: the machine's host name.
    pub hostname: String,
    /// SMTP or LMTP. Default: SMTP.
    pub protocol: Protocol,
    /// Longest command line in octets, CRLF included. Default 2048 (Postfix's
    /// `line_length_limit`: RFC 5321's 512 plus room for ESMTP parameters such as AUTH= and ORCPT=).
    pub max_line_length: usize,
    /// Longest DATA text line in octets, CRLF included; `None` = no limit (the default, as in
    /// Postfix and gen_smtp: the reader streams, so memory stays bounded). RFC 5321 says 1000.
    pub max_data_line: Option<usize>,
    /// Largest message in octets, advertised in `SIZE`; `None` = no limit (`SIZE 0`).
    /// Default 10,240,000 (Postfix's `message_size_limit`).
    pub max_message_size: Option<u64>,
    /// Most recipients per message; past it `452 4.5.3`. Default 1000 (RFC 5321 asks for at least 100).
    pub max_recipients: usize,
    /// Protocol errors a session may make before `421 4.7.0` and close. Default 20.
    pub max_errors: usize,
    /// Deadline for a whole command line (not an idle timer: a trickling client is cut off).
    /// Also the write timeout for replies. Default 300 s (RFC 5321 §4.5.3.2.7).
    pub command_timeout: Duration,
    /// Deadline for each DATA line. Default 180 s (RFC 5321 §4.5.3.2.5's data block).
    pub data_block_timeout: Duration,
    /// Deadline for the whole DATA body. Default 600 s.
    pub data_timeout: Duration,
    /// Most sessions at once, each on its own thread. Past it the listener answers
    /// `421 4.7.0` and closes at once. Default 128.
    pub max_sessions: usize,
    /// Session threads started with the server and kept when idle. Others start on demand,
    /// one per concurrent session, and retire after [`ServerConfig::thread_idle_timeout`].
    /// Default 1. For one client at a time with a new connection per message, try 8: each
    /// connection finds the last one's thread still closing, and on the two-CPU bench
    /// machine a thread started under load was placed on another CPU than its client's and
    /// stayed there, a cross-CPU wake-up per command, while more threads taking turns were
    /// woken beside the client more often (BENCHMARKS.md, "Session 8").
    pub min_threads: usize,
    /// How long a session thread waits for work before it retires (while more than
    /// [`ServerConfig::min_threads`] are alive). Default 5 s: a thread costs tens of
    /// microseconds to start, an idle one a stack and a slot in the process.
    pub thread_idle_timeout: Duration,
    /// Bare CR/LF policy in DATA. Default: reject (`550 5.6.11`).
    pub bare_line: BareLinePolicy,
    /// RFC 5321 path lengths enforced, unbracketed paths accepted. Default: strict lengths, lenient brackets.
    pub paths: PathOptions,
    /// Advertise and accept SMTPUTF8 (RFC 6531). Default true.
    pub smtputf8: bool,
    /// Advertise and accept 8BITMIME (RFC 6152). Default true.
    pub eight_bit_mime: bool,
    /// Advertise PIPELINING (RFC 2920). The server always reads pipelined input correctly;
    /// this only controls the keyword. Default true.
    pub pipelining: bool,
    /// Advertise and send enhanced status codes (RFC 2034). Default true.
    pub enhanced_status_codes: bool,
    /// Advertise and accept CHUNKING (BDAT, RFC 3030). Default false.
    pub chunking: bool,
    /// Advertise and accept BINARYMIME (needs `chunking`). Default false.
    pub binary_mime: bool,
    /// Advertise DSN and parse its parameters (RFC 3461). Default false.
    pub dsn: bool,
    /// Certificates for STARTTLS (and implicit-TLS listeners). Default: none, no STARTTLS.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: Option<ServerTls>,
    /// Deadline for a TLS handshake. Default 30 s.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls_handshake_timeout: Duration,
    /// Before STARTTLS, serve only EHLO, HELO, LHLO, NOOP, RSET, QUIT and STARTTLS
    /// (others: `530 5.7.0`). Default false.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub require_tls: bool,
    /// SASL mechanisms offered in AUTH (RFC 4954), in the order advertised. Default: none
    /// (no AUTH). Credentials are checked by [`Handler::on_auth`](super::Handler::on_auth).
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    pub auth_mechanisms: Vec<Mechanism>,
    /// Offer and accept AUTH without TLS. Default false: AUTH is hidden before TLS and
    /// attempts get `538 5.7.11`.
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    pub allow_insecure_auth: bool,
    /// MAIL before a successful AUTH gets `530 5.7.0`. Default false.
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    pub require_auth: bool,
    /// Most sessions from one client address; past it `421 4.7.0`. Default 50 (Postfix's
    /// `smtpd_client_connection_count_limit`).
    pub max_sessions_per_ip: usize,
    /// Wait this long before the greeting; a client that talks first gets `554 5.5.0` and is
    /// closed (Postfix's pregreet test). Default: none.
    pub greeting_delay: Option<Duration>,
    /// Deadline for the PROXY protocol header. Default 5 s (Postfix's
    /// `smtpd_upstream_proxy_timeout`).
    pub proxy_timeout: Duration,
    /// Balancers trusted to send PROXY headers (`"10.0.0.0/8"`, `"127.0.0.1"`). A PROXY
    /// listener needs at least one (or [`ServerConfig::dangerous_proxy_trust_any`]): a PROXY
    /// header names the client, so whoever may send one chooses [`ConnInfo::peer`](super::ConnInfo::peer).
    /// Default: none.
    pub proxy_trusted: Vec<String>,
    /// Accept PROXY headers from any sender. Only for a listener that nothing but the balancer
    /// can reach (a firewall does the trusting): otherwise any client picks its own address and
    /// walks past per-address limits and IP-based decisions. Default false.
    pub dangerous_proxy_trust_any: bool,
    /// Per-address limits ([`ServerConfig::max_sessions_per_ip`]) count IPv4 clients by this
    /// prefix length. Default 32 (each address).
    pub per_ip_prefix_v4: u8,
    /// Per-address limits count IPv6 clients by this prefix length. Default 64: one IPv6 host
    /// usually holds a whole /64 and could otherwise walk around the limit.
    pub per_ip_prefix_v6: u8,
    /// Commands that move no mail (NOOP, RSET, HELP, VRFY, EXPN, HELO/EHLO, refused MAIL and
    /// RCPT) a session may send before `421 4.7.0` and close; the count starts again after each
    /// accepted message. Default 100 (Postfix's `smtpd_junk_command_limit`).
    pub max_junk_commands: usize,
    /// Longest a session may last. Once over, it gets `421 4.4.2` at its next command (a
    /// transaction under way is finished first; an idle session is closed when it is reached).
    /// Default 1 hour.
    pub max_session_duration: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            hostname: default_hostname(),
            protocol: Protocol::Smtp,
            max_line_length: 2048,
            max_data_line: None,
            max_message_size: Some(10_240_000),
            max_recipients: 1000,
            max_errors: 20,
            command_timeout: Duration::from_secs(300),
            data_block_timeout: Duration::from_secs(180),
            data_timeout: Duration::from_secs(600),
            max_sessions: 128,
            min_threads: 1,
            thread_idle_timeout: Duration::from_secs(5),
            bare_line: BareLinePolicy::Reject,
            paths: PathOptions::default(),
            smtputf8: true,
            eight_bit_mime: true,
            pipelining: true,
            enhanced_status_codes: true,
            chunking: false,
            binary_mime: false,
            dsn: false,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_handshake_timeout: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            require_tls: false,
            #[cfg(feature = "auth")]
            auth_mechanisms: Vec::new(),
            #[cfg(feature = "auth")]
            allow_insecure_auth: false,
            #[cfg(feature = "auth")]
            require_auth: false,
            max_sessions_per_ip: 50,
            greeting_delay: None,
            proxy_timeout: Duration::from_secs(5),
            proxy_trusted: Vec::new(),
            dangerous_proxy_trust_any: false,
            per_ip_prefix_v4: 32,
            per_ip_prefix_v6: 64,
            max_junk_commands: 100,
            max_session_duration: Duration::from_secs(3600),
        }
    }
}

/// Most sessions a server may be configured for: each is a thread (see
/// [`ServerConfig::max_sessions`]).
pub const MAX_SESSIONS_LIMIT: usize = 10_000;

impl ServerConfig {
    /// Whether STARTTLS (and implicit TLS) can be offered: a TLS configuration is set. Always
    /// false without the `tls` feature.
    pub fn tls_offered(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Whether commands other than EHLO/HELO/NOOP/RSET/QUIT/STARTTLS need TLS first.
    pub fn requires_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.require_tls;
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Whether AUTH is configured (some mechanism is set). Always false without the `auth`
    /// feature.
    pub fn auth_offered(&self) -> bool {
        #[cfg(feature = "auth")]
        return !self.auth_mechanisms.is_empty();
        #[cfg(not(feature = "auth"))]
        false
    }

    /// Whether MAIL needs a successful AUTH first.
    pub fn requires_auth(&self) -> bool {
        #[cfg(feature = "auth")]
        return self.require_auth;
        #[cfg(not(feature = "auth"))]
        false
    }

    /// Checks every value; `Err` says which one is wrong and why. [`ServerBuilder::bind`](super::ServerBuilder::bind)
    /// runs this, so no value can make a session panic or misbehave later.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_sessions == 0 || self.max_sessions > MAX_SESSIONS_LIMIT {
            return Err(format!(
                "max_sessions must be between 1 and {MAX_SESSIONS_LIMIT} (one thread each)"
            ));
        }
        if self.min_threads > self.max_sessions {
            return Err("min_threads must not exceed max_sessions".into());
        }
        if self.max_line_length < 64 {
            return Err("max_line_length must be at least 64".into());
        }
        if self.max_data_line.is_some_and(|n| n < 3) {
            return Err("max_data_line must be at least 3 (a line and its CRLF)".into());
        }
        if self.max_recipients == 0 || self.max_sessions_per_ip == 0 {
            return Err("max_recipients and max_sessions_per_ip must be positive".into());
        }
        if self.max_errors == 0 || self.max_junk_commands == 0 {
            return Err("max_errors and max_junk_commands must be positive".into());
        }
        if self.per_ip_prefix_v4 > 32 || self.per_ip_prefix_v6 > 128 {
            return Err("per_ip_prefix_v4 must be at most 32, per_ip_prefix_v6 at most 128".into());
        }
        if self.hostname.is_empty() || self.hostname.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err("hostname must be non-empty printable ASCII".into());
        }
        let timeouts = [
            ("command_timeout", self.command_timeout),
            ("data_block_timeout", self.data_block_timeout),
            ("data_timeout", self.data_timeout),
            #[cfg(feature = "tls")]
            ("tls_handshake_timeout", self.tls_handshake_timeout),
            ("proxy_timeout", self.proxy_timeout),
            ("max_session_duration", self.max_session_duration),
            ("thread_idle_timeout", self.thread_idle_timeout),
        ];
        if let Some((name, _)) = timeouts.iter().find(|(_, d)| d.is_zero()) {
            return Err(format!("{name} must be positive"));
        }
        if self.requires_tls() && !self.tls_offered() {
            return Err("require_tls needs a TLS configuration".into());
        }
        #[cfg(feature = "auth")]
        if self.require_auth && self.auth_mechanisms.is_empty() {
            return Err("require_auth needs at least one AUTH mechanism".into());
        }
        #[cfg(feature = "auth")]
        if self.require_auth && !self.tls_offered() && !self.allow_insecure_auth {
            // AUTH would never be offered, so no mail could ever be accepted.
            return Err("require_auth needs TLS or allow_insecure_auth".into());
        }
        if self.binary_mime && !self.chunking {
            return Err("binary_mime needs chunking".into());
        }
        for net in &self.proxy_trusted {
            if super::cidr::parse_net(net).is_none() {
                return Err(format!("bad address or network {net:?} in proxy_trusted"));
            }
        }
        Ok(())
    }

    /// The DATA decoder's limits.
    pub(crate) fn data_limits(&self) -> DataLimits {
        DataLimits {
            max_size: self.max_message_size,
            max_line: self.max_data_line,
            bare_line: self.bare_line,
        }
    }
}
