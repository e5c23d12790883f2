//! The address types and the strict parsers' error.

use std::fmt;

use crate::address::{AddressError, Mailbox};

/// One address: a mailbox with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedMailbox {
    /// The display name, decoded (quotes, escapes and encoded words removed); never `Some("")`
    /// when it comes from the parser.
    pub name: Option<String>,
    /// `local@domain` as written, with comments and white space removed and the local part
    /// re-quoted only when it is not a dot-atom.
    pub addr: String,
}

/// A list entry: a mailbox or a group of mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A single mailbox.
    Mailbox(NamedMailbox),
    /// A named group (`Team: a@b, c@d;`), possibly empty (`Undisclosed recipients:;`).
    Group {
        /// The group's display name, decoded.
        name: String,
        /// The group's mailboxes, in order.
        members: Vec<NamedMailbox>,
    },
}

/// Why an address or address list was refused by a strict parser.
///
/// Offsets are in bytes from the start of the parsed string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddrError {
    /// Nothing but white space, comments and commas.
    Empty,
    /// A quoted string without its closing `"`.
    UnterminatedQuote {
        /// Where the quoted string starts.
        offset: usize,
    },
    /// A comment without its closing `)`.
    UnterminatedComment {
        /// Where the comment starts.
        offset: usize,
    },
    /// A domain literal without its closing `]`.
    UnterminatedDomainLiteral {
        /// Where the domain literal starts.
        offset: usize,
    },
    /// A `<` without its closing `>`.
    MissingAngleClose {
        /// Where the `<` is.
        offset: usize,
    },
    /// `<>`, which is not an address in a message header.
    EmptyAngleAddr {
        /// Where the `<` is.
        offset: usize,
    },
    /// A local part with no `@domain` after it.
    MissingAt {
        /// Where the `@` was expected.
        offset: usize,
    },
    /// The local part is neither a dot-atom nor dot-separated words.
    BadLocalPart {
        /// Where the problem was found.
        offset: usize,
    },
    /// The domain is neither dot-separated atoms nor a domain literal.
    BadDomain {
        /// Where the problem was found.
        offset: usize,
    },
    /// A malformed obsolete source route (`<@a,@b:c@d>`).
    BadRoute {
        /// Where the route starts.
        offset: usize,
    },
    /// A display name that is not a phrase (starts with a dot, or a group without a name).
    BadDisplayName {
        /// Where the problem was found.
        offset: usize,
    },
    /// Two addresses without a comma between them.
    MissingComma {
        /// Where the second address starts.
        offset: usize,
    },
    /// A group without its closing `;`.
    UnclosedGroup {
        /// Where the group's `:` is.
        offset: usize,
    },
    /// A group where only a mailbox may be (inside a group, or in [`parse_mailbox`](super::parse_mailbox)).
    GroupNotAllowed {
        /// Where the group's `:` is.
        offset: usize,
    },
    /// A character that cannot appear here.
    Unexpected {
        /// The character found.
        found: char,
        /// Where it is.
        offset: usize,
    },
    /// The input ends in the middle of an address.
    UnexpectedEnd,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::Empty => f.write_str("no address"),
            AddrError::UnterminatedQuote { offset } => {
                write!(f, "unterminated quoted string at offset {offset}")
            }
            AddrError::UnterminatedComment { offset } => {
                write!(f, "unterminated comment at offset {offset}")
            }
            AddrError::UnterminatedDomainLiteral { offset } => {
                write!(f, "unterminated domain literal at offset {offset}")
            }
            AddrError::MissingAngleClose { offset } => {
                write!(f, "missing '>' for the '<' at offset {offset}")
            }
            AddrError::EmptyAngleAddr { offset } => {
                write!(f, "empty angle address '<>' at offset {offset}")
            }
            AddrError::MissingAt { offset } => {
                write!(f, "missing '@domain' at offset {offset}")
            }
            AddrError::BadLocalPart { offset } => {
                write!(f, "malformed local part at offset {offset}")
            }
            AddrError::BadDomain { offset } => write!(f, "malformed domain at offset {offset}"),
            AddrError::BadRoute { offset } => {
                write!(f, "malformed source route at offset {offset}")
            }
            AddrError::BadDisplayName { offset } => {
                write!(f, "malformed display name at offset {offset}")
            }
            AddrError::MissingComma { offset } => {
                write!(f, "missing ',' before the address at offset {offset}")
            }
            AddrError::UnclosedGroup { offset } => {
                write!(f, "group at offset {offset} not closed by ';'")
            }
            AddrError::GroupNotAllowed { offset } => {
                write!(f, "group not allowed here (offset {offset})")
            }
            AddrError::Unexpected { found, offset } => {
                write!(f, "unexpected {found:?} at offset {offset}")
            }
            AddrError::UnexpectedEnd => f.write_str("unexpected end of input"),
        }
    }
}

impl std::error::Error for AddrError {}

impl NamedMailbox {
    /// A mailbox from its parts, stored as given (an empty name is taken as no name).
    ///
    /// The address is not checked; use [`parse_mailbox`](super::parse_mailbox) to validate user input, or
    /// [`NamedMailbox::to_envelope`] to check it as an SMTP mailbox.
    pub fn new(name: Option<&str>, addr: &str) -> NamedMailbox {
        NamedMailbox {
            name: name.filter(|n| !n.is_empty()).map(str::to_owned),
            addr: addr.to_owned(),
        }
    }

    /// The envelope path for this mailbox (for `MAIL FROM`/`RCPT TO`), validated by
    /// [`Mailbox::parse`] with its RFC 5321 rules and length limits.
    pub fn to_envelope(&self) -> Result<Mailbox, AddressError> {
        Mailbox::parse(&self.addr)
    }
}

/// Every mailbox of a list, groups flattened, in order (for building the envelope's recipients).
pub fn mailboxes(list: &[Address]) -> Vec<&NamedMailbox> {
    let mut out = Vec::new();
    for a in list {
        match a {
            Address::Mailbox(m) => out.push(m),
            Address::Group { members, .. } => out.extend(members.iter()),
        }
    }
    out
}
