//! Writing addresses back into a header: display names quoted or encoded (RFC 2047) as
//! needed, control characters never written.

use std::fmt;

use super::lex::is_atext;
use super::types::{Address, NamedMailbox};
use crate::mime::encoded_word;

impl NamedMailbox {
    /// Formats as in a header: `addr`, or `name <addr>` with the name quoted when needed.
    ///
    /// Non-ASCII names are written raw when `utf8` is true (RFC 6532), else encoded with
    /// [`crate::mime::encoded_word::encode`]. Control characters are never written: in the name
    /// they become spaces, in the address they are dropped.
    pub fn format(&self, utf8: bool) -> String {
        let mut out = String::new();
        self.write_to(&mut out, utf8);
        out
    }

    fn write_to(&self, out: &mut String, utf8: bool) {
        match self.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => {
                push_phrase(out, name, utf8);
                out.push_str(" <");
                push_addr(out, &self.addr);
                out.push('>');
            }
            None => push_addr(out, &self.addr),
        }
    }
}

impl Address {
    /// Formats as in a header, as [`format_list`] does for one entry: a group is written
    /// `name: member, member;` (`name:;` when empty).
    pub fn format(&self, utf8: bool) -> String {
        let mut out = String::new();
        self.write_to(&mut out, utf8);
        out
    }

    fn write_to(&self, out: &mut String, utf8: bool) {
        match self {
            Address::Mailbox(m) => m.write_to(out, utf8),
            Address::Group { name, members } => {
                push_phrase(out, name, utf8);
                out.push(':');
                for (k, m) in members.iter().enumerate() {
                    out.push_str(if k == 0 { " " } else { ", " });
                    m.write_to(out, utf8);
                }
                out.push(';');
            }
        }
    }
}

/// The header form with `utf8 = false` (see [`NamedMailbox::format`]): safe in any header.
impl fmt::Display for NamedMailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(false))
    }
}

/// The header form with `utf8 = false` (see [`Address::format`]): safe in any header.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(false))
    }
}

/// Formats an address list for a header, entries separated by `, ` (no line folding: that is
/// the header writer's job).
///
/// Display names are quoted when they are not plain words separated by single spaces (so any
/// special, a dot, or repeated spaces cause quoting), with `"` and `\` escaped. Non-ASCII names
/// are kept raw when `utf8` is true (RFC 6532, for SMTPUTF8 messages), else encoded with
/// [`crate::mime::encoded_word::encode`]. Control characters are never written.
pub fn format_list(list: &[Address], utf8: bool) -> String {
    let mut out = String::new();
    for (k, a) in list.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        a.write_to(&mut out, utf8);
    }
    out
}

/// Writes a display name: plain words as they are, anything else as a quoted string.
fn push_phrase(out: &mut String, name: &str, utf8: bool) {
    let clean = sanitize(name);
    // A name holding `=?` is encoded even when it could be written raw: the parser decodes
    // encoded words in names (quoted or not), so raw text that looks like one would not come
    // back as written.
    let text = if (!utf8 && !clean.is_ascii()) || clean.contains("=?") {
        encoded_word::encode(&clean)
    } else {
        clean
    };
    let text = sanitize(&text);
    if is_plain_phrase(&text, utf8) {
        out.push_str(&text);
    } else {
        push_quoted(out, &text);
    }
}

/// Words of atext separated by single spaces; ASCII only unless `utf8`.
pub(super) fn is_plain_phrase(s: &str, utf8: bool) -> bool {
    !s.is_empty()
        && s.split(' ')
            .all(|w| !w.is_empty() && w.chars().all(|c| is_atext(c) && (utf8 || c.is_ascii())))
}

pub(super) fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn push_addr(out: &mut String, addr: &str) {
    out.extend(addr.chars().filter(|c| !c.is_control()));
}

/// Control characters become spaces.
pub(super) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
