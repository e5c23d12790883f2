//! Tests of `stream`.

use super::*;
use std::net::TcpListener;

fn pair() -> (Conn, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (Conn::new(s, Duration::from_secs(5)), c)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[test]
fn lines_and_too_long() {
    let (mut conn, mut peer) = pair();
    peer.write_all(b"HELO a\r\nNOOP\n").unwrap();
    peer.write_all(&[b'x'; 100]).unwrap();
    peer.write_all(b"\r\nQUIT\r\n").unwrap();
    assert_eq!(
        conn.read_line(50, soon()).unwrap(),
        Line::Complete(b"HELO a".to_vec())
    );
    assert_eq!(
        conn.read_line(50, soon()).unwrap(),
        Line::Complete(b"NOOP".to_vec())
    );
    assert_eq!(conn.read_line(50, soon()).unwrap(), Line::TooLong);
    assert_eq!(
        conn.read_line(50, soon()).unwrap(),
        Line::Complete(b"QUIT".to_vec())
    );
    drop(peer);
    assert!(matches!(conn.read_line(50, soon()), Err(RecvError::Closed)));
}

#[test]
fn deadline() {
    let (mut conn, mut peer) = pair();
    peer.write_all(b"HEL").unwrap();
    let t = Instant::now();
    let r = conn.read_line(50, Instant::now() + Duration::from_millis(200));
    assert!(matches!(r, Err(RecvError::TimedOut)), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
}

/// The socket timeout is kept between reads while it fits in the time left; a shorter
/// deadline after a long one still gets its own, and no read times out before its deadline.
#[test]
fn kept_socket_timeout_never_stretches_or_shortens_a_deadline() {
    let (mut conn, mut peer) = pair();
    // A long deadline first: the socket keeps a timeout of minutes.
    peer.write_all(b"HELO a\r\n").unwrap();
    let long = Instant::now() + Duration::from_secs(120);
    assert_eq!(
        conn.read_line(50, long).unwrap(),
        Line::Complete(b"HELO a".to_vec())
    );
    // Then a short one: it is met, not the minutes of the timeout set before.
    let t = Instant::now();
    let short = t + Duration::from_millis(300);
    let r = conn.read_line(50, short);
    assert!(matches!(r, Err(RecvError::TimedOut)), "{r:?}");
    assert!(Instant::now() >= short, "timed out before the deadline");
    assert!(t.elapsed() < Duration::from_secs(3));
    // The last timeout set for it was a few milliseconds: a longer deadline replaces it (not
    // a wake-up every few milliseconds), and a read the 7/8 timeout ends early is retried, so
    // data arriving late but in time is read.
    let t = Instant::now();
    let deadline = t + Duration::from_millis(800);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(750));
        peer.write_all(b"NOOP\r\n").unwrap();
        peer
    });
    let r = conn.read_line(50, deadline);
    let _peer = writer.join().unwrap();
    // Either the line (it came in time) or a time-out at the deadline, never before it.
    match r {
        Ok(line) => assert_eq!(line, Line::Complete(b"NOOP".to_vec())),
        Err(RecvError::TimedOut) => assert!(Instant::now() >= deadline),
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn socket_timeout_is_kept_only_while_it_fits_the_time_left() {
    let tf = |current, deadline| timeout_for(current, deadline, Instant::now());
    let secs = Duration::from_secs;
    let in_300 = Instant::now() + secs(300);
    // Nothing set yet, or longer than the time left: a new one, 7/8 of the time left.
    let t = tf(None, in_300).unwrap().unwrap();
    assert!(t <= secs(263) && t >= secs(262), "{t:?}");
    assert!(tf(Some(secs(400)), in_300).unwrap().is_some());
    // Between half the time left and all of it: kept (no setsockopt).
    assert_eq!(tf(Some(secs(262)), in_300).unwrap(), None);
    assert_eq!(tf(Some(secs(157)), in_300).unwrap(), None);
    // Far shorter (left by a near deadline): replaced, or an idle session would wake often.
    assert!(
        tf(Some(Duration::from_millis(2)), in_300)
            .unwrap()
            .is_some()
    );
    // A deadline already passed: timed out.
    let r = tf(None, Instant::now() - Duration::from_millis(1));
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
}

#[test]
fn exact_limit() {
    let (mut conn, mut peer) = pair();
    peer.write_all(b"1234\r\n12345\r\n").unwrap();
    assert_eq!(
        conn.read_line(6, soon()).unwrap(),
        Line::Complete(b"1234".to_vec())
    );
    assert_eq!(conn.read_line(6, soon()).unwrap(), Line::TooLong);
}

/// A CA and a leaf for `localhost`, as a server config and a client config.
#[cfg(feature = "tls")]
fn tls_configs() -> (
    std::sync::Arc<rustls::ServerConfig>,
    std::sync::Arc<rustls::ClientConfig>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let id = crate::tls::Identity::from_pem(leaf.pem().as_bytes(), key.serialize_pem().as_bytes())
        .unwrap();
    let server = crate::tls::ServerTls::new(id).server_config();
    let client = crate::tls::ClientTrust::roots_from_pem(ca_cert.pem().as_bytes())
        .unwrap()
        .client_config()
        .unwrap();
    (server, client)
}

/// A client that finishes the handshake, then sends one TLS record a byte at a time: the
/// server's read deadline is a total, not a timeout per socket read.
#[test]
#[cfg(feature = "tls")]
fn tls_trickle_meets_the_deadline() {
    let (server_cfg, client_cfg) = tls_configs();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut conn = Conn::new(s, Duration::from_secs(5));
        conn.start_tls(server_cfg, soon(), Pending::Discard)
            .unwrap();
        let t = Instant::now();
        let r = conn.read_line(100, Instant::now() + Duration::from_millis(600));
        (r, t.elapsed())
    });
    let sock = TcpStream::connect(addr).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = rustls::StreamOwned::new(
        rustls::ClientConnection::new(client_cfg, name).unwrap(),
        sock,
    );
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls.conn.writer().write_all(b"NOOP\r\n").unwrap();
    let mut record = Vec::new();
    while tls.conn.wants_write() {
        tls.conn.write_tls(&mut record).unwrap();
    }
    // Bounded: at most one byte per 100 ms for 4 s, stopping when the server gave up.
    for b in record.iter().take(40) {
        if server.is_finished() || tls.sock.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (r, elapsed) = server.join().unwrap();
    assert!(matches!(r, Err(RecvError::TimedOut)), "{r:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

/// Implicit TLS behind a PROXY header: the ClientHello's first bytes were read with the
/// header, and the handshake must still complete.
#[test]
#[cfg(feature = "tls")]
fn client_hello_already_buffered() {
    let (server_cfg, client_cfg) = tls_configs();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut conn = Conn::new(s, Duration::from_secs(5));
        // The "header" and the whole first flight arrive in one read.
        while conn.buffered().len() < 12 {
            conn.fill(soon()).unwrap();
        }
        assert_eq!(&conn.buffered()[..6], b"PROXY\n");
        conn.consume(6);
        conn.start_tls(server_cfg, soon(), Pending::HandToTls)
            .unwrap();
        conn.read_line(100, soon())
    });
    let mut sock = TcpStream::connect(addr).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(client_cfg, name).unwrap();
    let mut first = b"PROXY\n".to_vec();
    client.write_tls(&mut first).unwrap();
    sock.write_all(&first).unwrap();
    let mut tls = rustls::StreamOwned::new(client, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls.write_all(b"QUIT\r\n").unwrap();
    tls.flush().unwrap();
    let r = server.join().unwrap();
    assert_eq!(r.unwrap(), Line::Complete(b"QUIT".to_vec()));
}

/// After QUIT with nothing left unread, the reply arrives whole and then end of stream,
/// while the peer has not closed its side (no wait for its FIN).
#[test]
fn close_after_quit_sends_the_reply_then_fin() {
    let (mut conn, mut peer) = pair();
    peer.write_all(b"QUIT\r\n").unwrap();
    assert_eq!(
        conn.read_line(50, soon()).unwrap(),
        Line::Complete(b"QUIT".to_vec())
    );
    conn.out().extend_from_slice(b"221 2.0.0 Bye\r\n");
    conn.close_after_quit();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"221 2.0.0 Bye\r\n");
}

/// Input pipelined after QUIT is already buffered: the close drains it, so the peer gets the
/// reply and a clean end of stream, not a reset.
#[test]
fn close_after_quit_with_input_left_drains_it() {
    let (mut conn, mut peer) = pair();
    peer.write_all(b"QUIT\r\nNOOP\r\nNOOP\r\n").unwrap();
    assert_eq!(
        conn.read_line(50, soon()).unwrap(),
        Line::Complete(b"QUIT".to_vec())
    );
    assert!(!conn.buffered().is_empty());
    conn.out().extend_from_slice(b"221 2.0.0 Bye\r\n");
    let closer = std::thread::spawn(move || conn.close_after_quit());
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"221 2.0.0 Bye\r\n");
    drop(peer);
    closer.join().unwrap();
}
