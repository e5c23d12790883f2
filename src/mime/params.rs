//! Header values with parameters: `Content-Type` and `Content-Disposition`
//! (`type/subtype; a=b; c="quoted \" value"`).
//!
//! [`parse`] is lenient: spacing anywhere, comments in parentheses, a trailing `;`, unquoted
//! values containing spaces (taken up to the next `;`, trimmed — Python stops at the first
//! space), an unterminated quoted string (taken to the end), parameters without `=`
//! (ignored). RFC 2231 is supported in full: `name*=charset'lang'%XX`, continuations
//! `name*0=`, `name*1*=` (sections sorted by number, bytes joined before the charset
//! conversion), language ignored; when both `name` and `name*` forms are present the RFC 2231
//! one wins. RFC 2047 encoded words in ordinary values (`name="=?UTF-8?B?...?="`, common in
//! the wild) are decoded. Parameter names are lower-cased and kept in first-seen order.
//!
//! [`format()`] quotes values when needed and uses RFC 2231 (`name*=utf-8''%E2%82%AC`, with
//! `name*0*=` continuations for long values) for anything that is not short printable ASCII.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{charset, encoded_word};

/// One `name=value` as written, before RFC 2231 processing.
struct RawParam<'t> {
    name: Cow<'t, str>,
    value: Cow<'t, str>,
}

/// A scanner over the header text by byte offset. Every byte it stops at or cuts at is
/// ASCII, so no cut can split a UTF-8 sequence; white space is read by `char` (Unicode
/// white space counts, as `str::trim` does).
struct Scanner<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Scanner<'t> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_char(&self) -> Option<char> {
        match self.peek()? {
            b if b.is_ascii() => Some(char::from(b)),
            _ => self.text.get(self.pos..).and_then(|t| t.chars().next()),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek_char().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    /// Skips a comment starting at `(` (nested, with quoted pairs).
    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                // A quoted pair: the next byte is taken literally (a UTF-8 lead byte's
                // continuation bytes are never `(`, `)` or `\`).
                b'\\' => self.pos += usize::from(self.peek().is_some()),
                _ => {}
            }
        }
    }

    /// Reads unquoted text up to `stop` or `also` (not consumed), dropping comments; trimmed.
    /// Borrowed from the text unless a comment had to be cut out.
    fn read_until(&mut self, stop: u8, also: u8) -> Cow<'t, str> {
        let text: &'t str = self.text;
        // The usual text has no comment: one search, borrowed.
        let rest = text.as_bytes().get(self.pos..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&c| c == stop || c == also || c == b'(')
            .map_or(text.len(), |n| self.pos + n);
        if text.as_bytes().get(end) != Some(&b'(') {
            let run = text.get(self.pos..end).unwrap_or_default();
            self.pos = end;
            return Cow::Borrowed(super::trim(run));
        }
        let mut out = String::new();
        let mut run = self.pos;
        let mut cut = false;
        while let Some(c) = self.peek() {
            if c == stop || c == also {
                break;
            }
            if c == b'(' {
                out.push_str(text.get(run..self.pos).unwrap_or_default());
                self.skip_comment();
                run = self.pos;
                cut = true;
                continue;
            }
            self.pos += 1;
        }
        let tail = text.get(run..self.pos).unwrap_or_default();
        if !cut {
            return Cow::Borrowed(super::trim(tail));
        }
        out.push_str(tail);
        Cow::Owned(out.trim().to_owned())
    }

    /// Skips unquoted text up to `stop` (not consumed), comments included.
    fn skip_until(&mut self, stop: u8) {
        while let Some(c) = self.peek() {
            if c == stop {
                break;
            }
            if c == b'(' {
                self.skip_comment();
                continue;
            }
            self.pos += 1;
        }
    }

    /// Reads a quoted string whose opening quote has been consumed. Borrowed from the text
    /// unless it has quoted pairs.
    fn read_quoted(&mut self) -> Cow<'t, str> {
        let text: &'t str = self.text;
        let start = self.pos;
        let mut out: Option<String> = None;
        let mut run = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b'"' => break,
                b'\\' => {
                    out.get_or_insert_with(String::new)
                        .push_str(text.get(run..self.pos).unwrap_or_default());
                    self.pos += 1;
                    // The escaped character, whole.
                    run = self.pos;
                    if let Some(n) = self.peek_char() {
                        self.pos += n.len_utf8();
                    }
                }
                _ => self.pos += 1,
            }
        }
        let end = self.pos;
        if self.peek() == Some(b'"') {
            self.pos += 1;
        }
        match out {
            None => Cow::Borrowed(text.get(start..end).unwrap_or_default()),
            Some(mut o) => {
                o.push_str(text.get(run..end).unwrap_or_default());
                Cow::Owned(o)
            }
        }
    }
}

