//! A real HAProxy (Debian's) on loopback in front of two smtpkit servers, with `send-proxy`
//! (v1) and `send-proxy-v2`: the handler sees the real client address, not the balancer's,
//! and messages are spread over both servers.

mod common;
use common::tools::tool;
#[path = "common/pki.rs"]
mod pki;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Client;
use smtpkit::server::{ConnInfo, Handler, ListenerOptions, Server, ServerHandle};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (server index, peer the handler saw, balancer address)
type Seen = Arc<Mutex<Vec<(usize, SocketAddr, Option<SocketAddr>)>>>;

struct Accept;
impl Handler for Accept {}

fn backend(index: usize, seen: &Seen) -> ServerHandle {
    let seen = Arc::clone(seen);
    Server::builder()
        // HAProxy connects from 127.0.0.9 (below): only it may send the header.
        .proxy_trusted(&["127.0.0.9"])
        .bind_with(
            "127.0.0.1:0",
            ListenerOptions {
                proxy_protocol: true,
                ..Default::default()
            },
        )
        .unwrap()
        .spawn(move |c: &ConnInfo| {
            seen.lock().unwrap().push((index, c.peer, c.proxy));
            Accept
        })
        .unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn haproxy_send_proxy_v1_and_v2_in_front_of_two_servers() {
    let Some(haproxy) = tool("haproxy") else {
        return;
    };
    let seen: Seen = Default::default();
    let (a, b) = (backend(0, &seen), backend(1, &seen));
    let (p1, p2, probe) = (free_port(), free_port(), free_port());
    let dir = pki::TempDir::new("haproxy");
    // Backends connect from 127.0.0.9 so the balancer's address differs from the client's.
    let cfg = format!(
        "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend probe\n  bind 127.0.0.1:{probe}\n  tcp-request connection reject\n\
         frontend v1\n  bind 127.0.0.1:{p1}\n  default_backend pool_v1\n\
         frontend v2\n  bind 127.0.0.1:{p2}\n  default_backend pool_v2\n\
         backend pool_v1\n  balance roundrobin\n  server a {} send-proxy source 127.0.0.9\n  server b {} send-proxy source 127.0.0.9\n\
         backend pool_v2\n  balance roundrobin\n  server a {} send-proxy-v2 source 127.0.0.9\n  server b {} send-proxy-v2 source 127.0.0.9\n",
        a.local_addr(),
        b.local_addr(),
        a.local_addr(),
        b.local_addr()
    );
    let cfg_path = dir.write("haproxy.cfg", cfg.as_bytes());
    let _proxy = Kill(
        Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    // A frontend that reaches no backend tells when HAProxy is up (all frontends bind at once).
    while TcpStream::connect(("127.0.0.1", probe)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut clients = Vec::new();
    for port in [p1, p2] {
        for _ in 0..6 {
            let mut c = Client::greeted(SocketAddr::from(([127, 0, 0, 1], port)));
            c.cmd("EHLO client.example", "250 ");
            c.send_mail("a@example.org", &["b@example.net"], "via haproxy\r\n");
            c.cmd("QUIT", "221 ");
            clients.push(c.stream.local_addr().unwrap());
        }
    }
    let s = seen.lock().unwrap().clone();
    assert_eq!(s.len(), 12, "{s:?}");
    for ((server, peer, balancer), client) in s.iter().zip(&clients) {
        // The real client, exactly (address and port), not HAProxy's side of the connection.
        assert_eq!(peer, client, "server {server}");
        assert_eq!(balancer.map(|b| b.ip()), Some("127.0.0.9".parse().unwrap()));
    }
    let on_a = s.iter().filter(|x| x.0 == 0).count();
    assert_eq!(on_a, 6, "round robin spreads the sessions evenly: {s:?}");
    assert_eq!(a.stats().messages + b.stats().messages, 12);
    assert_eq!(a.stats().proxy_errors + b.stats().proxy_errors, 0);
}
