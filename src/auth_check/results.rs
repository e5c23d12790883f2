//! The Authentication-Results header (RFC 8601): writing it, reading it back, a JSON line per
//! check, and removing forged copies of our own.
//!
//! ```
//! use smtpkit::auth_check::{DmarcOutcome, DmarcResult, Policy, results::AuthResults};
//! let mut ar = AuthResults::new("mx.example.net");
//! ar.dmarc = Some(DmarcOutcome {
//!     result: DmarcResult::Pass, from_domain: "example.org".into(),
//!     policy: Some(Policy::Reject), disposition: Policy::None, reason: None,
//! });
//! assert_eq!(
//!     ar.header(),
//!     "Authentication-Results: mx.example.net;\r\n\tdmarc=pass (p=reject dis=none) header.from=example.org\r\n"
//! );
//! assert_eq!(AuthResults::new("mx.example.net").header(), "Authentication-Results: mx.example.net; none\r\n");
//! ```

use std::fmt;

use super::{DkimOutcome, DmarcOutcome, SpfIdentity, SpfOutcome};

/// The header's name.
pub const HEADER_NAME: &str = "Authentication-Results";

/// Longest reason or explanation written into a comment (longer ones are cut, with `...`).
pub const MAX_COMMENT: usize = 200;

/// Line length the header is folded to (RFC 5322 §2.1.1's 78), where the pieces allow.
const FOLD_AT: usize = 78;

/// The results of the checks of one message, as the receiving server `authserv_id` found
/// them: what goes into its Authentication-Results header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The receiving server's name (RFC 8601 §2.5): usually its host name.
    pub authserv_id: String,
    /// One outcome per DKIM signature; a single outcome with result `none` for an unsigned
    /// message that was checked; empty when DKIM was not checked.
    pub dkim: Vec<DkimOutcome>,
    /// The SPF checks (MAIL FROM, HELO), in the order made; empty when SPF was not checked.
    pub spf: Vec<SpfOutcome>,
    /// The DMARC outcome, when DMARC was evaluated.
    pub dmarc: Option<DmarcOutcome>,
}