/// Splits the text into the main value and the parameters as written; `None` when there are
/// more than `max` of them (stopping there, so the work is bounded by `max` too).
fn scan(text: &str, max: usize) -> Option<(Cow<'_, str>, Vec<RawParam<'_>>)> {
    let mut s = Scanner { text, pos: 0 };
    let value = s.read_until(b';', b';');
    let mut params = Vec::new();
    while let Some(p) = s.next_param() {
        if params.len() >= max {
            return None;
        }
        params.push(p);
    }
    Some((value, params))
}

impl<'t> Scanner<'t> {
    /// The next parameter as written, its name lower-cased; `None` at the end of the text.
    /// Parameters without `=` or with an empty name are skipped.
    fn next_param(&mut self) -> Option<RawParam<'t>> {
        loop {
            while let Some(c) = self.peek_char().filter(|&c| c == ';' || c.is_whitespace()) {
                self.pos += c.len_utf8();
            }
            self.peek()?;
            let name = self.read_until(b'=', b';');
            if self.peek() != Some(b'=') {
                continue; // no value: ignored
            }
            self.pos += 1;
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                self.pos += 1;
                let v = self.read_quoted();
                // Anything between the closing quote and the next ';' is dropped.
                self.skip_until(b';');
                v
            } else {
                self.read_until(b';', b';')
            };
            if !name.is_empty() {
                let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(name.to_ascii_lowercase())
                } else {
                    name
                };
                return Some(RawParam { name, value });
            }
        }
    }
}

/// Parameters of the simple path of [`parse_into`]: more go through the grouping one.
const SIMPLE_PARAMS: usize = 8;

/// The common case, at most [`SIMPLE_PARAMS`] parameters and no RFC 2231 section: the first
/// of each name, decoded as it is read, without a list of the raw parameters. `Err(())` when
/// the text needs the full path (`out` is then left as it was); `Ok(None)` past `max_params`.
fn parse_simple<'t, S: ParamSink<'t>>(
    text: &'t str,
    max_params: usize,
    out: &mut S,
) -> Result<Option<Cow<'t, str>>, ()> {
    let mut s = Scanner { text, pos: 0 };
    let value = s.read_until(b';', b';');
    let base = out.len();
    let mut seen = 0usize;
    while let Some(p) = s.next_param() {
        if seen >= max_params {
            out.truncate(base);
            return Ok(None);
        }
        seen += 1;
        if seen > SIMPLE_PARAMS || p.name.as_bytes().contains(&b'*') {
            out.truncate(base);
            return Err(());
        }
        if out.has_since(base, &p.name) {
            continue;
        }
        let value = if super::has_word_start(p.value.as_bytes()) {
            Cow::Owned(encoded_word::decode(&p.value))
        } else {
            p.value
        };
        out.put(p.name, value);
    }
    Ok(Some(value))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = if b == b'%' {
            let h = bytes.get(i + 1).copied().and_then(hex_value);
            let l = bytes.get(i + 2).copied().and_then(hex_value);
            h.zip(l)
        } else {
            None
        };
        if let Some((h, l)) = escaped {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
}

/// How an RFC 2231 name splits: base name, section number, extended (`*` suffix).
fn split_name(name: &str) -> (&str, Option<u32>, bool) {
    let (stem, extended) = match name.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let section = stem
        .rsplit_once('*')
        .filter(|(_, num)| !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(base, num)| num.parse::<u32>().ok().map(|n| (base, n)));
    if let Some((base, n)) = section {
        return (base, Some(n), extended);
    }
    (stem, None, extended)
}

/// Parses a header value with parameters. Returns the main value (trimmed, comments removed,
/// case kept) and the parameters: names lower-case, values decoded (RFC 2231 and RFC 2047),
/// in first-seen order. Linear in the length of `text` (parameters are grouped by name in a
/// hash map); no limit on their number: see [`parse_with_limit`] for input from a peer.
pub fn parse(text: &str) -> (String, Vec<(String, String)>) {
    parse_with_limit(text, usize::MAX).unwrap_or_default()
}

/// [`parse`], refusing (`None`) text with more than `max_params` parameters as written (each
/// RFC 2231 section counts, parameters without `=` do not). The scan stops at the first
/// parameter over the limit.
pub fn parse_with_limit(text: &str, max_params: usize) -> Option<(String, Vec<(String, String)>)> {
    let mut params: Vec<(String, String)> = Vec::new();
    let value = parse_into(text, max_params, &mut params)?;
    Some((value.into_owned(), params))
}

