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

use super::{charset, encoded_word};

/// One `name=value` as written, before RFC 2231 processing.
struct RawParam {
    name: String,
    value: String,
}

/// A character scanner over the header text (indexing by `char`, so no slicing can cut a
/// UTF-8 sequence).
struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.pos += 1;
        }
    }

    /// Skips a comment starting at `(` (nested, with quoted pairs).
    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.bump() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                '\\' => {
                    self.bump();
                }
                _ => {}
            }
        }
    }

    /// Reads unquoted text up to one of `stops` (not consumed), dropping comments.
    fn read_until(&mut self, stops: &[char]) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if stops.contains(&c) {
                break;
            }
            if c == '(' {
                self.skip_comment();
                continue;
            }
            out.push(c);
            self.pos += 1;
        }
        out.trim().to_owned()
    }

    /// Reads a quoted string whose opening quote has been consumed.
    fn read_quoted(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(n) = self.bump() {
                        out.push(n);
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }
}

fn scan(text: &str) -> (String, Vec<RawParam>) {
    let mut s = Scanner {
        chars: text.chars().collect(),
        pos: 0,
    };
    let value = s.read_until(&[';']);
    let mut params = Vec::new();
    loop {
        while matches!(s.peek(), Some(c) if c == ';' || c.is_whitespace()) {
            s.pos += 1;
        }
        if s.peek().is_none() {
            break;
        }
        let name = s.read_until(&['=', ';']);
        if s.peek() != Some('=') {
            continue; // no value: ignored
        }
        s.pos += 1;
        s.skip_ws();
        let value = if s.peek() == Some('"') {
            s.pos += 1;
            let v = s.read_quoted();
            // Anything between the closing quote and the next ';' is dropped.
            let _ = s.read_until(&[';']);
            v
        } else {
            s.read_until(&[';'])
        };
        if !name.is_empty() {
            params.push(RawParam {
                name: name.to_ascii_lowercase(),
                value,
            });
        }
    }
    (value, params)
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
/// in first-seen order.
pub fn parse(text: &str) -> (String, Vec<(String, String)>) {
    let (value, raw) = scan(text);
    // Group by base name, keeping first-seen order.
    struct Group<'a> {
        base: &'a str,
        plain: Option<&'a RawParam>,
        sections: Vec<(u32, bool, &'a RawParam)>,
    }
    let mut groups: Vec<Group<'_>> = Vec::new();
    for p in &raw {
        let (base, section, extended) = split_name(&p.name);
        let idx = match groups.iter().position(|g| g.base == base) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    base,
                    plain: None,
                    sections: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let Some(g) = groups.get_mut(idx) else {
            continue;
        };
        match (section, extended) {
            (None, false) => {
                if g.plain.is_none() {
                    g.plain = Some(p);
                }
            }
            (None, true) => g.sections.push((0, true, p)),
            (Some(n), ext) => g.sections.push((n, ext, p)),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        let value = if g.sections.is_empty() {
            match g.plain {
                Some(p) if p.value.contains("=?") => encoded_word::decode(&p.value),
                Some(p) => p.value.clone(),
                None => continue,
            }
        } else {
            g.sections.sort_by_key(|(n, _, _)| *n);
            g.sections.dedup_by_key(|(n, _, _)| *n);
            let mut bytes = Vec::new();
            let mut cs = String::new();
            for (i, (_, extended, p)) in g.sections.iter().enumerate() {
                if *extended {
                    let mut text = p.value.as_str();
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
            charset::to_utf8(&bytes, label).0
        };
        out.push((g.base.to_owned(), value));
    }
    (value, out)
}

/// RFC 2045 tspecials plus space and controls: characters that force quoting.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// RFC 2231 attribute-char: may stay literal in an extended value.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
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

fn push_param(out: &mut String, name: &str, value: &str) {
    // Names are written as RFC 2231 attribute-chars only, lower-case; nothing else can
    // reach the header (no injection through a crafted name).
    let name: String = name
        .bytes()
        .filter(|&b| is_attr_char(b) && b != b'*')
        .map(|b| char::from(b.to_ascii_lowercase()))
        .take(MAX_NAME)
        .collect();
    if name.is_empty() {
        return;
    }
    let name = name.as_str();
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
