//! The one call a [`Handler`](crate::server::Handler) makes: stream the message through the
//! checks (DKIM, SPF for MAIL FROM and HELO, DMARC) and get an [`AuthResults`].
//!
//! The message passes once, in chunks: each chunk goes to the DKIM verifier (which hashes the
//! body as it goes) and, with [`Checker::check_tee`], to a writer (a spool file, a Maildir
//! delivery); only the header section is kept, up to [`Checker::max_header_section`].
//!
//! ```
//! use smtpkit::auth_check::{Checker, DmarcResult, Identity};
//! use smtpkit::dns::StaticResolver;
//!
//! let dns = StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=reject");
//! let checker = Checker::new(dns).authserv_id("mx.example.net");
//! let id = Identity::new("192.0.2.1".parse().unwrap(), "mail.example.org", "a@example.org");
//! let message = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
//! let results = checker.check(&id, &message[..]).unwrap();
//! assert_eq!(results.dmarc.as_ref().map(|d| d.from_domain.as_str()), Some("example.org"));
//! print!("{}", results.header()); // Authentication-Results: mx.example.net; dkim=none; ...
//! ```

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use super::dkim::DkimVerifier;
use super::dmarc::{self, FromError};
use super::results::{AuthResults, remove_forged};
use super::{DkimOutcome, DkimResult, DmarcOutcome, DmarcResult, Policy, spf};
use crate::dns::Resolver;
use crate::server::Envelope;

/// Default [`Checker::max_header_section`]: 1 MiB.
pub const DEFAULT_MAX_HEADER_SECTION: usize = 1 << 20;

/// How much of the message is read at a time.
const CHUNK: usize = 16 * 1024;

/// Who sent the message, as the SMTP session saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The client's IP address.
    pub ip: IpAddr,
    /// The HELO/EHLO name.
    pub helo: String,
    /// The MAIL FROM address without angle brackets; empty for the null reverse path `<>`.
    pub mail_from: String,
}

impl Identity {
    /// An identity from its parts.
    pub fn new(ip: IpAddr, helo: &str, mail_from: &str) -> Identity {
        Identity {
            ip,
            helo: helo.to_string(),
            mail_from: mail_from.to_string(),
        }
    }

    /// The identity of a transaction: the client's address (`ConnInfo::peer`), the HELO name
    /// and the reverse path of the envelope.
    pub fn from_envelope(ip: IpAddr, envelope: &Envelope) -> Identity {
        Identity {
            ip,
            helo: envelope.helo.clone(),
            mail_from: envelope
                .from
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
        }
    }
}

/// Runs the inbound checks of a message. Cheap to clone (the resolver is shared), so a
/// server's handler factory can give each session its own copy.
#[derive(Clone)]
pub struct Checker {
    resolver: Arc<dyn Resolver>,
    authserv_id: String,
    dmarc: dmarc::Options,
    check_helo: bool,
    remove_forged: bool,
    max_header_section: usize,
    now: Option<SystemTime>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("authserv_id", &self.authserv_id)
            .field("dmarc", &self.dmarc)
            .field("check_helo", &self.check_helo)
            .field("remove_forged", &self.remove_forged)
            .field("max_header_section", &self.max_header_section)
            .finish_non_exhaustive()
    }
}

impl Checker {
    /// A checker asking `resolver`, with the defaults: authserv-id the machine's host name,
    /// HELO checked too, forged Authentication-Results removed from the copy, header section
    /// kept up to 1 MiB, random `pct=` sampling.
    pub fn new(resolver: impl Resolver + 'static) -> Checker {
        Checker::with_resolver(Arc::new(resolver))
    }

    /// A checker asking a shared resolver (for example one cache for a whole server).
    pub fn with_resolver(resolver: Arc<dyn Resolver>) -> Checker {
        Checker {
            resolver,
            authserv_id: crate::proto::default_hostname(),
            dmarc: dmarc::Options::default(),
            check_helo: true,
            remove_forged: true,
            max_header_section: DEFAULT_MAX_HEADER_SECTION,
            now: None,
        }
    }

    /// The name of this server in the header (RFC 8601 §2.5), default the host name.
    pub fn authserv_id(mut self, id: impl Into<String>) -> Checker {
        self.authserv_id = id.into();
        self
    }

    /// How DMARC is evaluated (`pct=` sampling, `np=`).
    pub fn dmarc_options(mut self, options: dmarc::Options) -> Checker {
        self.dmarc = options;
        self
    }

    /// Whether the HELO identity gets its own SPF check (default true); the MAIL FROM one is
    /// always checked.
    pub fn check_helo(mut self, yes: bool) -> Checker {
        self.check_helo = yes;
        self
    }

    /// Whether [`check_tee`](Checker::check_tee) leaves out of its copy the incoming
    /// Authentication-Results fields that carry this server's authserv-id (RFC 8601 §5;
    /// default true). DKIM always sees the message as received.
    pub fn remove_forged(mut self, yes: bool) -> Checker {
        self.remove_forged = yes;
        self
    }

