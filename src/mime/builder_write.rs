//! [`MessageBuilder::build`](super::MessageBuilder::build)'s bytes, written straight into one
//! output buffer sized up front: no [`Part`](crate::mime::Part) tree, no per-part strings.
//! The bytes are those [`encode`](crate::mime::encode()) writes for the builder's tree (the
//! same header writers, scans and body encoders; a test compares the two), except the
//! Date, Message-ID and boundaries, which are fresh for every message anyway.
//!
//! Attachments or inline parts declared `multipart/*` or `message/*` are not written here
//! (their raw bytes may go out unencoded, and may need `8bit` on every enclosing part): the
//! builder gives those messages to the tree encoder.

use std::borrow::Cow;

use super::{Attachment, BuildError, Inline, MessageBuilder, Parsed, split_type};
use crate::mime::encode::{token_or, write_header, write_structured};
use crate::mime::scan::{Specials, TextScan, scan_text_keeping};
use crate::mime::{TransferEncoding, b64, params, qp, to_crlf, util};

/// Header names the encoder writes from the part itself (custom ones are skipped).
const CONTENT_HEADERS: [&str; 3] = [
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
];

/// A text leaf in CRLF form, scanned once.
struct Text<'a> {
    bytes: Cow<'a, str>,
    scan: TextScan,
    specials: Specials,
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Self {
        let mut specials = Specials::new();
        let scan = scan_text_keeping(text.as_bytes(), &mut specials);
        if !scan.bare_eol {
            return Text {
                bytes: Cow::Borrowed(text),
                scan,
                specials,
            };
        }
        let bytes = to_crlf(text);
        let mut specials = Specials::new();
        let scan = scan_text_keeping(bytes.as_bytes(), &mut specials);
        Text {
            bytes,
            scan,
            specials,
        }
    }

    /// Whether a line of the written body could start with `--boundary`: only a 7bit body
    /// with a line starting with `-` can (quoted-printable and base64 cannot write `=_`,
    /// which every generated boundary starts with).
    fn holds_delimiter(&self, boundary: &str) -> bool {
        if self.scan.encoding != TransferEncoding::SevenBit || !self.scan.dash_line {
            return false;
        }
        self.bytes.as_bytes().split(|&b| b == b'\n').any(|line| {
            line.strip_prefix(b"--")
                .is_some_and(|l| l.starts_with(boundary.as_bytes()))
        })
    }
}

