//! The server's builder: a setter per setting, each with its safe default (see
//! [`ServerConfig`]), and `bind`, which checks the whole configuration first.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::{BareLinePolicy, ListenerOptions, Protocol, Server, ServerConfig};
#[cfg(feature = "auth")]
use crate::sasl::Mechanism;
#[cfg(feature = "tls")]
use crate::tls::ServerTls;

/// Configures a [`Server`]; every limit has a safe default (see [`ServerConfig`]).
#[derive(Debug, Clone, Default)]
pub struct ServerBuilder {
    config: ServerConfig,
}

/// Why a server could not start.
pub(super) fn invalid(msg: &str) -> io::Error {
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
    /// Most sessions at once, each on its own thread (default 128, at most
    /// [`MAX_SESSIONS_LIMIT`](super::MAX_SESSIONS_LIMIT)).
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.config.max_sessions = n;
        self
    }
    /// Session threads started with the server and kept when idle (default 1; more start on
    /// demand and retire after [`ServerBuilder::thread_idle_timeout`]). See
    /// [`ServerConfig::min_threads`](super::ServerConfig::min_threads).
    pub fn min_threads(mut self, n: usize) -> Self {
        self.config.min_threads = n;
        self
    }
    /// How long an idle session thread above the minimum lives (default 5 s).
    pub fn thread_idle_timeout(mut self, d: Duration) -> Self {
        self.config.thread_idle_timeout = d;
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
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    /// Certificates for STARTTLS and implicit-TLS listeners (see [`crate::tls::ServerTls`]).
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.config.tls = Some(tls);
        self
    }
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    /// Deadline for a TLS handshake (default 30 s).
    pub fn tls_handshake_timeout(mut self, d: Duration) -> Self {
        self.config.tls_handshake_timeout = d;
        self
    }
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    /// Serve only EHLO/HELO/NOOP/RSET/QUIT/STARTTLS before TLS (default false).
    pub fn require_tls(mut self, on: bool) -> Self {
        self.config.require_tls = on;
        self
    }
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    /// Offer AUTH with these mechanisms (default: none). Credentials go to `Handler::on_auth`.
    pub fn auth_mechanisms(mut self, mechanisms: &[Mechanism]) -> Self {
        self.config.auth_mechanisms = mechanisms.to_vec();
        self
    }
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    /// Offer AUTH without TLS (default false).
    pub fn allow_insecure_auth(mut self, on: bool) -> Self {
        self.config.allow_insecure_auth = on;
        self
    }
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    /// Refuse MAIL before AUTH with `530 5.7.0` (default false).
    pub fn require_auth(mut self, on: bool) -> Self {
        self.config.require_auth = on;
        self
    }
    /// Offer CHUNKING/BDAT (RFC 3030; default off).
    pub fn chunking(mut self, on: bool) -> Self {
        self.config.chunking = on;
        self
    }
    /// Offer BINARYMIME (needs chunking; default off).
    pub fn binary_mime(mut self, on: bool) -> Self {
        self.config.binary_mime = on;
        self
    }
    /// Offer DSN and parse RET, ENVID, NOTIFY, ORCPT (RFC 3461; default off).
    pub fn dsn(mut self, on: bool) -> Self {
        self.config.dsn = on;
        self
    }
    /// Most sessions from one client (default 50), counted by address prefix (see
    /// [`ServerBuilder::per_ip_prefix_v6`]).
    pub fn max_sessions_per_ip(mut self, n: usize) -> Self {
        self.config.max_sessions_per_ip = n;
        self
    }
    /// Delay the greeting; early talkers get `554 5.5.0` (default: no delay).
    pub fn greeting_delay(mut self, d: Option<Duration>) -> Self {
        self.config.greeting_delay = d;
        self
    }
    /// Deadline for a PROXY protocol header (default 5 s).
    pub fn proxy_timeout(mut self, d: Duration) -> Self {
        self.config.proxy_timeout = d;
        self
    }
    /// Balancers trusted to send PROXY headers, as addresses or CIDR networks. A PROXY
    /// listener needs this (default: none, and binding one is an error).
    pub fn proxy_trusted(mut self, nets: &[&str]) -> Self {
        self.config.proxy_trusted = nets.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Accept PROXY headers from any sender (default false). Only where nothing but the
    /// balancer can reach the listener; see [`ServerConfig::dangerous_proxy_trust_any`].
    pub fn dangerous_proxy_trust_any(mut self, on: bool) -> Self {
        self.config.dangerous_proxy_trust_any = on;
        self
    }
    /// Prefix length by which per-address limits count IPv4 clients (default 32).
    pub fn per_ip_prefix_v4(mut self, bits: u8) -> Self {
        self.config.per_ip_prefix_v4 = bits;
        self
    }
    /// Prefix length by which per-address limits count IPv6 clients (default 64: one host
    /// usually holds a whole /64).
    pub fn per_ip_prefix_v6(mut self, bits: u8) -> Self {
        self.config.per_ip_prefix_v6 = bits;
        self
    }
    /// Commands that move no mail allowed before `421` (default 100; reset by each accepted
    /// message). See [`ServerConfig::max_junk_commands`].
    pub fn max_junk_commands(mut self, n: usize) -> Self {
        self.config.max_junk_commands = n;
        self
    }
    /// Longest a session may last (default 1 hour).
    pub fn max_session_duration(mut self, d: Duration) -> Self {
        self.config.max_session_duration = d;
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

    /// Checks the configuration and binds the first listener (port 0 picks a free port; see
    /// [`Server::local_addr`]). LMTP on port 25 is refused (RFC 2033 §5).
    pub fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        self.bind_with(addr, ListenerOptions::default())
    }

    /// Like [`ServerBuilder::bind`], with options for this first listener (PROXY protocol,
    /// implicit TLS, protocol).
    pub fn bind_with(
        self,
        addr: impl ToSocketAddrs,
        options: ListenerOptions,
    ) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        self.config.validate().map_err(|e| invalid(&e))?;
        let server = Server {
            listeners: Vec::new(),
            config: Arc::new(self.config),
        };
        server.listen(&addrs[..], options)
    }
}