    /// The most header-section bytes kept (default 1 MiB, at least 1 KiB). Past it the rest
    /// streams on unexamined: the From field is looked for only in what was kept, and forged
    /// headers are not removed.
    pub fn max_header_section(mut self, bytes: usize) -> Checker {
        self.max_header_section = bytes.max(1024);
        self
    }

    /// The time DKIM signatures are checked against (`x=`, `t=`); default the clock at each
    /// check.
    pub fn now(mut self, now: SystemTime) -> Checker {
        self.now = Some(now);
        self
    }

    /// The configured authserv-id.
    pub fn id(&self) -> &str {
        &self.authserv_id
    }

    /// Checks a message read from `message` (the header section and body as received, CRLF
    /// line endings). An error is a read error of `message`; the checks themselves never fail
    /// (a DNS failure is a `temperror` result).
    pub fn check(&self, identity: &Identity, message: impl Read) -> io::Result<AuthResults> {
        self.run(identity, message, None)
    }

    /// Like [`check`](Checker::check), and writes the message to `out` as it passes (without
    /// our forged Authentication-Results fields, see [`remove_forged`](Checker::remove_forged)),
    /// so a server can store it and check it in one pass. An error is a read error of
    /// `message` or a write error of `out`.
    pub fn check_tee(
        &self,
        identity: &Identity,
        message: impl Read,
        out: &mut dyn Write,
    ) -> io::Result<AuthResults> {
        self.run(identity, message, Some(out))
    }

    fn run(
        &self,
        identity: &Identity,
        mut message: impl Read,
        mut out: Option<&mut dyn Write>,
    ) -> io::Result<AuthResults> {
        let mut verifier = DkimVerifier::new();
        let mut header: Vec<u8> = Vec::new();
        // False while the header section is still being collected.
        let mut header_done = false;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match message.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &buf[..n];
            verifier.update(chunk);
            if header_done {
                if let Some(w) = out.as_mut() {
                    w.write_all(chunk)?;
                }
                continue;
            }
            let searched = header.len().saturating_sub(3);
            header.extend_from_slice(chunk);
            if let Some(end) = header_end(&header, searched) {
                header_done = true;
                if let Some(w) = out.as_mut() {
                    self.write_header(w, &header[..end])?;
                    w.write_all(&header[end..])?;
                }
                header.truncate(end);
            } else if header.len() > self.max_header_section {
                // Too long to examine: pass it on as it is.
                header_done = true;
                if let Some(w) = out.as_mut() {
                    w.write_all(&header)?;
                }
                header.truncate(self.max_header_section);
            }
        }
        if !header_done {
            // A message that is only a header section.
            if let Some(w) = out.as_mut() {
                self.write_header(w, &header)?;
            }
        }
        if let Some(w) = out.as_mut() {
            w.flush()?;
        }
        let now = self.now.unwrap_or_else(SystemTime::now);
        let dkim = verifier.finish(&*self.resolver, now);
        Ok(self.finish(identity, dkim, dmarc::from_domain(&header)))
    }

    fn write_header(&self, w: &mut &mut dyn Write, section: &[u8]) -> io::Result<()> {
        if self.remove_forged {
            let (kept, _) = remove_forged(section, &self.authserv_id);
            w.write_all(&kept)
        } else {
            w.write_all(section)
        }
    }

    /// The checks after the message has passed: SPF (MAIL FROM, then HELO), then DMARC over
    /// `dkim` and the From domain. For a program that verifies DKIM itself (an empty `dkim`
    /// is reported as `dkim=none`).
    pub fn finish(
        &self,
        identity: &Identity,
        mut dkim: Vec<DkimOutcome>,
        from: Result<String, FromError>,
    ) -> AuthResults {
        let resolver = &*self.resolver;
        if dkim.is_empty() {
            dkim.push(DkimOutcome {
                result: DkimResult::None,
                domain: String::new(),
                selector: String::new(),
                identity: None,
                algorithm: String::new(),
                header_b: String::new(),
                reason: Some("no signature".to_string()),
            });
        }
        let mail_from =
            spf::check_mail_from(identity.ip, &identity.mail_from, &identity.helo, resolver);
        let mut spf_outcomes = vec![mail_from];
        if self.check_helo && !identity.helo.is_empty() {
            spf_outcomes.push(spf::check_helo(identity.ip, &identity.helo, resolver));
        }
        let dmarc = match from {
            Ok(domain) => {
                dmarc::evaluate_with(&domain, &dkim, &spf_outcomes[0], resolver, &self.dmarc)
                    .outcome
            }
            Err(e) => DmarcOutcome {
                result: DmarcResult::PermError,
                from_domain: String::new(),
                policy: None,
                disposition: Policy::None,
                reason: Some(e.to_string()),
            },
        };
        AuthResults {
            authserv_id: self.authserv_id.clone(),
            dkim,
            spf: spf_outcomes,
            dmarc: Some(dmarc),
        }
    }
}

