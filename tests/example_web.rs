//! `smtp_server --http ADDR`: the web view and JSON API of the Maildir, tested against the
//! built example as a separate process, over HTTP and in a real headless browser (Debian's
//! `chromium`; under CI=true a missing browser is a failure).

mod common;
use common::Client;
use common::tools::{assert_exit, example, run, tool};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A running `smtp_server --http 127.0.0.1:0`; killed and its Maildir removed on drop.
struct Catcher {
    child: Child,
    smtp: SocketAddr,
    web: SocketAddr,
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Catcher {
    fn start() -> Catcher {
        let n = DIRS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("smtpkit-web-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(example("smtp_server"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--maildir",
            ])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start smtp_server");
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Default::default();
        let (tx, rx) = mpsc::channel();
        let log2 = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("smtp_server listening on ").nth(1) {
                    let _ = tx.send(("smtp", rest.split([',', ' ']).next().unwrap().to_string()));
                }
                if let Some(rest) = line.split("smtp_server web view on http://").nth(1) {
                    let _ = tx.send(("web", rest.trim_end_matches('/').to_string()));
                }
                log2.lock().unwrap().push(line);
            }
        });
        let (mut smtp, mut web) = (None, None);
        while smtp.is_none() || web.is_none() {
            let (kind, addr) = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|e| panic!("no address lines ({e}): {:?}", log.lock().unwrap()));
            let addr: SocketAddr = addr.parse().unwrap();
            if kind == "smtp" {
                smtp = Some(addr);
            } else {
                web = Some(addr);
            }
        }
        Catcher {
            child,
            smtp: smtp.unwrap(),
            web: web.unwrap(),
            dir,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.web)
    }

    /// One HTTP/1.0 request; returns (status, headers as lower-case "name: value", body).
    fn http(&self, method: &str, path: &str) -> (u16, Vec<String>, Vec<u8>) {
        let mut s = TcpStream::connect(self.web).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "{method} {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.web).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end: {:?}", String::from_utf8_lossy(&raw)));
        let head = String::from_utf8(raw[..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines.map(|l| l.to_ascii_lowercase()).collect();
        (status, headers, raw[end + 4..].to_vec())
    }

    fn get_text(&self, path: &str) -> String {
        let (status, _, body) = self.http("GET", path);
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        String::from_utf8(body).unwrap()
    }

    fn files(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Catcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const REPORT: &str = "From: Alice <alice@example.org>\r\n\
To: bob@example.net\r\n\
Subject: Quarterly report <draft>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: multipart/alternative; boundary=\"b2\"\r\n\
\r\n\
--b2\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello Bob, the report is attached.\r\n\
--b2\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hello <b>Bob</b></p><script>parent.document.title='owned'</script>\r\n\
--b2--\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQgZmFrZQ==\r\n\
--b1--\r\n";

/// Sends `message` from `from` to `to` over SMTP; returns the stored file's name.
fn deliver(addr: SocketAddr, from: &str, to: &str, message: &str) -> String {
    let mut c = Client::greeted(addr);
    c.cmd("EHLO client.example", "250 ");
    c.cmd(&format!("MAIL FROM:<{from}>"), "250 ");
    c.cmd(&format!("RCPT TO:<{to}>"), "250 ");
    c.cmd("DATA", "354 ");
    c.send(message);
    c.send(".\r\n");
    let reply = c.expect("250 ");
    c.cmd("QUIT", "221 ");
    reply
        .strip_prefix("250 2.0.0 OK: queued as ")
        .unwrap_or_else(|| panic!("{reply}"))
        .to_string()
}

#[test]
fn web_view_and_json_api_over_http() {
    let w = Catcher::start();
    // Empty.
    assert_eq!(w.get_text("/api/messages"), "[]");
    let page = w.get_text("/");
    assert!(page.contains("No messages yet"), "{page}");

    let first = deliver(w.smtp, "alice@example.org", "bob@example.net", REPORT);
    thread::sleep(Duration::from_millis(20)); // distinct modification times
    let second = deliver(
        w.smtp,
        "ci@example.org",
        "dev@example.net",
        "Subject: Build #42 passed\r\n\r\nAll green.\r\n",
    );
    let size = |name: &str| {
        std::fs::metadata(w.dir.join("new").join(name))
            .unwrap()
            .len()
    };

    // The list, newest first; From and To from the headers, else the envelope.
    let list = w.get_text("/api/messages");
    // The time is the file's modification time.
    let time = |name: &str| {
        std::fs::metadata(w.dir.join("new").join(name))
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let date = |name: &str| smtpkit::mime::util::rfc5322_date(time(name) as i64);
    assert_eq!(
        list,
        format!(
            "[{{\"id\": \"{second}\", \"time\": {}, \"date\": \"{}\", \"from\": \"<ci@example.org>\", \
             \"to\": [\"<dev@example.net>\"], \"subject\": \"Build #42 passed\", \"size\": {}}}, \
             {{\"id\": \"{first}\", \"time\": {}, \"date\": \"{}\", \"from\": \"Alice <alice@example.org>\", \
             \"to\": [\"bob@example.net\"], \"subject\": \"Quarterly report <draft>\", \"size\": {}}}]",
            time(&second),
            date(&second),
            size(&second),
            time(&first),
            date(&first),
            size(&first)
        )
    );

    // One message: headers, text, HTML, attachments.
    let detail = w.get_text(&format!("/api/messages/{first}"));
    assert!(
        detail.contains("\"text\": \"Hello Bob, the report is attached.\""),
        "{detail}"
    );
    assert!(
        detail.contains("\"html\": \"<p>Hello <b>Bob</b></p><script>"),
        "{detail}"
    );
    assert!(
        detail.ends_with(
            "\"attachments\": [{\"index\": 0, \"filename\": \"report.pdf\", \
             \"content_type\": \"application/pdf\", \"size\": 13}]}"
        ),
        "{detail}"
    );
    assert!(
        detail.contains("[\"Subject\", \"Quarterly report <draft>\"]"),
        "{detail}"
    );

    // The raw file, and the attachment as a download.
    let (status, headers, raw) = w.http("GET", &format!("/api/messages/{first}/raw"));
    assert_eq!(status, 200);
    assert!(headers.contains(&"content-type: message/rfc822".to_string()));
    assert_eq!(raw, std::fs::read(w.dir.join("new").join(&first)).unwrap());
    let (status, headers, pdf) = w.http("GET", &format!("/messages/{first}/parts/0"));
    assert_eq!(status, 200);
    assert_eq!(pdf, b"%PDF-1.4 fake");
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("content-disposition: attachment; filename=\"report.pdf\"")),
        "{headers:?}"
    );

    // The pages: escaped text, the HTML part in a sandboxed frame (its script inert), the
    // list refreshing itself.
    let page = w.get_text("/");
    assert!(
        page.contains(">Quarterly report &lt;draft&gt;</a>"),
        "{page}"
    );
    assert!(page.contains(">Build #42 passed</a>"), "{page}");
    assert!(
        page.find(&second).unwrap() < page.find(&first).unwrap(),
        "newest first"
    );
    assert!(page.contains("fetch('/api/messages')"), "{page}");
    let (_, headers, _) = w.http("GET", "/");
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("content-security-policy: default-src 'none'")),
        "{headers:?}"
    );
    let msg = w.get_text(&format!("/messages/{first}"));
    assert!(
        msg.contains(
            "<h1 id=\"subject\" style=\"font-size:20px\">Quarterly report &lt;draft&gt;</h1>"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("<pre id=\"text\">Hello Bob, the report is attached.</pre>"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "<iframe id=\"html\" sandbox title=\"HTML part\" srcdoc=\"&lt;p&gt;Hello &lt;b&gt;Bob&lt;/b&gt;&lt;/p&gt;&lt;script&gt;"
        ),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "<a href=\"/messages/{first}/parts/0\" download=\"report.pdf\">report.pdf</a>"
        )),
        "{msg}"
    );

    // Unknown or unsafe ids, unknown routes, other methods.
    for path in [
        "/api/messages/nope".to_string(),
        "/api/messages/..%2Fnew/raw".to_string(),
        "/api/messages/%2E%2E/raw".to_string(),
        format!("/messages/{first}/parts/1"),
        "/nowhere".to_string(),
    ] {
        assert_eq!(w.http("GET", &path).0, 404, "{path}");
    }
    assert_eq!(w.http("POST", "/api/messages").0, 405);
    // A cross-origin DELETE needs a successful preflight, which it never gets.
    let (status, headers, _) = w.http("OPTIONS", "/api/messages");
    assert_eq!(status, 405);
    assert!(
        !headers.iter().any(|h| h.starts_with("access-control-")),
        "{headers:?}"
    );

    // The server's counters for Prometheus.
    let (status, headers, metrics) = w.http("GET", "/metrics");
    assert_eq!(status, 200);
    assert!(
        headers.contains(&"content-type: text/plain; version=0.0.4".to_string()),
        "{headers:?}"
    );
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("# TYPE smtpkit_messages_total counter\nsmtpkit_messages_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nsmtpkit_accepted_total 2\n"),
        "{metrics}"
    );

    // DELETE empties the Maildir.
    let (status, _, body) = w.http("DELETE", "/api/messages");
    assert_eq!(status, 200);
    assert_eq!(body, b"{\"deleted\": 2}");
    assert_eq!(w.get_text("/api/messages"), "[]");
    assert_eq!(w.files("new"), Vec::<String>::new());
}