/// `s` as a `value` (RFC 2045 token, or a quoted-string), or as RFC 8601's `pvalue`, which
/// also allows `local-part@domain` unquoted.
fn value(s: &str, pvalue: bool) -> String {
    let token = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c))
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom =
        |t: &str| !t.is_empty() && t.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
    let domain = |t: &str| {
        !t.is_empty()
            && t.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
    };
    // A quoted local part as RFC 5321 writes it (`"odd local"@example.org`) is a pvalue as
    // it is.
    let quoted_local = |t: &str| {
        t.len() >= 2 && t.starts_with('"') && t.ends_with('"') && {
            let inner = &t[1..t.len() - 1];
            let mut escaped = false;
            inner.chars().all(|c| {
                let ok = !c.is_control() && (escaped || c != '"');
                escaped = !escaped && c == '\\';
                ok
            }) && !escaped
        }
    };
    let plain = token(s)
        || (pvalue
            && match s.rsplit_once('@') {
                Some((local, d)) => {
                    (local.is_empty() || dot_atom(local) || quoted_local(local)) && domain(d)
                }
                None => domain(s),
            });
    if plain {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `(text)`, with parentheses and backslashes escaped, control characters as spaces, cut at
/// [`MAX_COMMENT`] characters.
fn comment(text: &str) -> String {
    let mut out = String::from("(");
    for (i, c) in text.chars().enumerate() {
        if i == MAX_COMMENT {
            out.push_str("...");
            break;
        }
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push(')');
    out
}

fn prop(pieces: &mut Vec<String>, name: &str, v: &str) {
    if !v.is_empty() {
        pieces.push(format!("{name}={}", value(v, true)));
    }
}

impl AuthResults {
    /// No results yet: the header says `none`.
    pub fn new(authserv_id: impl Into<String>) -> AuthResults {
        AuthResults {
            authserv_id: authserv_id.into(),
            dkim: Vec::new(),
            spf: Vec::new(),
            dmarc: None,
        }
    }

    /// Each result as its pieces: `method=result`, comments, properties.
    fn resinfos(&self) -> Vec<Vec<String>> {
        let mut all = Vec::new();
        for d in &self.dkim {
            let mut p = vec![format!("dkim={}", d.result)];
            if let Some(r) = &d.reason {
                p.push(comment(r));
            }
            prop(&mut p, "header.d", &d.domain);
            prop(&mut p, "header.i", d.identity.as_deref().unwrap_or(""));
            prop(&mut p, "header.s", &d.selector);
            prop(&mut p, "header.a", &d.algorithm);
            prop(&mut p, "header.b", &d.header_b);
            all.push(p);
        }
        for s in &self.spf {
            let mut p = vec![format!("spf={}", s.result)];
            if let Some(r) = s.reason.as_ref().or(s.explanation.as_ref()) {
                p.push(comment(r));
            }
            let name = match s.identity {
                SpfIdentity::MailFrom => "smtp.mailfrom",
                SpfIdentity::Helo => "smtp.helo",
            };
            prop(&mut p, name, &s.subject);
            all.push(p);
        }
        if let Some(d) = &self.dmarc {
            let mut p = vec![format!("dmarc={}", d.result)];
            if let Some(policy) = d.policy {
                p.push(format!("(p={policy} dis={})", d.disposition));
            }
            if let Some(r) = &d.reason {
                p.push(comment(r));
            }
            prop(&mut p, "header.from", &d.from_domain);
            all.push(p);
        }
        all
    }

    /// The header's value on one line: `mx.example; dkim=pass header.d=...; spf=...`, or
    /// `mx.example; none` when nothing was checked.
    pub fn value(&self) -> String {
        let id = value(&self.authserv_id, false);
        let results = self.resinfos();
        if results.is_empty() {
            return format!("{id}; none");
        }
        let joined: Vec<String> = results.iter().map(|p| p.join(" ")).collect();
        format!("{id}; {}", joined.join("; "))
    }

    /// The whole header field, folded and ending in CRLF: one result per line, a line folded
    /// again between its pieces past 78 characters.
    pub fn header(&self) -> String {
        let id = value(&self.authserv_id, false);
        let results = self.resinfos();
        if results.is_empty() {
            return format!("{HEADER_NAME}: {id}; none\r\n");
        }
        let mut out = format!("{HEADER_NAME}: {id};");
        let n = results.len();
        for (i, pieces) in results.into_iter().enumerate() {
            out.push_str("\r\n\t");
            let mut line = 8; // a tab counts as up to 8 columns
            for (k, piece) in pieces.iter().enumerate() {
                if k > 0 {
                    if line + 1 + piece.len() > FOLD_AT {
                        out.push_str("\r\n\t  ");
                        line = 10;
                    } else {
                        out.push(' ');
                        line += 1;
                    }
                }
                out.push_str(piece);
                line += piece.len();
            }
            if i + 1 < n {
                out.push(';');
            }
        }
        out.push_str("\r\n");
        out
    }

    /// A JSON object per check, one per line's worth (no newline inside): the DKIM outcomes,
    /// then SPF, then DMARC. Keys: `method`, `result`, then the outcome's fields (`null` when
    /// absent).
    pub fn json_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for d in &self.dkim {
            lines.push(format!(
                "{{\"method\":\"dkim\",\"result\":\"{}\",\"domain\":{},\"selector\":{},\"identity\":{},\"algorithm\":{},\"header_b\":{},\"reason\":{}}}",
                d.result,
                json(&d.domain),
                json(&d.selector),
                json_opt(d.identity.as_deref()),
                json(&d.algorithm),
                json(&d.header_b),
                json_opt(d.reason.as_deref()),
            ));
        }
        for s in &self.spf {
            let identity = match s.identity {
                SpfIdentity::MailFrom => "mailfrom",
                SpfIdentity::Helo => "helo",
            };
            lines.push(format!(
                "{{\"method\":\"spf\",\"result\":\"{}\",\"identity\":\"{identity}\",\"subject\":{},\"domain\":{},\"explanation\":{},\"reason\":{}}}",
                s.result,
                json(&s.subject),
                json(&s.domain),
                json_opt(s.explanation.as_deref()),
                json_opt(s.reason.as_deref()),
            ));
        }
        if let Some(d) = &self.dmarc {
            lines.push(format!(
                "{{\"method\":\"dmarc\",\"result\":\"{}\",\"from_domain\":{},\"policy\":{},\"disposition\":\"{}\",\"reason\":{}}}",
                d.result,
                json(&d.from_domain),
                json_opt(d.policy.map(|p| p.to_string()).as_deref()),
                d.disposition,
                json_opt(d.reason.as_deref()),
            ));
        }
        lines
    }
}

impl fmt::Display for AuthResults {
    /// The folded header field, as [`AuthResults::header`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header())
    }
}