/// Where the header section ends (just after its blank line), searching from `from`.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    let hay = &buf[from..];
    if hay.starts_with(b"\r\n") && from == 0 {
        return Some(2);
    }
    if hay.starts_with(b"\n") && from == 0 {
        return Some(1);
    }
    let crlf = hay
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| from + i + 4);
    let lf = hay
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| from + i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl AuthResults {
    /// The message with the Authentication-Results header in front, as a reader (nothing is
    /// copied): `results.prepend(File::open(spooled)?)`.
    pub fn prepend<R: Read>(&self, message: R) -> io::Chain<io::Cursor<Vec<u8>>, R> {
        io::Cursor::new(self.header().into_bytes()).chain(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::StaticResolver;

    /// Hands out the message `step` bytes at a time.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn checker() -> Checker {
        let dns = StaticResolver::new().with_txt("_dmarc.example.org", "v=DMARC1; p=reject");
        Checker::new(dns)
            .authserv_id("mx.test")
            .dmarc_options(dmarc::Options {
                sampling: dmarc::Sampling::Fixed(0),
                nonexistent_policy: false,
            })
    }

    const MSG: &[u8] = b"Authentication-Results: MX.test; dkim=pass header.d=example.org\r\n\
        Authentication-Results: other; spf=pass\r\n\
        From: Al <al@example.org>\r\nSubject: hi\r\n\r\n\
        Authentication-Results: mx.test; stays in the body\r\nbye\r\n";

    #[test]
    fn tee_removes_forged_and_keeps_the_rest() {
        let id = Identity::new("192.0.2.1".parse().unwrap(), "h.example", "a@example.org");
        for step in [1, 2, 3, 7, 100, 100_000] {
            let mut copy = Vec::new();
            let r = checker()
                .check_tee(&id, Trickle(MSG, step), &mut copy)
                .unwrap();
            assert_eq!(
                copy,
                b"Authentication-Results: other; spf=pass\r\n\
                  From: Al <al@example.org>\r\nSubject: hi\r\n\r\n\
                  Authentication-Results: mx.test; stays in the body\r\nbye\r\n",
                "step {step}"
            );
            let dmarc = r.dmarc.unwrap();
            assert_eq!(dmarc.from_domain, "example.org");
            // The DKIM and SPF stubs pass nothing, so DMARC fails with p=reject.
            assert_eq!(dmarc.result, DmarcResult::Fail, "{step}");
            assert_eq!(dmarc.disposition, Policy::Reject);
            assert_eq!(r.spf.len(), 2);
            assert_eq!(r.dkim.len(), 1);
        }
        let mut copy = Vec::new();
        checker()
            .remove_forged(false)
            .check_tee(&id, MSG, &mut copy)
            .unwrap();
        assert_eq!(copy, MSG);
    }

    #[test]
    fn no_or_several_from() {
        let id = Identity::new("192.0.2.1".parse().unwrap(), "", "");
        let r = checker()
            .check(&id, &b"Subject: x\r\n\r\nFrom: a@example.org\r\n"[..])
            .unwrap();
        let d = r.dmarc.unwrap();
        assert_eq!(d.result, DmarcResult::PermError);
        assert_eq!(d.reason.as_deref(), Some("no From header"));
        assert_eq!(r.spf.len(), 1, "no HELO check without a HELO name");
        let r = checker()
            .check(&id, &b"From: a@example.org\r\nFrom: b@example.org"[..])
            .unwrap();
        assert_eq!(r.dmarc.unwrap().reason.as_deref(), Some("2 From headers"));
    }

    #[test]
    fn header_section_limit() {
        let mut msg = b"From: a@example.org\r\n".to_vec();
        msg.extend(std::iter::repeat_n(b"X-Pad: 0123456789\r\n", 200).flatten());
        msg.extend_from_slice(b"\r\nbody\r\n");
        let id = Identity::new("192.0.2.1".parse().unwrap(), "h", "a@example.org");
        let mut copy = Vec::new();
        let r = checker()
            .max_header_section(1024)
            .check_tee(&id, &msg[..], &mut copy)
            .unwrap();
        assert_eq!(copy, msg);
        assert_eq!(r.dmarc.unwrap().from_domain, "example.org");
    }

    #[test]
    fn header_end_positions() {
        assert_eq!(header_end(b"\r\nbody", 0), Some(2));
        assert_eq!(header_end(b"A: b\r\n\r\nbody", 0), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody", 0), Some(6));
        assert_eq!(header_end(b"A: b\r\nC: d\r\n", 0), None);
    }

    #[test]
    fn prepend_reads_header_then_message() {
        let ar = AuthResults::new("mx");
        let mut s = String::new();
        ar.prepend(&b"Subject: x\r\n\r\n"[..])
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "Authentication-Results: mx; none\r\nSubject: x\r\n\r\n");
    }
}
