//! # smtpkit
//!
//! A synchronous, thread-per-connection SMTP/LMTP server library in the spirit of Erlang's
//! gen_smtp: small, readable, and impossible to crash from the network.
//!
//! ## Modules
//!
//! | module | what it holds | I/O |
//! |---|---|---|
//! | [`server`] | builder, listeners, session threads on demand, the session state machine, [`server::Handler`]; [`server::script`] runs a session in memory; [`server::params`] the MAIL/RCPT parameter rules; [`server::proxy`] the PROXY protocol v1/v2 parser | sockets (session logic behind an I/O seam) |
//! | [`client`] | send through a relay or to MX hosts: TLS, AUTH, pipelining, per-recipient results, pool | sockets, DNS |
//! | [`command`] | the SMTP command parser | none |
//! | [`address`] | RFC 5321 paths and mailboxes | none |
//! | [`reply`] | replies, enhanced status codes, named constants; format and parse | none |
//! | [`data`] | DATA un-stuffing (smuggling-proof) and dot-stuffing, BDAT chunks | none |
//! | [`extensions`] | EHLO keywords: build (server), parse (client) | none |
//! | [`proto`] | what server and client share: [`Protocol`] (SMTP or LMTP), the host name for greetings | reads the host name |
//! | [`dsn`] | DSN parameters (RFC 3461): RET, ENVID, NOTIFY, ORCPT, xtext | none |
//! | [`sasl`] | PLAIN, LOGIN, CRAM-MD5, XOAUTH2, both sides | none |
//! | [`tls`] | rustls configurations (ring provider, PEM files, SNI certificates, client trust) | files |
//! | [`mime`] | MIME decode, SMTP-safe encode, builder, RFC 2047/2231, RFC 5322 addresses | none |
//! | [`dkim`] | DKIM signing, RSA-SHA256 and Ed25519-SHA256, simple and relaxed, oversigning | none |
//! | [`maildir`] | a Maildir store: `tmp/` → `new/` delivery with fsync, unique names | files |
//! | [`testing`] | an in-process mail catcher for your own tests (bind `127.0.0.1:0`, collect, `wait_for`) | sockets |
//!
//! The socket layer (`stream`, private) is the one place where bytes meet sockets: buffered
//! reads and writes against absolute deadlines, plaintext or TLS, for server and client alike.
//! Closed sockets, resets and timeouts are ordinary events there: a typed
//! [`server::SessionError`] reaches `on_error`, the log gets one line, the worker lives on.
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