/// The headless Chromium flags that work on this project's machines (no GPU, no network
/// beyond localhost, a fresh profile each run).
fn chromium(bin: &std::path::Path, profile: &std::path::Path, args: &[&str]) -> String {
    let o = run(
        Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args),
        None,
        Duration::from_secs(90),
    );
    assert_exit(&o, 0, &format!("chromium {args:?}"));
    o.stdout
}

/// A message sent by Python's smtplib shows in the list page, and its page shows the subject
/// and the text, as Chromium renders them. A screenshot of each page goes to
/// `$SMTPKIT_SCREENSHOTS` when set (the README's come from `SMTPKIT_SCREENSHOTS=docs`).
#[test]
fn chromium_shows_the_list_and_the_message() {
    let Some(browser) = tool("chromium") else {
        return;
    };
    let Some(python) = tool("python3") else {
        return;
    };
    let w = Catcher::start();
    let script = format!(
        "import smtplib\n\
         from email.message import EmailMessage\n\
         m = EmailMessage()\n\
         m['From'] = 'Alice <alice@example.org>'\n\
         m['To'] = 'bob@example.net'\n\
         m['Subject'] = 'Quarterly report'\n\
         m.set_content('Hello Bob,\\n\\nthe report is attached.\\n')\n\
         m.add_alternative('<p>Hello <b>Bob</b>,</p><p>the report is attached.</p>'\n\
             '<script>parent.document.title = \"owned\"</script>', subtype='html')\n\
         m.add_attachment(b'%PDF-1.4 fake', maintype='application', subtype='pdf', filename='report.pdf')\n\
         with smtplib.SMTP('127.0.0.1', {}) as s:\n    s.send_message(m)\n\
         n = EmailMessage()\n\
         n['From'] = 'ci@example.org'\n\
         n['To'] = 'dev@example.net'\n\
         n['Subject'] = 'Build #42 passed'\n\
         n.set_content('All green.\\n')\n\
         with smtplib.SMTP('127.0.0.1', {}) as s:\n    s.send_message(n)\n",
        w.smtp.port(),
        w.smtp.port()
    );
    let o = run(
        Command::new(python).args(["-c", &script]),
        None,
        Duration::from_secs(30),
    );
    assert_exit(&o, 0, "smtplib");
    let ids: Vec<String> = w
        .get_text("/api/messages")
        .split("\"id\": \"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{:?}", w.log.lock().unwrap());
    let report = &ids[1];

    let profile = std::env::temp_dir().join(format!("smtpkit-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let list = chromium(&browser, &profile.join("a"), &["--dump-dom", &w.url("/")]);
    assert!(list.contains("<title>2 message(s)</title>"), "{list}");
    assert!(list.contains(">Quarterly report</a>"), "{list}");
    assert!(list.contains(">Build #42 passed</a>"), "{list}");
    assert!(list.contains("Alice &lt;alice@example.org&gt;"), "{list}");

    let page = chromium(
        &browser,
        &profile.join("b"),
        &["--dump-dom", &w.url(&format!("/messages/{report}"))],
    );
    assert!(
        page.contains("<h1 id=\"subject\" style=\"font-size:20px\">Quarterly report</h1>"),
        "{page}"
    );
    assert!(
        page.contains("<pre id=\"text\">Hello Bob,\n\nthe report is attached.\n</pre>"),
        "{page}"
    );
    assert!(page.contains(">report.pdf</a>"), "{page}");
    // The HTML part's script did not run: the frame is sandboxed.
    assert!(page.contains("<title>Quarterly report</title>"), "{page}");
    assert!(!page.contains("owned</title>"), "{page}");

    // Screenshots: real PNG files of a sensible size.
    let out = std::env::var_os("SMTPKIT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| profile.clone());
    std::fs::create_dir_all(&out).unwrap();
    for (name, path, height, sub) in [
        ("web-list.png", "/".to_string(), "300", "c"),
        ("web-message.png", format!("/messages/{report}"), "860", "d"),
    ] {
        let file = out.join(name);
        let _ = std::fs::remove_file(&file);
        chromium(
            &browser,
            &profile.join(sub),
            &[
                &format!("--screenshot={}", file.display()),
                &format!("--window-size=1000,{height}"),
                &w.url(&path),
            ],
        );
        let png = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
        assert!(png.len() > 5_000, "{name}: {} bytes", png.len());
    }
    let _ = std::fs::remove_dir_all(&profile);
}

/// One HTTP/1.1 request with `Connection: close` and an optional JSON body; returns the body.
fn http_json(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver keeps the connection open: read the head, then Content-Length octets.
    let mut r = BufReader::new(s);
    let mut length = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// A running chromedriver on a free port; on drop (a failed assertion too) its browser
/// session is ended, so Chromium quits, then chromedriver is killed.
struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            let addr = self.addr;
            // On a thread, so that a driver that does not answer cannot hang the test.
            let (tx, rx) = mpsc::channel();
            thread::spawn(move || {
                http_json(addr, "DELETE", &format!("/session/{id}"), None);
                let _ = tx.send(());
            });
            let _ = rx.recv_timeout(Duration::from_secs(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The list page reloads itself when a message arrives: Chromium, driven through
/// chromedriver, shows "1 message(s)" in the title, then "2 message(s)" once a second
/// message is delivered, with no action in the browser.
#[test]
fn chromium_list_refreshes_when_mail_arrives() {
    let Some(browser) = tool("chromium") else {
        return;
    };
    let Some(driver_bin) = tool("chromedriver") else {
        return;
    };
    let w = Catcher::start();
    deliver(
        w.smtp,
        "a@example.org",
        "b@example.net",
        "Subject: first\r\n\r\none\r\n",
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = Driver {
        session: None,
        child: Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(driver.addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let profile = std::env::temp_dir().join(format!("smtpkit-chromedriver-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .iter()
    .map(|a| format!("\"{a}\""))
    .chain([format!("\"--user-data-dir={}\"", profile.display())])
    .collect();
    let caps = format!(
        "{{\"capabilities\": {{\"alwaysMatch\": {{\"goog:chromeOptions\": \
         {{\"binary\": \"{}\", \"args\": [{}]}}}}}}}}",
        browser.display(),
        args.join(", ")
    );
    let created = http_json(driver.addr, "POST", "/session", Some(&caps));
    let session = created
        .split("\"sessionId\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_string();
    driver.session = Some(session.clone());
    let title = || {
        http_json(
            driver.addr,
            "GET",
            &format!("/session/{session}/title"),
            None,
        )
    };
    let url = format!("{{\"url\": \"{}\"}}", w.url("/"));
    http_json(
        driver.addr,
        "POST",
        &format!("/session/{session}/url"),
        Some(&url),
    );
    assert_eq!(title(), "{\"value\":\"1 message(s)\"}");

    deliver(
        w.smtp,
        "a@example.org",
        "b@example.net",
        "Subject: second\r\n\r\ntwo\r\n",
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let t = title();
        if t == "{\"value\":\"2 message(s)\"}" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the list did not refresh: title {t}"
        );
        thread::sleep(Duration::from_millis(200));
    }
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
}