/// `s` as a JSON string literal.
fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), json)
}

/// One result read from a header (RFC 8601 `resinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResInfo {
    /// The method, lower-cased (`dkim`, `spf`, `dmarc`...), without its version.
    pub method: String,
    /// The result, lower-cased.
    pub result: String,
    /// `reason=`, when given.
    pub reason: Option<String>,
    /// The comments after the result and between properties, without parentheses.
    pub comments: Vec<String>,
    /// The properties in order: `(ptype, property, value)`, e.g. `("header", "d",
    /// "example.org")`; type and property lower-cased, value unquoted.
    pub properties: Vec<(String, String, String)>,
}

impl ResInfo {
    /// The value of `ptype.property`, when present.
    pub fn property(&self, name: &str) -> Option<&str> {
        let (ptype, property) = name.split_once('.')?;
        self.properties
            .iter()
            .find(|(t, p, _)| t.eq_ignore_ascii_case(ptype) && p.eq_ignore_ascii_case(property))
            .map(|(_, _, v)| v.as_str())
    }
}

/// A parsed Authentication-Results value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The authserv-id.
    pub authserv_id: String,
    /// The version after it, when given.
    pub version: Option<u32>,
    /// The results, in order (empty for `none`).
    pub results: Vec<ResInfo>,
}

/// Why a header value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where (in bytes from the start of the value).
    pub offset: usize,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Authentication-Results: expected {} at offset {}",
            self.expected, self.offset
        )
    }
}

impl std::error::Error for ParseError {}

/// A small cursor over the value.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
    comments: Vec<String>,
}

/// Deepest nesting of comments read (deeper is an error; bounded work on hostile input).
const MAX_COMMENT_DEPTH: usize = 32;

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn err(&self, expected: &'static str) -> ParseError {
        ParseError {
            offset: self.i,
            expected,
        }
    }

    /// Skips white space and comments, keeping the comments.
    fn cfws(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.i += c.len_utf8(),
                Some('(') => {
                    let start = self.i;
                    let mut depth = 0usize;
                    let mut text = String::new();
                    loop {
                        let Some(c) = self.peek() else {
                            self.i = start;
                            return Err(self.err("the end of a comment"));
                        };
                        self.i += c.len_utf8();
                        match c {
                            '(' => {
                                depth += 1;
                                if depth > MAX_COMMENT_DEPTH {
                                    return Err(self.err("less nested comments"));
                                }
                                if depth > 1 {
                                    text.push(c);
                                }
                            }
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                                text.push(c);
                            }
                            '\\' => {
                                if let Some(n) = self.peek() {
                                    self.i += n.len_utf8();
                                    text.push(n);
                                }
                            }
                            c => text.push(c),
                        }
                    }
                    self.comments.push(text);
                }
                _ => return Ok(()),
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A run of characters up to white space, `(`, `;` or one of `stop`.
    fn word(&mut self, stop: &str) -> &str {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '(' || c == ';' || stop.contains(c) {
                break;
            }
            self.i += c.len_utf8();
        }
        &self.s[start..self.i]
    }

    /// A quoted-string or a word.
    fn value(&mut self, stop: &str) -> Result<String, ParseError> {
        if !self.eat('"') {
            return Ok(self.word(stop).to_string());
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("the closing quote")),
                Some(c) => {
                    self.i += c.len_utf8();
                    match c {
                        '"' => return Ok(out),
                        '\\' => {
                            if let Some(n) = self.peek() {
                                self.i += n.len_utf8();
                                out.push(n);
                            }
                        }
                        c => out.push(c),
                    }
                }
            }
        }
    }
}