/// Where [`parse_into`] appends parameters: a list that borrows from the text, or an owned one
/// (each name and value allocated once, as it is appended, with no list to convert after).
pub(crate) trait ParamSink<'t> {
    fn len(&self) -> usize;
    fn truncate(&mut self, len: usize);
    fn reserve(&mut self, n: usize);
    /// Whether a parameter from index `from` on has this name.
    fn has_since(&self, from: usize, name: &str) -> bool;
    fn put(&mut self, name: Cow<'t, str>, value: Cow<'t, str>);
}

/// One implementation for both lists: a borrowed name or value stays a `Cow`, an owned one
/// becomes a `String` (`From<Cow<str>>` allocates only what is borrowed).
impl<'t, N, V> ParamSink<'t> for Vec<(N, V)>
where
    N: From<Cow<'t, str>> + AsRef<str>,
    V: From<Cow<'t, str>>,
{
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
    fn reserve(&mut self, n: usize) {
        Vec::reserve(self, n);
    }
    fn has_since(&self, from: usize, name: &str) -> bool {
        let rest = self.get(from..).unwrap_or_default();
        rest.iter().any(|(n, _)| n.as_ref() == name)
    }
    fn put(&mut self, name: Cow<'t, str>, value: Cow<'t, str>) {
        self.push((N::from(name), V::from(value)));
    }
}

/// [`parse_with_limit`] borrowing from `text` (the main value when it has no comment, names
/// and values when they are written as they are): returns the main value and appends the
/// parameters to `out` (nothing appended when it returns `None`).
pub(crate) fn parse_into<'t, S: ParamSink<'t>>(
    text: &'t str,
    max_params: usize,
    out: &mut S,
) -> Option<Cow<'t, str>> {
    if let Ok(done) = parse_simple(text, max_params, out) {
        return done;
    }
    let (value, mut raw) = scan(text, max_params)?;
    // Group by base name, keeping first-seen order; a group points into `raw` by index.
    struct Group {
        /// The first parameter of the group; its name starts with the base name.
        first: usize,
        base_len: usize,
        plain: Option<usize>,
        sections: Vec<(u32, bool, usize)>,
    }
    let mut groups: Vec<Group> = Vec::new();
    {
        // Few groups: a linear search; many: a hash map, so the whole stays linear.
        const LINEAR: usize = 16;
        let mut by_base: Option<HashMap<&str, usize>> = None;
        let base_of = |g: &Group| {
            raw.get(g.first)
                .and_then(|p| p.name.get(..g.base_len))
                .unwrap_or_default()
        };
        for (i, p) in raw.iter().enumerate() {
            let (base, section, extended) = split_name(&p.name);
            let found = match &by_base {
                Some(map) => map.get(base).copied(),
                None => groups.iter().position(|g| base_of(g) == base),
            };
            let idx = match found {
                Some(idx) => idx,
                None => {
                    groups.push(Group {
                        first: i,
                        base_len: base.len(),
                        plain: None,
                        sections: Vec::new(),
                    });
                    let idx = groups.len() - 1;
                    match &mut by_base {
                        Some(map) => {
                            map.insert(base, idx);
                        }
                        None if groups.len() > LINEAR => {
                            by_base = Some(
                                groups
                                    .iter()
                                    .enumerate()
                                    .map(|(j, g)| (base_of(g), j))
                                    .collect(),
                            );
                        }
                        None => {}
                    }
                    idx
                }
            };
            let Some(g) = groups.get_mut(idx) else {
                continue;
            };
            match (section, extended) {
                (None, false) => {
                    if g.plain.is_none() {
                        g.plain = Some(i);
                    }
                }
                (None, true) => g.sections.push((0, true, i)),
                (Some(n), ext) => g.sections.push((n, ext, i)),
            }
        }
    }
    out.reserve(groups.len());
    for mut g in groups {
        let value = if g.sections.is_empty() {
            let Some(p) = g.plain.and_then(|i| raw.get_mut(i)) else {
                continue;
            };
            if super::has_word_start(p.value.as_bytes()) {
                Cow::Owned(encoded_word::decode(&p.value))
            } else {
                std::mem::take(&mut p.value)
            }
        } else {
            g.sections.sort_by_key(|(n, _, _)| *n);
            g.sections.dedup_by_key(|(n, _, _)| *n);
            let mut bytes = Vec::new();
            let mut cs = String::new();
            for (i, (_, extended, p)) in g.sections.iter().enumerate() {
                let Some(p) = raw.get(*p) else {
                    continue;
                };
                if *extended {
                    let mut text: &str = &p.value;
                    if i == 0 {
                        let mut parts = text.splitn(3, '\'');
                        if let (Some(c), Some(_lang), Some(rest)) =
                            (parts.next(), parts.next(), parts.next())
                        {
                            cs = c.to_owned();
                            text = rest;
                        }
                    }
                    percent_decode(text, &mut bytes);
                } else {
                    bytes.extend_from_slice(p.value.as_bytes());
                }
            }
            let label = if cs.is_empty() { "utf-8" } else { cs.as_str() };
            Cow::Owned(charset::to_utf8(&bytes, label).0)
        };
        let Some(first) = raw.get_mut(g.first) else {
            continue;
        };
        let name = if first.name.len() == g.base_len {
            std::mem::take(&mut first.name)
        } else {
            match &first.name {
                Cow::Borrowed(n) => Cow::Borrowed(n.get(..g.base_len).unwrap_or_default()),
                Cow::Owned(n) => Cow::Owned(n.get(..g.base_len).unwrap_or_default().to_owned()),
            }
        };
        out.put(name, value);
    }
    Some(value)
}

