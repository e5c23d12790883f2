//! Protocol facts shared by the server and the client: which protocol a connection speaks, and
//! the name this machine gives itself in greetings.

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