/// Reads an Authentication-Results value (the part after `Authentication-Results:`, folding
/// allowed): leniently enough for real headers (unquoted values with `/` or `=`), strictly
/// enough for tests.
///
/// ```
/// use smtpkit::auth_check::results::parse;
/// let p = parse("mx.example; dkim=pass (good) header.d=example.org header.b=\"ab/c+d=\"; spf=fail smtp.mailfrom=a@b.example").unwrap();
/// assert_eq!(p.authserv_id, "mx.example");
/// assert_eq!(p.results[0].property("header.b"), Some("ab/c+d="));
/// assert_eq!(p.results[1].result, "fail");
/// ```
pub fn parse(value: &str) -> Result<Parsed, ParseError> {
    let mut c = Cursor {
        s: value,
        i: 0,
        comments: Vec::new(),
    };
    c.cfws()?;
    let authserv_id = c.value("")?;
    if authserv_id.is_empty() {
        return Err(c.err("an authserv-id"));
    }
    c.cfws()?;
    let mut version = None;
    if c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
        version = Some(c.word("").parse().map_err(|_| c.err("a version number"))?);
        c.cfws()?;
    }
    let mut results = Vec::new();
    loop {
        c.cfws()?;
        if c.peek().is_none() {
            break;
        }
        if !c.eat(';') {
            return Err(c.err("';'"));
        }
        c.cfws()?;
        if c.peek().is_none() {
            // A trailing ';' is tolerated.
            break;
        }
        c.comments.clear();
        let method = c.word("=/").to_ascii_lowercase();
        if method.is_empty() {
            return Err(c.err("a method"));
        }
        if method == "none" && results.is_empty() {
            c.cfws()?;
            if c.peek().is_none() {
                break;
            }
            return Err(c.err("nothing after none"));
        }
        if c.eat('/') {
            c.word("=");
        }
        c.cfws()?;
        if !c.eat('=') {
            return Err(c.err("'=' after the method"));
        }
        c.cfws()?;
        let result = c.word("=").to_ascii_lowercase();
        if result.is_empty() {
            return Err(c.err("a result"));
        }
        let mut info = ResInfo {
            method,
            result,
            reason: None,
            comments: Vec::new(),
            properties: Vec::new(),
        };
        loop {
            c.cfws()?;
            match c.peek() {
                None | Some(';') => break,
                _ => {}
            }
            let name = c.word("=").to_ascii_lowercase();
            c.cfws()?;
            if name.is_empty() || !c.eat('=') {
                return Err(c.err("'=' after a property"));
            }
            c.cfws()?;
            if name == "reason" {
                info.reason = Some(c.value("")?);
                continue;
            }
            let Some((ptype, property)) = name.split_once('.') else {
                return Err(c.err("a property named ptype.property"));
            };
            let v = c.value("")?;
            info.properties
                .push((ptype.to_string(), property.to_string(), v));
        }
        info.comments = std::mem::take(&mut c.comments);
        results.push(info);
    }
    Ok(Parsed {
        authserv_id,
        version,
        results,
    })
}

/// The authserv-id of an Authentication-Results value (its first word), when it has one.
pub fn authserv_id_of(value: &str) -> Option<String> {
    let mut c = Cursor {
        s: value,
        i: 0,
        comments: Vec::new(),
    };
    c.cfws().ok()?;
    c.value("").ok().filter(|v| !v.is_empty())
}

