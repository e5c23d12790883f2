//! The web view of the Maildir (`--http ADDR`): a read-only list of the caught messages
//! (newest first), a page per message, and a JSON API.
//!
//! ```text
//! GET    /                              the list (refreshes itself when mail arrives)
//! GET    /messages/{id}                 one message: headers, text, HTML (sandboxed), attachments
//! GET    /messages/{id}/parts/{n}       attachment n, as a download
//! GET    /api/messages                  [{id, time, date, from, to, subject, size}], newest first
//! GET    /api/messages/{id}             the same plus headers, text, html, attachments
//! GET    /api/messages/{id}/raw         the file as stored (message/rfc822)
//! DELETE /api/messages                  removes every message; {"deleted": n}
//! GET    /metrics                       the server's counters, Prometheus text format
//! ```
//!
//! The Maildir is read at each request, so what another program adds or removes shows at once.
//! The HTML part is shown in an `<iframe sandbox>` (no scripts, no same-origin access, no
//! forms) with a Content-Security-Policy that stops it loading anything remote.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use smtpkit::mime::{self, Body, Part};
use smtpkit::server::Stats;
use tiny_http::{Header, Method, Request, Response};

#[path = "../common/json.rs"]
mod json;

/// A bound HTTP listener serving the Maildir.
pub struct WebView {
    server: tiny_http::Server,
    maildir: PathBuf,
}

impl WebView {
    /// Binds `addr`; the Maildir is read at each request.
    pub fn bind(addr: &str, maildir: &Path) -> io::Result<WebView> {
        let server = tiny_http::Server::http(addr).map_err(io::Error::other)?;
        Ok(WebView {
            server,
            maildir: maildir.to_path_buf(),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server
            .server_addr()
            .to_ip()
            .unwrap_or_else(|| ([0, 0, 0, 0], 0).into())
    }

    /// Serves requests, one at a time, on a thread of its own; `stats` gives the server's
    /// counters for `/metrics`.
    pub fn spawn(self, stats: impl Fn() -> Stats + Send + 'static) {
        std::thread::spawn(move || {
            for request in self.server.incoming_requests() {
                let (status, content_type, body, extra) =
                    if request.method() == &Method::Get && request.url() == "/metrics" {
                        let text = stats().to_prometheus("smtpkit");
                        answer(200, "text/plain; version=0.0.4", text)
                    } else {
                        route(&self.maildir, &request)
                    };
                let mut response = Response::from_data(body).with_status_code(status);
                let fixed = [
                    ("Content-Type", content_type),
                    ("Cache-Control", "no-store"),
                    ("X-Content-Type-Options", "nosniff"),
                    (
                        "Content-Security-Policy",
                        "default-src 'none'; style-src 'unsafe-inline'; \
                         script-src 'unsafe-inline'; img-src data:; connect-src 'self'",
                    ),
                ];
                let extra = extra.iter().map(|(n, v)| (*n, v.as_str()));
                for (name, value) in fixed.into_iter().chain(extra) {
                    // Names and values are ours (ASCII); a bad one would only be left out.
                    if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                        response = response.with_header(h);
                    }
                }
                if let Err(e) = request.respond(response) {
                    log::debug!("web view: cannot answer: {e}");
                }
            }
        });
    }
}

type Answer = (u16, &'static str, Vec<u8>, Vec<(&'static str, String)>);

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