/// RFC 2045 tspecials plus space and controls: characters that force quoting.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                )
        })
}

/// RFC 2231 attribute-char: may stay literal in an extended value.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

/// Longest parameter name written (longer ones are cut).
const MAX_NAME: usize = 100;

/// Longest value written in one piece; longer ones use RFC 2231 continuations.
const MAX_SECTION: usize = 60;

fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

pub(crate) fn push_param(out: &mut String, name: &str, value: &str) {
    // Names are written as RFC 2231 attribute-chars only, lower-case; nothing else can
    // reach the header (no injection through a crafted name).
    let clean = |b: u8| is_attr_char(b) && b != b'*';
    let name: Cow<'_, str> =
        if name.len() <= MAX_NAME && name.bytes().all(|b| clean(b) && !b.is_ascii_uppercase()) {
            Cow::Borrowed(name)
        } else {
            name.bytes()
                .filter(|&b| clean(b))
                .map(|b| char::from(b.to_ascii_lowercase()))
                .take(MAX_NAME)
                .collect::<String>()
                .into()
        };
    if name.is_empty() {
        return;
    }
    let name = name.as_ref();
    let printable = value.bytes().all(|b| (b' '..=b'~').contains(&b)) && !value.contains("=?");
    if printable && value.len() <= MAX_SECTION {
        out.push_str("; ");
        out.push_str(name);
        out.push('=');
        if is_token(value) {
            out.push_str(value);
        } else {
            push_quoted(out, value);
        }
        return;
    }
    if printable {
        // Long printable ASCII: plain continuations name*0="...", name*1="..."
        let mut start = 0;
        let mut section = 0;
        while start < value.len() {
            let end = (start + MAX_SECTION).min(value.len());
            let piece = value.get(start..end).unwrap_or_default();
            out.push_str(&format!("; {name}*{section}="));
            push_quoted(out, piece);
            start = end;
            section += 1;
        }
        return;
    }
    // Extended: utf-8'' and percent-encoding, sections never splitting a character.
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in value.chars() {
        let mut buf = [0u8; 4];
        let mut enc = String::new();
        for b in c.encode_utf8(&mut buf).bytes() {
            if is_attr_char(b) {
                enc.push(char::from(b));
            } else {
                enc.push_str(&format!("%{b:02X}"));
            }
        }
        if !current.is_empty() && current.len() + enc.len() > MAX_SECTION {
            sections.push(std::mem::take(&mut current));
        }
        current.push_str(&enc);
    }
    if !current.is_empty() || sections.is_empty() {
        sections.push(current);
    }
    if sections.len() == 1 {
        let only = sections.concat();
        out.push_str(&format!("; {name}*=utf-8''{only}"));
        return;
    }
    for (i, s) in sections.iter().enumerate() {
        if i == 0 {
            out.push_str(&format!("; {name}*0*=utf-8''{s}"));
        } else {
            out.push_str(&format!("; {name}*{i}*={s}"));
        }
    }
}