/// The header section `header_section` (up to and including the blank line, or a whole
/// message) without its Authentication-Results fields whose authserv-id is `authserv_id`
/// (compared without regard to case): RFC 8601 §5 asks a receiver to remove such fields that
/// arrive from outside, since they are forged or stale. Every other byte is kept as it was.
/// Returns the new bytes and how many fields were removed.
///
/// ```
/// use smtpkit::auth_check::results::remove_forged;
/// let msg = b"Authentication-Results: MX.example; dkim=pass\r\n\
///             Authentication-Results: other.example;\r\n spf=pass\r\nSubject: hi\r\n\r\nbody\r\n";
/// let (kept, removed) = remove_forged(msg, "mx.example");
/// assert_eq!(removed, 1);
/// assert!(kept.starts_with(b"Authentication-Results: other.example;\r\n spf=pass\r\nSubject"));
/// ```
pub fn remove_forged(header_section: &[u8], authserv_id: &str) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(header_section.len());
    let mut removed = 0;
    let mut i = 0;
    let mut in_body = false;
    while i < header_section.len() {
        if in_body {
            out.extend_from_slice(&header_section[i..]);
            break;
        }
        // One field: its first line and the continuation lines.
        let line_end = |from: usize| {
            header_section[from..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(header_section.len(), |p| from + p + 1)
        };
        let start = i;
        let mut end = line_end(i);
        let first = &header_section[start..end];
        if first == b"\r\n" || first == b"\n" {
            out.extend_from_slice(first);
            i = end;
            in_body = true;
            continue;
        }
        while end < header_section.len() && matches!(header_section[end], b' ' | b'\t') {
            end = line_end(end);
        }
        let field = &header_section[start..end];
        let forged = field
            .iter()
            .position(|&b| b == b':')
            .filter(|&colon| {
                String::from_utf8_lossy(&field[..colon])
                    .trim_end()
                    .eq_ignore_ascii_case(HEADER_NAME)
            })
            .and_then(|colon| authserv_id_of(&String::from_utf8_lossy(&field[colon + 1..])))
            .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id));
        if forged {
            removed += 1;
        } else {
            out.extend_from_slice(field);
        }
        i = end;
    }
    (out, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth_check::{DkimResult, DmarcResult, Policy, SpfResult};

    fn sample() -> AuthResults {
        AuthResults {
            authserv_id: "mx.example.net".to_string(),
            dkim: vec![DkimOutcome {
                result: DkimResult::Pass,
                domain: "example.org".to_string(),
                selector: "sel1".to_string(),
                identity: Some("@example.org".to_string()),
                algorithm: "rsa-sha256".to_string(),
                header_b: "Ab/+9xyz".to_string(),
                reason: None,
            }],
            spf: vec![SpfOutcome {
                result: SpfResult::Fail,
                identity: SpfIdentity::MailFrom,
                subject: "bounce@example.org".to_string(),
                domain: "example.org".to_string(),
                explanation: Some("see http://example.org/why (really)".to_string()),
                reason: None,
            }],
            dmarc: Some(DmarcOutcome {
                result: DmarcResult::Pass,
                from_domain: "example.org".to_string(),
                policy: Some(Policy::Reject),
                disposition: Policy::None,
                reason: None,
            }),
        }
    }

    #[test]
    fn header_format() {
        assert_eq!(
            sample().header(),
            "Authentication-Results: mx.example.net;\r\n\
             \tdkim=pass header.d=example.org header.i=@example.org header.s=sel1\r\n\
             \t  header.a=rsa-sha256 header.b=\"Ab/+9xyz\";\r\n\
             \tspf=fail (see http://example.org/why \\(really\\))\r\n\
             \t  smtp.mailfrom=bounce@example.org;\r\n\
             \tdmarc=pass (p=reject dis=none) header.from=example.org\r\n"
        );
        assert_eq!(
            sample().value(),
            "mx.example.net; dkim=pass header.d=example.org header.i=@example.org \
             header.s=sel1 header.a=rsa-sha256 header.b=\"Ab/+9xyz\"; spf=fail (see \
             http://example.org/why \\(really\\)) smtp.mailfrom=bounce@example.org; dmarc=pass \
             (p=reject dis=none) header.from=example.org"
        );
        for line in sample().header().split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(value("example.org", true), "example.org");
        assert_eq!(value("a.b@example.org", true), "a.b@example.org");
        assert_eq!(value("@example.org", true), "@example.org");
        assert_eq!(value("a b@example.org", true), "\"a b@example.org\"");
        assert_eq!(value("\"q r\"@example.org", true), "\"q r\"@example.org");
        assert_eq!(
            value(r#""a\"b"@example.org"#, true),
            r#""a\"b"@example.org"#
        );
        // Not a quoted local part: a quote inside, or a trailing backslash.
        assert_eq!(value(r#""q"r"@x.org"#, true), r#""\"q\"r\"@x.org""#);
        assert_eq!(value(r#""q\"@x.org"#, true), r#""\"q\\\"@x.org""#);
        assert_eq!(value("a@b", false), "\"a@b\"");
        assert_eq!(value("x\r\ny", true), "\"x  y\"");
        assert_eq!(comment("a (b) \\ c\r\n"), "(a \\(b\\) \\\\ c  )");
        let long = "x".repeat(500);
        assert_eq!(comment(&long).len(), MAX_COMMENT + 5);
    }

    #[test]
    fn round_trip() {
        let ar = sample();
        let header = ar.header();
        let value = header
            .strip_prefix("Authentication-Results:")
            .unwrap()
            .replace("\r\n", "");
        let p = parse(&value).unwrap();
        assert_eq!(p.authserv_id, "mx.example.net");
        assert_eq!(p.results.len(), 3);
        assert_eq!(p.results[0].method, "dkim");
        assert_eq!(p.results[0].property("header.b"), Some("Ab/+9xyz"));
        assert_eq!(p.results[0].property("header.i"), Some("@example.org"));
        assert_eq!(p.results[1].result, "fail");
        assert_eq!(
            p.results[1].comments,
            ["see http://example.org/why (really)"]
        );
        assert_eq!(
            p.results[1].property("smtp.mailfrom"),
            Some("bounce@example.org")
        );
        assert_eq!(p.results[2].comments, ["p=reject dis=none"]);
        assert_eq!(p.results[2].property("header.from"), Some("example.org"));
    }

    #[test]
    fn parse_rfc_examples() {
        // RFC 8601 appendix B.
        let p = parse("example.org 1; none").unwrap();
        assert_eq!(
            (p.authserv_id.as_str(), p.version, p.results.len()),
            ("example.org", Some(1), 0)
        );
        let p =
            parse("example.com;\r\n                  spf=pass smtp.mailfrom=example.net").unwrap();
        assert_eq!(p.results[0].property("smtp.mailfrom"), Some("example.net"));
        let p = parse(
            "example.com;\r\n auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n spf=pass smtp.mailfrom=example.net",
        )
        .unwrap();
        assert_eq!(p.results[0].comments, ["cram-md5"]);
        assert_eq!(p.results[1].method, "spf");
        let p = parse(
            "example.com; dkim=pass reason=\"good signature\" header.i=@mail-router.example.net; dkim=fail reason=\"bad signature\" header.i=@newyork.example.com",
        )
        .unwrap();
        assert_eq!(p.results[0].reason.as_deref(), Some("good signature"));
        assert_eq!(p.results[1].result, "fail");
        let p = parse("mx.example; dkim/1=pass (a (nested) comment) header.b=abc=;").unwrap();
        assert_eq!(p.results[0].comments, ["a (nested) comment"]);
        assert_eq!(p.results[0].property("header.b"), Some("abc="));
    }

    #[test]
    fn parse_errors() {
        assert!(parse("").is_err());
        assert!(parse("mx.example dkim=pass").is_err());
        assert!(parse("mx.example; =pass").is_err());
        assert!(parse("mx.example; dkim pass").is_err());
        assert!(parse("mx.example; dkim=pass d=x").is_err());
        assert!(parse("mx.example; dkim=pass (open").is_err());
        assert!(parse("mx.example; dkim=pass header.d=\"open").is_err());
        assert!(parse("mx.example; none; dkim=pass").is_err());
        let deep = format!("mx; dkim=pass {}", "(".repeat(10_000));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn none_when_nothing_checked() {
        let ar = AuthResults::new("mx");
        assert_eq!(ar.value(), "mx; none");
        assert_eq!(ar.header(), "Authentication-Results: mx; none\r\n");
        assert!(ar.json_lines().is_empty());
        assert_eq!(parse(&ar.value()).unwrap().results, []);
    }

    #[test]
    fn json() {
        let lines = sample().json_lines();
        assert_eq!(
            lines,
            [
                "{\"method\":\"dkim\",\"result\":\"pass\",\"domain\":\"example.org\",\"selector\":\"sel1\",\"identity\":\"@example.org\",\"algorithm\":\"rsa-sha256\",\"header_b\":\"Ab/+9xyz\",\"reason\":null}",
                "{\"method\":\"spf\",\"result\":\"fail\",\"identity\":\"mailfrom\",\"subject\":\"bounce@example.org\",\"domain\":\"example.org\",\"explanation\":\"see http://example.org/why (really)\",\"reason\":null}",
                "{\"method\":\"dmarc\",\"result\":\"pass\",\"from_domain\":\"example.org\",\"policy\":\"reject\",\"disposition\":\"none\",\"reason\":null}",
            ]
        );
        assert_eq!(
            super::json("a\"\\\n\u{1}\u{2028}é"),
            "\"a\\\"\\\\\\n\\u0001\\u2028é\""
        );
    }

    #[test]
    fn forged_headers() {
        let msg = b"Received: x\r\nauthentication-results :  (c) \"MX.Example\" ; spf=pass\r\n\tsmtp.mailfrom=a@b\r\nAuthentication-Results: mx.example.evil; none\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example; none\r\n";
        let (kept, n) = remove_forged(msg, "mx.example");
        assert_eq!(n, 1);
        assert_eq!(
            kept,
            b"Received: x\r\nAuthentication-Results: mx.example.evil; none\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example; none\r\n"
        );
        let (kept, n) = remove_forged(b"Subject: s\n\nbody", "mx");
        assert_eq!((kept.as_slice(), n), (&b"Subject: s\n\nbody"[..], 0));
        assert_eq!(
            authserv_id_of(" (x) mx.example; none").as_deref(),
            Some("mx.example")
        );
        assert_eq!(authserv_id_of("  "), None);
    }
}