fn answer(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Answer {
    (status, content_type, body.into(), Vec::new())
}

fn not_found() -> Answer {
    answer(404, JSON, "{\"error\": \"not found\"}")
}

fn route(maildir: &Path, request: &Request) -> Answer {
    let url = request.url();
    let path = url.split('?').next().unwrap_or("");
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (request.method(), seg.as_slice()) {
        (Method::Get, []) => answer(200, HTML, list_page(maildir)),
        (Method::Get, ["messages", id]) => match load(maildir, id) {
            Some(m) => answer(200, HTML, message_page(&m)),
            None => answer(
                404,
                HTML,
                "<!doctype html><title>Not found</title><p>No such message.",
            ),
        },
        (Method::Get, ["messages", id, "parts", n]) => {
            let Some(m) = load(maildir, id) else {
                return not_found();
            };
            let Some(part) = n.parse::<usize>().ok().and_then(|n| m.attachments.get(n)) else {
                return not_found();
            };
            let name = part.filename.replace(['"', '\\', '\r', '\n'], "_");
            (
                200,
                "application/octet-stream",
                part.data.clone(),
                vec![(
                    "Content-Disposition",
                    format!(
                        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
                        name.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), "_"),
                        percent_encode(&part.filename)
                    ),
                )],
            )
        }
        (Method::Get, ["api", "messages"]) => {
            let items: Vec<String> = list(maildir).iter().map(summary_json).collect();
            answer(200, JSON, format!("[{}]", items.join(", ")))
        }
        (Method::Get, ["api", "messages", id]) => match load(maildir, id) {
            Some(m) => answer(200, JSON, detail_json(&m)),
            None => not_found(),
        },
        (Method::Get, ["api", "messages", id, "raw"]) => match find(maildir, id) {
            Some(p) => match fs::read(&p) {
                Ok(data) => answer(200, "message/rfc822", data),
                Err(_) => not_found(),
            },
            None => not_found(),
        },
        (Method::Delete, ["api", "messages"]) => {
            let mut deleted = 0;
            for entry in list(maildir) {
                if fs::remove_file(&entry.path).is_ok() {
                    deleted += 1;
                }
            }
            log::info!("web view: deleted {deleted} message(s)");
            answer(200, JSON, format!("{{\"deleted\": {deleted}}}"))
        }
        (Method::Get | Method::Delete, _) => not_found(),
        _ => answer(405, JSON, "{\"error\": \"method not allowed\"}"),
    }
}

/// A message file in `new/` or `cur/`.
struct Entry {
    id: String,
    path: PathBuf,
    time: u64,
    /// The modification time in nanoseconds, for the order.
    nanos: u128,
    size: u64,
    from: String,
    to: Vec<String>,
    subject: String,
}

/// A message file with its decoded parts.
struct Loaded {
    entry: Entry,
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
}

struct Attachment {
    filename: String,
    content_type: String,
    data: Vec<u8>,
}

/// A safe id: a plain file name in `new/` or `cur/`.
fn find(maildir: &Path, id: &str) -> Option<PathBuf> {
    if id.is_empty() || id.starts_with('.') || id.contains('/') || id.contains('\0') {
        return None;
    }
    ["new", "cur"]
        .iter()
        .map(|sub| maildir.join(sub).join(id))
        .find(|p| p.is_file())
}

/// The messages, newest first.
fn list(maildir: &Path) -> Vec<Entry> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(dir) = fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in dir.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if id.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            if let Some(e) = read_entry(&entry.path(), id) {
                v.push(e);
            }
        }
    }
    v.sort_by(|a, b| b.nanos.cmp(&a.nanos).then_with(|| b.id.cmp(&a.id)));
    v
}

/// The first 64 KiB, cut after the header block.
fn read_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
        head.truncate(i + 4);
    } else if let Some(i) = head.windows(2).position(|w| w == b"\n\n") {
        head.truncate(i + 2);
    }
    Some(head)
}

fn read_entry(path: &Path, id: String) -> Option<Entry> {
    let meta = fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let head = mime::decode(&read_head(path)?).ok()?;
    let (from, to) = addresses(&head);
    Some(Entry {
        id,
        path: path.to_path_buf(),
        time: modified.as_secs(),
        nanos: modified.as_nanos(),
        size: meta.len(),
        from,
        to,
        subject: head.header_value("Subject").unwrap_or("").to_string(),
    })
}

/// From and To as the headers give them, else the envelope's (Return-Path, X-Original-To).
fn addresses(top: &Part) -> (String, Vec<String>) {
    let all = |name: &str| -> Vec<String> {
        top.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.trim().to_string())
            .collect()
    };
    let from = top
        .header_value("From")
        .or(top.header_value("Return-Path"))
        .unwrap_or("")
        .trim()
        .to_string();
    let mut to = all("To");
    if to.is_empty() {
        to = all("X-Original-To");
    }
    (from, to)
}