/// Formats `value; name=value; ...` (see the module docs). The result has spaces after the
/// semicolons as folding points and may be longer than a line: the caller folds it.
/// `value` is written as given (the caller makes it a valid token); parameter names are
/// reduced to RFC 2231 attribute characters and lower-cased, and a parameter whose name is
/// then empty is left out.
pub fn format(value: &str, params: &[(String, String)]) -> String {
    let mut out = value.to_owned();
    for (name, v) in params {
        push_param(&mut out, name, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> (String, Vec<(String, String)>) {
        parse(text)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn basic_and_lenient() {
        assert_eq!(
            p("text/plain; charset=us-ascii"),
            ("text/plain".into(), pairs(&[("charset", "us-ascii")]))
        );
        assert_eq!(
            p(r#"TEXT/Plain ; CharSet = "UTF-8" ; name="a \"q\" b";"#),
            (
                "TEXT/Plain".into(),
                pairs(&[("charset", "UTF-8"), ("name", "a \"q\" b")])
            )
        );
        assert_eq!(
            p("attachment; filename=foo bar.txt; size=3"),
            (
                "attachment".into(),
                pairs(&[("filename", "foo bar.txt"), ("size", "3")])
            )
        );
        assert_eq!(
            p("text/plain (a comment); charset=\"x;y\" junk; flag; a=\"unterminated"),
            (
                "text/plain".into(),
                pairs(&[("charset", "x;y"), ("a", "unterminated")])
            )
        );
        assert_eq!(p(""), (String::new(), vec![]));
        assert_eq!(p(";;;"), (String::new(), vec![]));
        assert_eq!(p("a; =b"), ("a".into(), vec![]));
    }

    /// RFC 2231 §3, §4 and §4.1 examples.
    #[test]
    fn rfc2231_examples() {
        let (_, params) = p("message/external-body; access-type=URL;\r\n \
             URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"");
        assert_eq!(
            params,
            pairs(&[
                ("access-type", "URL"),
                (
                    "url",
                    "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"
                )
            ])
        );
        let (_, params) =
            p("application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
        assert_eq!(params, pairs(&[("title", "This is ***fun***")]));
        let (_, params) = p(
            "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n \
             title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
        );
        assert_eq!(
            params,
            pairs(&[("title", "This is even more ***fun*** isn't it!")])
        );
    }

    #[test]
    fn rfc2231_charsets_and_order() {
        let (_, params) = p("attachment; filename*=utf-8''%E2%82%AC%20rates.pdf");
        assert_eq!(params, pairs(&[("filename", "€ rates.pdf")]));
        let (_, params) = p("attachment; filename*=iso-8859-1'en'%A3%20rates");
        assert_eq!(params, pairs(&[("filename", "£ rates")]));
        // Sections out of order, split character, and a plain fallback that loses.
        let (_, params) =
            p("attachment; filename=\"fallback\"; filename*1*=%AC.txt; filename*0*=UTF-8''%E2%82");
        assert_eq!(params, pairs(&[("filename", "€.txt")]));
        let (_, params) = p("attachment; filename*=''plain");
        assert_eq!(params, pairs(&[("filename", "plain")]));
        let (_, params) = p("attachment; filename*=no-quotes%41");
        assert_eq!(params, pairs(&[("filename", "no-quotesA")]));
    }

    #[test]
    fn rfc2047_inside_values() {
        let (_, params) = p("application/pdf; name=\"=?UTF-8?B?w6lsw6kucGRm?=\"");
        assert_eq!(params, pairs(&[("name", "élé.pdf")]));
        let (_, params) = p("application/pdf; name==?iso-8859-1?q?caf=E9?=");
        assert_eq!(params, pairs(&[("name", "café")]));
    }

    #[test]
    fn format_and_round_trip() {
        assert_eq!(
            format("text/plain", &pairs(&[("charset", "utf-8")])),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            format("attachment", &pairs(&[("filename", "a b.txt")])),
            "attachment; filename=\"a b.txt\""
        );
        assert_eq!(
            format("attachment", &pairs(&[("filename", "€.pdf")])),
            "attachment; filename*=utf-8''%E2%82%AC.pdf"
        );
        let values = [
            "",
            "simple",
            "with \"quotes\" and \\",
            "€uro",
            "=?utf-8?q?looks_encoded?=",
            "line\r\nbreak",
            &"x".repeat(200),
            &"日本語ファイル名".repeat(10),
            &"long ascii value with spaces ".repeat(5),
        ];
        for v in values {
            let text = format("attachment", &pairs(&[("filename", v), ("size", "1")]));
            let (value, params) = parse(&text);
            assert_eq!(value, "attachment");
            assert_eq!(params, pairs(&[("filename", v), ("size", "1")]), "{text}");
            for piece in text.split("; ") {
                assert!(piece.len() <= 80, "{piece}");
            }
        }
    }
}
