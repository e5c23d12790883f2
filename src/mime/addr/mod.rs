//! RFC 5322 §3.4 address lists (`From`, `To`, `Cc`, `Reply-To`...), with RFC 6532 UTF-8 and
//! the obsolete syntax of RFC 5322 §4.4.
//!
//! Pure string handling: no I/O, no panic on any input, linear time (nested comments are
//! counted, not recursed into).
//!
//! # What the parsers accept
//!
//! Both [`parse_list`] and [`parse_list_strict`] (and [`parse_mailbox`]) accept the full RFC 5322
//! grammar, including its obsolete forms, which §4 says a parser must accept:
//!
//! - display names as atoms and quoted strings (with `\` escapes), dots in names
//!   (`Joe Q. Public <...>`), RFC 2047 encoded words (decoded with
//!   [`crate::mime::encoded_word::decode`]), raw UTF-8 (RFC 6532);
//! - comments `( ... )`, nested and with escapes, and folding white space anywhere between tokens;
//! - angle addresses, bare addr-specs, source routes (`<@a,@b:c@d>`, dropped), quoted local parts
//!   and local parts made of several words (`"a"."b"@c`), domain literals (`a@[192.0.2.1]`),
//!   white space and comments around the dots of a domain (`jdoe@test  . example`);
//! - groups (`Team: a@b, c@d;`), empty groups (`Undisclosed recipients:;`), and empty list
//!   members (`a@b, , c@d`).
//!
//! [`parse_list`] is lenient on top of that: it never fails and returns every entry it could
//! make sense of, skipping the others (anything up to the next `,`). It also tolerates a missing
//! comma between two addresses (`<a@b> <c@d>`), a `;` used as a list separator outside a group,
//! an unterminated angle address, quoted string or comment at the end of the input, a group
//! without its closing `;` at the end, a group with no name, and local parts with empty dot
//! segments (`a..b@c`, as some mobile carriers issue; re-quoted as `"a..b"@c`). Entries without
//! a domain (`undisclosed-recipients`, `Alice <alice>`, `<>`) are always skipped, so every
//! mailbox returned has an `addr` of the form `local@domain`.
//!
//! # Decisions
//!
//! - `a@b (Alice)`: a mailbox without a display name takes its name from the comments that follow
//!   its address (decoded, joined by a space), the RFC 822 `address (Full Name)` convention.
//!   Python's `email.utils.getaddresses` does the same; `email.headerregistry` drops the comment.
//!   Comments anywhere else are ignored.
//! - The `addr` is normalised: comments and white space removed, the local part unquoted and
//!   re-quoted only when it is not a dot-atom (`"john"@x` becomes `john@x`, `"john doe"@x`
//!   stays), the domain as written (a domain literal keeps its brackets).
//! - Encoded words are decoded in quoted strings too (`"=?utf-8?q?...?=" <a@b>`), which RFC 2047
//!   forbids senders to write but real mail contains; Python does the same. The decoder is only
//!   called when the name contains `=?`.
//! - Control characters in display names (CR, LF, tab, and any that an encoded word decodes to)
//!   become spaces, so a parsed name can never inject a header line when written back.
//!
//! # Files
//!
//! `types.rs` holds the address types and [`AddrError`]; the lexer (`lex.rs`) turns a header
//! value into tokens, the parser (`parse.rs`) builds addresses from them, and `format.rs`
//! writes them back. The tests are in `tests.rs`.

mod format;
mod lex;
mod parse;
#[cfg(test)]
mod tests;
mod types;

pub use format::format_list;
pub use parse::{parse_list, parse_list_strict, parse_mailbox};
pub use types::{AddrError, Address, NamedMailbox, mailboxes};
