//! The smallest smtpkit server: the core alone (`default-features = false`), a handler that
//! discards every message, no logger. `smtpkit-minimal PORT` serves 127.0.0.1:PORT (0: any free
//! port) and prints the port it bound. Measured by `bench/lean.sh` (crates, binary size, RSS,
//! threads).

use std::io::Write;

use smtpkit::server::{Handler, Server};

/// Accepts every message and drops it (the default `on_data` streams it into `io::sink()`).
struct Discard;

impl Handler for Discard {}

fn main() -> std::io::Result<()> {
    let port = match std::env::args().nth(1) {
        None => 0,
        Some(p) => p
            .parse::<u16>()
            .map_err(|e| std::io::Error::other(format!("bad port {p:?}: {e}")))?,
    };
    let server = Server::builder()
        .hostname("minimal.example.org")
        .max_sessions(1100)
        .max_sessions_per_ip(1100)
        .bind(("127.0.0.1", port))?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", server.local_addr().port())?;
    out.flush()?;
    server.serve(|_| Discard)
}
