//! The floor of smtpkit's fixed shape, for `bench/profile/floor.sh`: a thread-per-connection
//! SMTP responder in plain std with nothing else in it. One listener thread accepts and hands
//! each socket to an idle pool thread (a mutex and a condition variable, as smtpkit's pool);
//! the pool thread answers `250` to every line, `354` to DATA, reads the body up to the dot
//! looking only at the end of each read (smtp-source does not pipeline), `221` to QUIT. No parsing, no allocation per command, no timeouts,
//! no limits: what any server of this shape pays in wake-ups and system calls and no more.
//! With `--accept-in-workers` every pool thread blocks in `accept` itself (no hand-off), to
//! price the hand-off alone.
//!
//! For `bench/profile/wakeups.sh` (where the scheduler puts a woken session thread), three
//! environment knobs: `FLOOR_THREADS` (pool threads, default 64), `FLOOR_SPIN` (a busy loop of
//! that many steps before each `250`, work per command) and `FLOOR_TIMEOUTS` (set 300 s socket
//! timeouts, as smtpkit does).
//!
//! Prints the port on stdout, then serves until killed.
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

/// More than the 40 sessions of the largest load, few enough not to matter.
const THREADS: usize = 64;

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    io::stdout().flush()?;
    if std::env::args().any(|a| a == "--accept-in-workers") {
        let listener = Arc::new(listener);
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let listener = Arc::clone(&listener);
                thread::spawn(move || {
                    while let Ok((sock, _)) = listener.accept() {
                        let _ = session(sock);
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        return Ok(());
    }
    let queue = Arc::new((Mutex::new(VecDeque::<TcpStream>::new()), Condvar::new()));
    let threads = std::env::var("FLOOR_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(THREADS);
    for _ in 0..threads {
        let queue = Arc::clone(&queue);
        thread::spawn(move || {
            loop {
                let sock = {
                    let (lock, ready) = &*queue;
                    let Ok(mut q) = lock.lock() else { return };
                    loop {
                        if let Some(s) = q.pop_front() {
                            break s;
                        }
                        q = match ready.wait(q) {
                            Ok(q) => q,
                            Err(_) => return,
                        };
                    }
                };
                let _ = session(sock);
            }
        });
    }
    for sock in listener.incoming() {
        let Ok(sock) = sock else { continue };
        let (lock, ready) = &*queue;
        if let Ok(mut q) = lock.lock() {
            q.push_back(sock);
            ready.notify_one();
        }
    }
    Ok(())
}

/// `FLOOR_SPIN` steps of busy work: a stand-in for a server's work per command.
fn spin() {
    static N: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let n = *N.get_or_init(|| {
        std::env::var("FLOOR_SPIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    });
    let mut x = 0u64;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_add(i));
    }
    std::hint::black_box(x);
}

fn linger() -> bool {
    static LINGER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LINGER.get_or_init(|| std::env::args().any(|a| a == "--linger"))
}

/// One session: a reply per line, the body skipped up to its dot line.
fn session(mut sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    if std::env::var_os("FLOOR_TIMEOUTS").is_some() {
        sock.set_read_timeout(Some(std::time::Duration::from_secs(300)))?;
        sock.set_write_timeout(Some(std::time::Duration::from_secs(300)))?;
    }
    sock.write_all(b"220 floor ESMTP\r\n")?;
    let mut buf = vec![0u8; 16 * 1024];
    let (mut start, mut end) = (0, 0);
    let mut in_data = false;
    // The last bytes of the body seen so far, to find "\r\n.\r\n" across reads.
    let mut tail = [0u8; 5];
    loop {
        if in_data {
            let n = sock.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            // smtp-source waits for the reply to the dot, so the dot line ends a read: only
            // the last five bytes (with the previous read's, should they be split) matter.
            let keep = n.min(5);
            tail.rotate_left(keep);
            tail[5 - keep..].copy_from_slice(&buf[n - keep..n]);
            if &tail == b"\r\n.\r\n" {
                in_data = false;
            }
            if !in_data {
                // smtp-source does not pipeline: nothing follows the dot before our reply.
                sock.write_all(b"250 2.0.0 Ok: queued\r\n")?;
                (start, end) = (0, 0);
            }
            continue;
        }
        let Some(nl) = buf[start..end].iter().position(|&b| b == b'\n') else {
            if end == buf.len() {
                return Ok(());
            }
            let n = sock.read(&mut buf[end..])?;
            if n == 0 {
                return Ok(());
            }
            end += n;
            continue;
        };
        let line = &buf[start..start + nl];
        start += nl + 1;
        if start == end {
            (start, end) = (0, 0);
        }
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"DATA") {
            sock.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            in_data = true;
            // As if just after a line break: an empty body is ".\r\n" alone.
            tail = *b"\0\0\0\r\n";
        } else if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"QUIT") {
            sock.write_all(b"221 2.0.0 Bye\r\n")?;
            if linger() {
                // smtpkit's close: FIN, then read until the peer's FIN, then close.
                sock.shutdown(std::net::Shutdown::Write)?;
                sock.set_read_timeout(Some(std::time::Duration::from_millis(200)))?;
                while sock.read(&mut buf)? > 0 {}
                sock.shutdown(std::net::Shutdown::Both)?;
            }
            return Ok(());
        } else {
            spin();
            sock.write_all(b"250 2.0.0 Ok\r\n")?;
        }
    }
}