fn load(maildir: &Path, id: &str) -> Option<Loaded> {
    let path = find(maildir, id)?;
    let entry = read_entry(&path, id.to_string())?;
    let data = fs::read(&path).ok()?;
    let top = mime::decode(&data).ok()?;
    let mut loaded = Loaded {
        entry,
        headers: top
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect(),
        text: None,
        html: None,
        attachments: Vec::new(),
    };
    walk(&top, &mut loaded);
    Some(loaded)
}

/// The first text/plain and text/html bodies that are not attachments; everything else
/// that is a leaf is an attachment.
fn walk(part: &Part, out: &mut Loaded) {
    let attachment = part
        .disposition
        .as_ref()
        .is_some_and(|d| d.kind == "attachment");
    match &part.body {
        Body::Multipart(parts) => parts.iter().for_each(|p| walk(p, out)),
        Body::Text(t)
            if !attachment && part.content_type.subtype == "plain" && out.text.is_none() =>
        {
            out.text = Some(t.clone())
        }
        Body::Text(t)
            if !attachment && part.content_type.subtype == "html" && out.html.is_none() =>
        {
            out.html = Some(t.clone())
        }
        body => {
            let data = match body {
                Body::Text(t) => t.clone().into_bytes(),
                Body::Bytes(b) => b.clone(),
                Body::Message(inner) => mime::encode(inner),
                Body::Multipart(_) => return,
            };
            let n = out.attachments.len() + 1;
            out.attachments.push(Attachment {
                filename: part
                    .filename()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("part-{n}")),
                content_type: part.content_type.essence(),
                data,
            });
        }
    }
}

fn summary_json(e: &Entry) -> String {
    let to: Vec<String> = e.to.iter().map(|t| json::quote(t)).collect();
    format!(
        "{{\"id\": {}, \"time\": {}, \"date\": {}, \"from\": {}, \"to\": [{}], \"subject\": {}, \"size\": {}}}",
        json::quote(&e.id),
        e.time,
        json::quote(&mime::util::rfc5322_date(e.time as i64)),
        json::quote(&e.from),
        to.join(", "),
        json::quote(&e.subject),
        e.size
    )
}

fn detail_json(m: &Loaded) -> String {
    let mut s = summary_json(&m.entry);
    s.pop(); // the closing brace
    let headers: Vec<String> = m
        .headers
        .iter()
        .map(|(n, v)| format!("[{}, {}]", json::quote(n), json::quote(v)))
        .collect();
    let opt = |t: &Option<String>| t.as_deref().map_or("null".to_string(), json::quote);
    let attachments: Vec<String> = m
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "{{\"index\": {i}, \"filename\": {}, \"content_type\": {}, \"size\": {}}}",
                json::quote(&a.filename),
                json::quote(&a.content_type),
                a.data.len()
            )
        })
        .collect();
    s.push_str(&format!(
        ", \"headers\": [{}], \"text\": {}, \"html\": {}, \"attachments\": [{}]}}",
        headers.join(", "),
        opt(&m.text),
        opt(&m.html),
        attachments.join(", ")
    ));
    s
}