/// A fresh boundary that no line of the texts below it starts with, and that no boundary of
/// an enclosing multipart is a prefix of (an inner delimiter line would read as an outer
/// one); [`encode`](crate::mime::encode()) checks the written children for the same.
fn boundary(texts: &[Option<&Text<'_>>], outer: &[Option<&str>]) -> String {
    loop {
        let b = util::boundary();
        let free = texts.iter().flatten().all(|t| !t.holds_delimiter(&b))
            && outer.iter().flatten().all(|o| !b.starts_with(o));
        if free {
            return b;
        }
    }
}

/// Whether a part written as a leaf is declared a container (`multipart/*`, `message/*`),
/// for the tree encoder; the types are checked on the way.
fn has_container(inline: &[Inline], attachments: &[Attachment]) -> Result<bool, BuildError> {
    let types = inline
        .iter()
        .map(|i| i.content_type.as_str())
        .chain(attachments.iter().map(|a| a.content_type.as_str()));
    let mut container = false;
    for t in types {
        let (main, _) = split_type(t)?;
        container |= main.eq_ignore_ascii_case("multipart") || main.eq_ignore_ascii_case("message");
    }
    Ok(container)
}

/// The message bytes, or None when the tree encoder must write them (see the module note).
/// Errors are the content-type ones, in the tree's order (inline parts, then attachments).
pub(super) fn message(
    b: &MessageBuilder,
    parsed: &Parsed<'_>,
) -> Result<Option<Vec<u8>>, BuildError> {
    // Inline parts belong to the HTML: without it they are not written (nor checked).
    let inline: &[Inline] = if b.html.is_some() { &b.inline } else { &[] };
    if has_container(inline, &b.attachments)? {
        return Ok(None);
    }
    let mut text = b.text.as_deref().map(Text::new);
    let html = b.html.as_deref().map(Text::new);
    if text.is_none() && html.is_none() {
        text = Some(Text::new(""));
    }
    let related = html.is_some() && !inline.is_empty();
    let alternative = text.is_some() && html.is_some();
    let mixed = !b.attachments.is_empty();

    // Outer boundaries first, as the tree encoder draws them.
    let both = [text.as_ref(), html.as_ref()];
    let b_mixed = mixed.then(|| boundary(&both, &[]));
    let b_alt = alternative.then(|| boundary(&both, &[b_mixed.as_deref()]));
    let b_rel = related.then(|| {
        let outer = [b_mixed.as_deref(), b_alt.as_deref()];
        boundary(&[html.as_ref()], &outer)
    });

    // The top headers, as `MessageBuilder::tree` lists them.
    let mut top: [(&str, Option<Cow<'_, str>>); 5] = [
        ("From", parsed.from.header()),
        ("To", parsed.to.header()),
        ("Cc", parsed.cc.header()),
        ("Reply-To", parsed.reply_to.header()),
        ("Subject", b.subject.as_deref().map(Cow::Borrowed)),
    ];
    // Room for everything: headers grow by encoding at most about threefold.
    let header_room: usize = top
        .iter()
        .filter_map(|(n, v)| v.as_ref().map(|v| n.len() + 3 * v.len() + 16))
        .chain(b.headers.iter().map(|(n, v)| n.len() + 3 * v.len() + 16))
        .sum();
    let body_room: usize = [&text, &html]
        .into_iter()
        .flatten()
        .map(|t| t.scan.encoded_len)
        .chain(
            inline
                .iter()
                .map(|i| b64::encoded_lines_len(i.data.len()) + 3 * i.content_id.len()),
        )
        .chain(
            b.attachments
                .iter()
                .map(|a| b64::encoded_lines_len(a.data.len()) + 3 * a.filename.len()),
        )
        .sum();
    let parts = 2 + inline.len() + b.attachments.len();
    let mut w = Writer {
        out: Vec::with_capacity(header_room + body_room + 600 + 400 * parts),
        // Only leaves the caller named use it: none in a text-only message.
        scratch: String::new(),
    };
    for (name, value) in &mut top {
        if let Some(v) = value.take() {
            write_header(name, &v, &mut w.out);
        }
    }
    for (n, v) in &b.headers {
        if !CONTENT_HEADERS.iter().any(|c| n.eq_ignore_ascii_case(c)) {
            write_header(n, v, &mut w.out);
        }
    }
    let has = |name: &str| b.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("date") {
        write_structured("Date", &util::rfc5322_date_now(), &mut w.out);
    }
    if !has("message-id") {
        write_structured("Message-ID", &util::message_id_here(), &mut w.out);
    }
    if !has("mime-version") {
        write_structured("MIME-Version", "1.0", &mut w.out);
    }

    // The body: [mixed: [alternative: [plain, related: [html, inline...]]], attachments...].
    if let Some(bm) = &b_mixed {
        w.multipart("mixed", bm);
        w.delimiter(bm, b"\r\n");
    }
    if let Some(ba) = &b_alt {
        w.multipart("alternative", ba);
        w.delimiter(ba, b"\r\n");
    }
    if let Some(t) = &text {
        w.text("plain", t);
    }
    if let (Some(ba), Some(_)) = (&b_alt, &html) {
        w.out.extend_from_slice(b"\r\n");
        w.delimiter(ba, b"\r\n");
    }
    if let Some(br) = &b_rel {
        w.multipart("related", br);
        w.delimiter(br, b"\r\n");
    }
    if let Some(h) = &html {
        w.text("html", h);
    }
    if let Some(br) = &b_rel {
        for i in inline {
            w.out.extend_from_slice(b"\r\n");
            w.delimiter(br, b"\r\n");
            let (t, s) = split_type(&i.content_type)?;
            w.bytes(t, s, "inline", None, Some(&i.content_id), &i.data);
        }
        w.out.extend_from_slice(b"\r\n");
        w.delimiter(br, b"--\r\n");
    }
    if let Some(ba) = &b_alt {
        w.out.extend_from_slice(b"\r\n");
        w.delimiter(ba, b"--\r\n");
    }
    if let Some(bm) = &b_mixed {
        for a in &b.attachments {
            w.out.extend_from_slice(b"\r\n");
            w.delimiter(bm, b"\r\n");
            let (t, s) = split_type(&a.content_type)?;
            w.bytes(t, s, "attachment", Some(&a.filename), None, &a.data);
        }
        w.out.extend_from_slice(b"\r\n");
        w.delimiter(bm, b"--\r\n");
    }
    Ok(Some(w.out))
}

/// The output and one buffer for header values.
struct Writer {
    out: Vec<u8>,
    scratch: String,
}

impl Writer {
    /// `Content-Type: type/subtype` of a leaf the caller named.
    fn content_type(&mut self, t: &str, s: &str) {
        let v = &mut self.scratch;
        v.clear();
        v.push_str(&token_or(t, "application"));
        v.push('/');
        v.push_str(&token_or(s, "octet-stream"));
        write_structured("Content-Type", v, &mut self.out);
    }

    /// A multipart's content headers (no transfer encoding: nothing in it is 8-bit). The
    /// subtype is the builder's own; a generated boundary is printable, short, without
    /// spaces, and quoted (it holds `=`), as `params::push_param` writes it. The value is
    /// folded before `boundary` when the line would pass 78 columns, as `write_structured`
    /// folds it: the one place it can.
    fn multipart(&mut self, subtype: &str, boundary: &str) {
        let out = &mut self.out;
        out.extend_from_slice(b"Content-Type: multipart/");
        out.extend_from_slice(subtype.as_bytes());
        let line = "Content-Type: multipart/; boundary=\"\"".len() + subtype.len() + boundary.len();
        if line <= 78 {
            out.extend_from_slice(b"; boundary=\"");
        } else {
            out.extend_from_slice(b";\r\n boundary=\"");
        }
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\"\r\n\r\n");
    }

    fn delimiter(&mut self, boundary: &str, end: &[u8]) {
        self.out.extend_from_slice(b"--");
        self.out.extend_from_slice(boundary.as_bytes());
        self.out.extend_from_slice(end);
    }

    /// A text leaf: headers and body in the encoding its scan chose.
    /// The subtype is the builder's own (`plain`, `html`): the headers fit on their lines.
    fn text(&mut self, subtype: &str, t: &Text<'_>) {
        let out = &mut self.out;
        out.extend_from_slice(b"Content-Type: text/");
        out.extend_from_slice(subtype.as_bytes());
        out.extend_from_slice(b"; charset=utf-8\r\nContent-Transfer-Encoding: ");
        out.extend_from_slice(t.scan.encoding.as_str().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        let bytes = t.bytes.as_bytes();
        match t.scan.encoding {
            TransferEncoding::SevenBit => self.out.extend_from_slice(bytes),
            TransferEncoding::QuotedPrintable => {
                qp::encode_listed(bytes, &mut self.out, Some(&t.specials));
            }
            _ => b64::encode_lines_into(bytes, &mut self.out),
        }
    }

    /// A base64 leaf: an inline part (with its Content-ID) or an attachment.
    fn bytes(
        &mut self,
        t: &str,
        s: &str,
        disposition: &str,
        filename: Option<&str>,
        content_id: Option<&str>,
        data: &[u8],
    ) {
        // Once, for the Content-ID, type and disposition values (no growth step by step).
        self.scratch.reserve(128);
        if let Some(id) = content_id {
            let v = &mut self.scratch;
            v.clear();
            v.push('<');
            v.push_str(id);
            v.push('>');
            write_header("Content-ID", v, &mut self.out);
        }
        self.content_type(t, s);
        let v = &mut self.scratch;
        v.clear();
        v.push_str(disposition);
        if let Some(f) = filename {
            params::push_param(v, "filename", f);
        }
        write_structured("Content-Disposition", v, &mut self.out);
        self.out
            .extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        b64::encode_lines_into(data, &mut self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::MessageBuilder;

    /// The message with what changes between two builds (Date, Message-ID, boundaries) made
    /// stable: each boundary becomes `B<n>` by first appearance.
    fn normalized(message: &[u8]) -> String {
        let text = String::from_utf8(message.to_vec()).expect("ASCII or UTF-8 out");
        let mut out = String::new();
        let mut seen: Vec<String> = Vec::new();
        let mut lines = text.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            let line = if line.starts_with("Date: ") {
                "Date: D".to_owned()
            } else if line.starts_with("Message-ID: ") {
                "Message-ID: M".to_owned()
            } else {
                line.to_owned()
            };
            // Boundaries: `=_`, 32 hex digits, `.`, hex digits.
            let mut rest = line.as_str();
            while let Some(at) = rest.find("=_") {
                out.push_str(&rest[..at]);
                let tail = &rest[at + 2..];
                let hex = |s: &str| s.bytes().take_while(u8::is_ascii_hexdigit).count();
                let body = hex(tail);
                let n = if body == 32 && tail[32..].starts_with('.') {
                    hex(&tail[33..])
                } else {
                    0
                };
                if n == 0 {
                    out.push_str("=_");
                    rest = tail;
                    continue;
                }
                let b = &tail[..33 + n];
                let k = seen.iter().position(|s| s == b).unwrap_or_else(|| {
                    seen.push(b.to_owned());
                    seen.len() - 1
                });
                out.push_str(&format!("B{k}"));
                rest = &tail[33 + n..];
            }
            out.push_str(rest);
            if lines.peek().is_some() {
                out.push_str("\r\n");
            }
        }
        out
    }

    /// The bytes the tree encoder writes for the builder (what `build` wrote before).
    fn by_tree(b: &MessageBuilder) -> Vec<u8> {
        let parsed = b.parse().expect("parses");
        let tree = b.tree(&parsed, true).expect("tree");
        crate::mime::encode::encode_borrowing(&tree, Some(&b.bodies()), Some(&b.texts()))
    }

    #[test]
    fn writes_what_the_tree_encoder_writes() {
        let base = || {
            MessageBuilder::new()
                .from("Alice <alice@example.org>")
                .to("Bob <bob@example.net>, carol@example.com")
        };
        let long = "word ".repeat(40);
        let binary: String = (1u8..=255).map(char::from).collect();
        let texts = [
            "",
            "hi",
            "Hello,\r\nthe report.\r\n",
            "bare\nline\rends\n",
            "café\r\n",
            "-- \r\nsig\r\n--=_0123456789abcdef0123456789abcdef.1\r\n",
            "--=_ab\r\n-x\r\n",
            ".dot\r\nFrom me\r\n trailing \r\n",
            long.as_str(),
            binary.as_str(),
            "a\0b=c\r\n",
        ];
        let mut cases: Vec<MessageBuilder> = Vec::new();
        for t in texts {
            cases.push(base().text(t));
            cases.push(base().html(t));
            cases.push(base().text(t).html(t));
            cases.push(
                base()
                    .text(t)
                    .attach("a.bin", "application/octet-stream", t.into()),
            );
        }
        cases.push(base());
        cases.push(base().subject("Grüße — naïve café").cc("dave@example.com"));
        cases.push(
            base()
                .from("Jürgen <j@example.org>")
                .to("\"Q, R\" <q@example.org>")
                .to("x@example.org")
                .reply_to("r@example.org, Zoë <z@example.org>")
                .subject(&long)
                .header("X-Mailer", "smtpkit")
                .header("X-Long", &long)
                .header("Content-Type", "text/evil")
                .header("content-transfer-encoding", "8bit")
                .text("t")
                .html("<p>h</p>"),
        );
        cases.push(
            base()
                .header("Date", "Mon, 1 Jan 2001 00:00:00 +0000")
                .text("t"),
        );
        cases.push(
            base()
                .header("Message-ID", "<x@y>")
                .header("MIME-Version", "1.0"),
        );
        let with_parts = |b: MessageBuilder| {
            b.inline("logo", "Image/PNG ", vec![0x89, b'P', 0, 13, 10])
                .inline("Ünïcode id", "image/gif", vec![1; 100])
                .attach("Überblick.pdf", " Application/PDF", vec![0, 255, 3])
                .attach(&"long name ".repeat(12), "text/plain", b"x\r\n".to_vec())
                .attach("", "application/x-ünïcode", vec![7; 1000])
        };
        cases.push(with_parts(base().html("<img src=cid:logo>")));
        cases.push(with_parts(base().text("t").html("<img src=cid:logo>")));
        cases.push(with_parts(base().text("t")));
        cases.push(with_parts(base()));
        cases.push(base().html("h").inline("i", "image/png", vec![1, 2]));
        // Containers go to the tree encoder: the same bytes by construction.
        cases.push(base().text("t").attach(
            "fwd.eml",
            "message/rfc822",
            b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        ));
        cases.push(
            base()
                .html("h")
                .inline("m", "multipart/mixed", "ünï\r\n".as_bytes().to_vec()),
        );
        // Inline parts without HTML are not written: `build` once gave their data to the
        // attachments (`bodies` listed them), which `part` never did.
        let no_html = with_parts(base().text("t").inline("x", "image/png", vec![5]));
        let direct = no_html.build().expect("builds").message;
        let tree = crate::mime::encode(&no_html.part().expect("tree"));
        assert_eq!(normalized(&direct), normalized(&tree));
        for (k, b) in cases.iter().enumerate() {
            let direct = b.build().expect("builds").message;
            let tree = by_tree(b);
            assert_eq!(normalized(&direct), normalized(&tree), "case {k}");
        }
    }

    /// Generated builders: every shape, texts and names from hostile pieces.
    #[test]
    fn generated_builders_write_what_the_tree_encoder_writes() {
        const TEXT: [&str; 14] = [
            "word ",
            "\r\n",
            "\n",
            "\r",
            "-",
            "--",
            "--=_",
            "0123456789abcdef",
            "=",
            "café ",
            "\u{0}",
            "\t",
            ".",
            "From ",
        ];
        const NAME: [&str; 10] = ["a", " ", "ü", "\"", "\\", ";", "=?", "x", "(", "\r\n"];
        const TYPE: [&str; 8] = [
            "application/pdf",
            "Image/PNG",
            " text/plain ",
            "x-ü/y",
            "message/rfc822",
            "multipart/mixed",
            "a/b c",
            "application/octet-stream",
        ];
        let mut next = crate::test_rng::xorshift(0x5eed_b111_d3a5_0001);
        let pick = |list: &[&str], most: u64, next: &mut dyn FnMut() -> u64| -> String {
            let n = next() % (most + 1);
            (0..n)
                .map(|_| list[(next() % list.len() as u64) as usize])
                .collect()
        };
        let mut built = 0;
        for k in 0..400 {
            let mut b = MessageBuilder::new()
                .from("Alice <alice@example.org>")
                .to("bob@example.net");
            let shape = next();
            if shape & 1 != 0 {
                b = b.text(&pick(&TEXT, 40, &mut next));
            }
            if shape & 2 != 0 {
                b = b.html(&pick(&TEXT, 60, &mut next));
            }
            if shape & 4 != 0 {
                b = b.subject(&pick(&TEXT, 12, &mut next));
            }
            if shape & 8 != 0 {
                let name = pick(&["X-A", "Date", "Content-Type", "X-ü"], 1, &mut next);
                b = b.header(&name, &pick(&TEXT, 8, &mut next));
            }
            for _ in 0..(shape >> 4) % 3 {
                let t = TYPE[(next() % TYPE.len() as u64) as usize];
                let data = pick(&TEXT, 30, &mut next).into_bytes();
                b = b.inline(&pick(&NAME, 6, &mut next), t, data);
            }
            for _ in 0..(shape >> 6) % 3 {
                let t = TYPE[(next() % TYPE.len() as u64) as usize];
                let data = pick(&TEXT, 30, &mut next).into_bytes();
                b = b.attach(&pick(&NAME, 8, &mut next), t, data);
            }
            let Ok(direct) = b.build() else {
                continue;
            };
            let tree = by_tree(&b);
            assert_eq!(
                normalized(&direct.message),
                normalized(&tree),
                "case {k}: {b:?}"
            );
            built += 1;
        }
        assert!(built > 300, "only {built} built");
    }

    #[test]
    fn output_is_sized_once() {
        let text = "Hello,\r\nthe report is attached.\r\n".repeat(100);
        let html = format!("<p>{}</p>", "caf\u{e9} <b>x</b>\r\n".repeat(200));
        for attach in [0, 1, 100 * 1024] {
            let m = MessageBuilder::new()
                .from("Alice <alice@example.org>")
                .to("Bob <bob@example.net>, carol@example.com")
                .subject("Quarterly report – café")
                .text(&text)
                .html(&html)
                .attach("report.pdf", "application/pdf", vec![9; attach])
                .build()
                .expect("builds")
                .message;
            // Room for all of it, and not much more.
            assert!(m.capacity() >= m.len());
            assert!(m.capacity() < m.len() + m.len() / 4 + 4096, "{attach}");
        }
    }
}
