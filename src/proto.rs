//! Protocol facts shared by the server and the client: which protocol a connection speaks, and
//! the name this machine gives itself in greetings, and what a TLS handshake settled (plain
//! data, so a handler reads [`crate::server::Envelope::tls`] whether or not the `tls` feature is
//! on; the handshake itself lives in `tls`).

use std::fmt;

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// SMTP (RFC 5321): HELO/EHLO, one reply after DATA.
    #[default]
    Smtp,
    /// LMTP (RFC 2033): LHLO only, one reply per accepted recipient after DATA.
    Lmtp,
}

/// The machine's host name (from /proc or /etc/hostname), or `localhost`.
pub fn default_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// What a handshake settled, for logs and the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2" ("unknown" before the handshake has settled it).
    pub version: String,
    /// Cipher suite name, e.g. "TLS13_AES_256_GCM_SHA384" ("unknown" before the handshake).
    pub cipher: String,
    /// The SNI name the client sent (server side), if any; always `None` on the client side.
    pub sni: Option<String>,
}

impl fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)?;
        if let Some(sni) = &self.sni {
            write!(f, " sni={sni}")?;
        }
        Ok(())
    }
}
