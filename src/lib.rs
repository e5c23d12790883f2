//! # smtpkit
//!
//! A synchronous, thread-per-connection SMTP/LMTP server library in the spirit of Erlang's
//! gen_smtp: small, readable, and impossible to crash from the network.
//!
//! ## Modules
//!
//! | module | what it holds | I/O | feature |
//! |---|---|---|---|
//! | [`server`] | builder, listeners, session threads on demand, the session state machine, [`server::Handler`]; [`server::script`] runs a session in memory; [`server::params`] the MAIL/RCPT parameter rules; [`server::proxy`] the PROXY protocol v1/v2 parser | sockets (session logic behind an I/O seam) | core |
//! | [`command`] | the SMTP command parser | none | core |
//! | [`address`] | RFC 5321 paths and mailboxes | none | core |
//! | [`reply`] | replies, enhanced status codes, named constants; format and parse | none | core |
//! | [`data`] | DATA un-stuffing (smuggling-proof) and dot-stuffing, BDAT chunks | none | core |
//! | [`extensions`] | EHLO keywords: build (server), parse (client) | none | core |
//! | [`proto`] | what server and client share: [`Protocol`] (SMTP or LMTP), the host name for greetings, [`proto::TlsInfo`] | reads the host name | core |
//! | [`dsn`] | DSN parameters (RFC 3461): RET, ENVID, NOTIFY, ORCPT, xtext | none | core |
//! | `tls` | rustls configurations (ring provider, PEM files, SNI certificates, client trust) | files | `tls` |
//! | `sasl` | PLAIN, LOGIN, CRAM-MD5, XOAUTH2, both sides | none | `auth` |
//! | `client` | send through a relay or to MX hosts (`client::mx`, feature `mx`): TLS, AUTH, pipelining, per-recipient results, pool | sockets, DNS | `client` |
//! | `dns` | a synchronous stub resolver (UDP, TCP fallback), the `Resolver` trait, a TTL cache, a table resolver | sockets | `dns` |
//! | `mime` | MIME decode, SMTP-safe encode, builder, RFC 2047/2231, RFC 5322 addresses | none | `mime` |
//! | `dkim` | DKIM signing, RSA-SHA256 and Ed25519-SHA256, simple and relaxed, oversigning | none | `dkim` |
//! | `auth_check` | inbound authentication: DKIM verification, SPF, DMARC, Authentication-Results | DNS | `auth-check` |
//! | `maildir` | a Maildir store: `tmp/` → `new/` delivery with fsync, unique names | files | `maildir` |
//! | `testing` | an in-process mail catcher for your own tests (bind `127.0.0.1:0`, collect, `wait_for`) | sockets | `testing` |
//!
//! Every feature is on by default; `default-features = false` leaves the server core (listener,
//! session threads, session, DATA/BDAT, LMTP, PROXY) with `log` only.
//! A feature that is off removes its items, so asking for STARTTLS without `tls` (or AUTH
//! without `auth`) is a compile error, never a silent change at run time.
//!
//! The socket layer (`stream`, private) is the one place where bytes meet sockets: buffered
//! reads and writes against absolute deadlines, plaintext or TLS, for server and client alike.
//! Closed sockets, resets and timeouts are ordinary events there: a typed
//! [`server::SessionError`] reaches `on_error`, the log gets one line, the worker lives on.
//! Beside it, `byte_search` (private) finds line ends 32 bytes at a time for the command
//! reader, the DATA decoder and the reply writer. `test_rng` (unit tests only) is their seeded
//! pseudo-random generator.
//!
//! Supported: RFC 5321 (SMTP), RFC 2033 (LMTP), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
//! RFC 6531 (SMTPUTF8), RFC 2920 (PIPELINING), RFC 2034/3463 (enhanced status codes),
//! RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 4954 (AUTH), RFC 4616 (PLAIN),
//! RFC 2195 (CRAM-MD5), RFC 3030 (CHUNKING), RFC 3461 (DSN), RFC 6376 and RFC 8463 (DKIM),
//! HAProxy's PROXY protocol v1/v2.
//!
//! ```no_run
//! use smtpkit::server::{Server, Handler};
//! struct Accept;
//! impl Handler for Accept {}
//! let handle = Server::builder().bind("127.0.0.1:0")?.spawn(|_| Accept)?;
//! println!("listening on {}", handle.local_addr());
//! handle.shutdown(std::time::Duration::from_secs(5));
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod address;
#[cfg(feature = "auth-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth-check")))]
pub mod auth_check;
mod byte_search;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
pub mod command;
pub mod data;
#[cfg(feature = "dkim")]
#[cfg_attr(docsrs, doc(cfg(feature = "dkim")))]
pub mod dkim;
#[cfg(feature = "dns")]
#[cfg_attr(docsrs, doc(cfg(feature = "dns")))]
pub mod dns;
pub mod dsn;
pub mod extensions;
#[cfg(feature = "maildir")]
#[cfg_attr(docsrs, doc(cfg(feature = "maildir")))]
pub mod maildir;
#[cfg(feature = "mime")]
#[cfg_attr(docsrs, doc(cfg(feature = "mime")))]
pub mod mime;
pub mod proto;
pub mod reply;
#[cfg(feature = "auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
pub mod sasl;
pub mod server;
mod stream;
#[cfg(test)]
mod test_rng;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;

pub use proto::Protocol;
pub use reply::{EnhancedCode, Reply};

/// The README's examples, compiled as doc-tests so they stay true (they use the default
/// features).
#[cfg(all(
    doctest,
    feature = "mx",
    feature = "mime",
    feature = "dkim",
    feature = "testing",
    feature = "auth-check"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
