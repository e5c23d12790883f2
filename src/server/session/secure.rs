//! STARTTLS and implicit TLS (the handshake through the I/O seam) and the AUTH exchange.
//!
//! Without the `tls` (or `auth`) feature no TLS configuration (or mechanism) can be set, so
//! the session answers STARTTLS (AUTH) as not offered and never reaches the stand-ins here.

use super::*;
#[cfg(feature = "auth")]
use crate::stream::read_line;

impl<H: Handler, C: SessionIo> Session<H, C> {
    /// The TLS handshake (after `220` for STARTTLS, or at connect for implicit TLS). On
    /// success the session forgets what it knew (RFC 3207 §4.2) and tells the handler.
    #[cfg(feature = "tls")]
    pub(super) fn start_tls(&mut self) -> Flow {
        let Some(tls) = self.cfg.tls.as_ref().map(|t| t.server_config()) else {
            return Flow::Close;
        };
        if !self.info.implicit_tls {
            self.queue(&Reply::READY_TLS);
            if let Err(e) = self.io.flush() {
                return self.fault(SessionError::Send(e));
            }
        }
        let deadline = deadline_in(self.cfg.tls_handshake_timeout);
        let pending = if self.info.implicit_tls && self.tls.is_none() {
            Pending::HandToTls
        } else {
            Pending::Discard
        };
        let (dropped, info) = match self.io.start_tls(tls, deadline, pending) {
            Ok(v) => v,
            Err(e) => {
                self.fault(SessionError::TlsHandshake(e));
                return Flow::Close;
            }
        };
        if dropped > 0 {
            debug!(
                "{} session {}: dropped {dropped} octets pipelined before the TLS handshake",
                self.info.peer, self.info.id
            );
        }
        self.shared
            .stats
            .tls_handshakes
            .fetch_add(1, Ordering::Relaxed);
        self.auth = None;
        self.max_size = self.cfg.max_message_size;
        let result = self.call("on_starttls", |h| h.on_starttls(&info));
        self.tls = Some(info);
        match result {
            Ok(()) => Flow::Continue,
            Err(Panicked) => Flow::Close,
        }
    }

    /// Stand-in without the `tls` feature: never called (nothing offers TLS).
    #[cfg(not(feature = "tls"))]
    pub(super) fn start_tls(&mut self) -> Flow {
        Flow::Close
    }

    /// One AUTH exchange (RFC 4954): challenges and responses until the handler decides.
    #[cfg(feature = "auth")]
    pub(super) fn authenticate(&mut self, mechanism: &str, initial: Option<&str>) -> Flow {
        if self.tls.is_none() && !self.cfg.allow_insecure_auth {
            return self.reply(&Reply::AUTH_NEEDS_TLS);
        }
        let mech = match Mechanism::parse(mechanism) {
            Some(m) if self.cfg.auth_mechanisms.contains(&m) => m,
            _ => {
                return self.client_error(
                    &Reply::AUTH_UNKNOWN_MECHANISM,
                    SessionError::AuthFailed(Reply::AUTH_UNKNOWN_MECHANISM),
                );
            }
        };
        let host = self.cfg.hostname.clone();
        let mut step = ServerExchange::start(mech, initial, &host);
        let credentials = loop {
            let (exchange, challenge) = match step {
                Ok((ex, Step::Challenge(c))) => (ex, c),
                Ok((_, Step::Done(creds))) => break creds,
                Err(e) => return self.sasl_failed(e),
            };
            self.queue(&Reply::new(334, None, challenge));
            let deadline = deadline_in(self.cfg.command_timeout);
            let line = match read_line(&mut self.io, MAX_SASL_LINE, deadline) {
                Err(e) => return self.recv_failed(Phase::Command, e),
                Ok(Line::TooLong) => {
                    let r = Reply::AUTH_LINE_TOO_LONG;
                    return self.client_error(&r, SessionError::AuthFailed(r.clone()));
                }
                Ok(Line::Complete(l)) => l,
            };
            let mut exchange = exchange;
            let line = String::from_utf8_lossy(&line);
            step = exchange.respond(&line).map(|st| (exchange, st));
        };
        match self.call("on_auth", |h| h.on_auth(&credentials)) {
            Err(Panicked) => Flow::Close,
            Ok(Ok(())) => {
                self.auth = Some(credentials.username().to_string());
                self.reply(&Reply::AUTH_OK)
            }
            Ok(Err(r)) => {
                let flow = self.client_error(&r, SessionError::AuthFailed(r.clone()));
                if r.code == 421 { Flow::Close } else { flow }
            }
        }
    }

    /// Stand-in without the `auth` feature: never called (nothing offers AUTH).
    #[cfg(not(feature = "auth"))]
    pub(super) fn authenticate(&mut self, _mechanism: &str, _initial: Option<&str>) -> Flow {
        self.out_of_order("AUTH", "Error: authentication not enabled")
    }

    #[cfg(feature = "auth")]
    pub(super) fn sasl_failed(&mut self, e: SaslError) -> Flow {
        let r = Reply::from(&e);
        if e == SaslError::Cancelled {
            // Giving up is the client's right, not a mistake.
            return self.reply(&r);
        }
        self.client_error(&r, SessionError::AuthFailed(r.clone()))
    }
}

/// Longest line in an AUTH exchange (RFC 4954 §4: at least 12288 octets).
pub(super) const MAX_SASL_LINE: usize = 12288 + 2;