/// Escapes text for HTML (content and attribute values).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn human_size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}\
header{background:#2b4a6f;color:#fff;padding:10px 16px;display:flex;gap:16px;align-items:center}\
header a{color:#fff;text-decoration:none;font-weight:600}main{padding:12px 16px}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #ddd;vertical-align:top}\
th{background:#f3f5f8}tr.msg:hover{background:#eef4ff;cursor:pointer}td.size{text-align:right;white-space:nowrap}\
td.date{white-space:nowrap;color:#555}pre{white-space:pre-wrap;background:#f8f8f8;padding:10px;border:1px solid #e3e3e3}\
iframe{width:100%;height:220px;border:1px solid #ccc}h2{font-size:16px;margin:18px 0 6px}.empty{color:#777;padding:24px 0}\
table.headers td:first-child{font-weight:600;white-space:nowrap;width:1%}";

fn page(title: &str, body: &str, script: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{STYLE}</style></head><body>\
         <header><a href=\"/\">smtpkit mail catcher</a><span>{}</span></header><main>{body}</main>\
         <script>{script}</script></body></html>\n",
        esc(title),
        esc(title)
    )
}

fn list_page(maildir: &Path) -> String {
    let entries = list(maildir);
    let mut body = String::new();
    if entries.is_empty() {
        body.push_str(
            "<p class=\"empty\" id=\"empty\">No messages yet. Send one: \
             <code>swaks --server 127.0.0.1:2525 --to you@example.org</code></p>",
        );
    } else {
        body.push_str(
            "<table id=\"messages\"><thead><tr><th>Received</th><th>From</th><th>To</th>\
             <th>Subject</th><th>Size</th></tr></thead><tbody>",
        );
        for e in &entries {
            let href = format!("/messages/{}", percent_encode(&e.id));
            body.push_str(&format!(
                "<tr class=\"msg\" data-id=\"{}\" onclick=\"location.href=this.dataset.href\" data-href=\"{}\">\
                 <td class=\"date\">{}</td><td>{}</td><td>{}</td><td><a href=\"{}\">{}</a></td>\
                 <td class=\"size\">{}</td></tr>",
                esc(&e.id),
                esc(&href),
                esc(&mime::util::rfc5322_date(e.time as i64)),
                esc(&e.from),
                esc(&e.to.join(", ")),
                esc(&href),
                esc(if e.subject.is_empty() { "(no subject)" } else { &e.subject }),
                human_size(e.size)
            ));
        }
        body.push_str("</tbody></table>");
    }
    let ids: Vec<String> = entries.iter().map(|e| json::quote(&e.id)).collect();
    // Reloads when the set of messages changes (checked every 2 s).
    let script = format!(
        "const shown = JSON.stringify([{}]);\
         setInterval(async () => {{ try {{ const r = await fetch('/api/messages'); \
         const ids = JSON.stringify((await r.json()).map(m => m.id)); \
         if (ids !== shown) location.reload(); }} catch (e) {{}} }}, 2000);",
        ids.join(",")
    );
    page(&format!("{} message(s)", entries.len()), &body, &script)
}

fn message_page(m: &Loaded) -> String {
    let e = &m.entry;
    let id = percent_encode(&e.id);
    let mut body = format!(
        "<h1 id=\"subject\" style=\"font-size:20px\">{}</h1>",
        esc(if e.subject.is_empty() {
            "(no subject)"
        } else {
            &e.subject
        })
    );
    body.push_str("<table class=\"headers\">");
    for (name, value) in &m.headers {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(value)
        ));
    }
    body.push_str("</table>");
    if let Some(text) = &m.text {
        body.push_str(&format!(
            "<h2>Text</h2><pre id=\"text\">{}</pre>",
            esc(text)
        ));
    }
    if let Some(html) = &m.html {
        // No scripts, no forms, no same-origin access; nothing remote (the CSP of srcdoc
        // inherits the page's).
        body.push_str(&format!(
            "<h2>HTML</h2><iframe id=\"html\" sandbox title=\"HTML part\" srcdoc=\"{}\"></iframe>",
            esc(html)
        ));
    }
    if !m.attachments.is_empty() {
        body.push_str("<h2>Attachments</h2><ul id=\"attachments\">");
        for (i, a) in m.attachments.iter().enumerate() {
            body.push_str(&format!(
                "<li><a href=\"/messages/{id}/parts/{i}\" download=\"{}\">{}</a> ({}, {})</li>",
                esc(&a.filename),
                esc(&a.filename),
                esc(&a.content_type),
                human_size(a.data.len() as u64)
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<h2>Source</h2><p><a id=\"raw\" href=\"/api/messages/{id}/raw\">raw message</a> \
         ({}) · <a href=\"/api/messages/{id}\">JSON</a></p>",
        human_size(e.size)
    ));
    page(&e.subject, &body, "")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
