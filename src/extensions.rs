//! The EHLO keyword list (RFC 5321 §4.1.1.1): built by the server, parsed by the client.
//!
//! An ordered list of keywords, each with optional parameters. The server fills it from its
//! configuration, a handler may edit it in `on_ehlo`, and the session renders it into the
//! multi-line `250` reply. Keywords compare case-insensitively and are stored upper-case.

/// One EHLO keyword and its parameters (`SIZE 10240000`, `AUTH PLAIN LOGIN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Upper-case keyword.
    pub keyword: String,
    /// Parameters, as sent.
    pub params: Vec<String>,
}

/// An ordered set of EHLO keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    list: Vec<Extension>,
}

impl Extensions {
    /// An empty list.
    pub fn new() -> Self {
        Extensions::default()
    }

    /// Adds or replaces `keyword` with `params`, keeping its position when it was present.
    pub fn set<I, S>(&mut self, keyword: &str, params: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keyword = keyword.to_ascii_uppercase();
        let params: Vec<String> = params.into_iter().map(Into::into).collect();
        match self.list.iter_mut().find(|e| e.keyword == keyword) {
            Some(e) => e.params = params,
            None => self.list.push(Extension { keyword, params }),
        }
        self
    }

    /// Adds a keyword without parameters.
    pub fn add(&mut self, keyword: &str) -> &mut Self {
        self.set(keyword, std::iter::empty::<String>())
    }

    /// Removes a keyword; true when it was present.
    pub fn remove(&mut self, keyword: &str) -> bool {
        let before = self.list.len();
        self.list
            .retain(|e| !e.keyword.eq_ignore_ascii_case(keyword));
        self.list.len() != before
    }

    /// The entry for `keyword`, if present.
    pub fn get(&self, keyword: &str) -> Option<&Extension> {
        self.list
            .iter()
            .find(|e| e.keyword.eq_ignore_ascii_case(keyword))
    }

    /// True when `keyword` is present.
    pub fn contains(&self, keyword: &str) -> bool {
        self.get(keyword).is_some()
    }

    /// The `SIZE` value: `Some(0)` means "no fixed limit" (RFC 1870), `None` that SIZE is absent
    /// or its parameter is not a number.
    pub fn size(&self) -> Option<u64> {
        let e = self.get("SIZE")?;
        match e.params.first() {
            None => Some(0),
            Some(p) => p.parse().ok(),
        }
    }

    /// The keywords in order.
    pub fn iter(&self) -> impl Iterator<Item = &Extension> {
        self.list.iter()
    }

    /// Renders the EHLO reply text: the greeting line, then one line a keyword.
    pub fn ehlo_text(&self, greeting: &str) -> String {
        let mut s = greeting.to_string();
        for e in &self.list {
            s.push('\n');
            s.push_str(&e.keyword);
            for p in &e.params {
                s.push(' ');
                s.push_str(p);
            }
        }
        s
    }

    /// Parses the text lines of a `250` EHLO reply (the first line is the greeting and is
    /// skipped). Unknown or odd lines are kept as keywords; a line that is not a keyword (it
    /// starts with a non-alphanumeric character) is skipped.
    pub fn parse_ehlo<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut ext = Extensions::new();
        for line in lines.into_iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            if !keyword.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                continue;
            }
            // Old servers wrote `AUTH=PLAIN LOGIN`; treat it as AUTH.
            let (keyword, first) = match keyword.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (keyword, None),
            };
            let params: Vec<&str> = first
                .into_iter()
                .filter(|v| !v.is_empty())
                .chain(words)
                .collect();
            if !ext.contains(keyword) {
                ext.set(keyword, params);
            }
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_render() {
        let mut e = Extensions::new();
        e.add("pipelining").set("SIZE", ["1000"]).add("8BITMIME");
        e.set("size", ["2000"]);
        assert_eq!(
            e.ehlo_text("mx Hello"),
            "mx Hello\nPIPELINING\nSIZE 2000\n8BITMIME"
        );
        assert!(e.remove("Pipelining"));
        assert!(!e.remove("PIPELINING"));
        assert_eq!(e.size(), Some(2000));
        e.set("SIZE", Vec::<String>::new());
        assert_eq!(e.size(), Some(0));
    }

    #[test]
    fn parse() {
        let e = Extensions::parse_ehlo([
            "mx.example Hello",
            "PIPELINING",
            "SIZE 10240000",
            "AUTH=PLAIN LOGIN",
            "AUTH PLAIN LOGIN CRAM-MD5",
            "-junk",
            "",
            "8bitmime",
        ]);
        assert!(e.contains("pipelining"));
        assert_eq!(e.size(), Some(10240000));
        assert_eq!(e.get("AUTH").unwrap().params, ["PLAIN", "LOGIN"]);
        assert!(e.contains("8BITMIME"));
        assert_eq!(e.iter().count(), 4);
    }
}
