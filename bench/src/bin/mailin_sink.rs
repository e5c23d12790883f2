//! mailin-embedded with a discarding handler, for the server bench. Its own binary, so its
//! TLS backend (OpenSSL through the `ossl` feature) never meets rustls's providers.
//! Binds 127.0.0.1:0, prints the port, serves forever with 1024 worker threads (its default
//! of 4 would queue all but 4 of the 100 or 1000 concurrent sessions).
use std::io::Write;
use std::net::TcpListener;

#[derive(Clone)]
struct Discard;

impl mailin_embedded::Handler for Discard {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        std::hint::black_box(buf);
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut out = std::io::stdout();
    writeln!(out, "{port}")?;
    out.flush()?;
    let mut server = mailin_embedded::Server::new(Discard);
    server
        .with_name("bench.example.org")
        .with_ssl(mailin_embedded::SslConfig::None)?
        .with_num_threads(1024)
        .with_tcp_listener(listener);
    server.serve()?;
    Ok(())
}
