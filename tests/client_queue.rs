//! `client::SendQueue` against real servers on loopback: every queued message delivered over
//! reused connections with its result, backpressure when full, and delivery of what is queued
//! when the queue is finished or dropped.

use std::collections::HashSet;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use smtpkit::client::{Client, Email, Options, SendQueue, Timeouts, TlsMode};
use smtpkit::testing::Catcher;

fn email(n: usize) -> Email {
    let to = format!("user{n}@example.net");
    let body = format!("Subject: message {n}\r\n\r\nHello {n}\r\n");
    Email::new("batch@example.org", &[to.as_str()], body).unwrap()
}

fn client(addr: &str, timeouts: Timeouts) -> Client {
    Client::new(
        Options::relay(addr)
            .tls(TlsMode::Never)
            .retries(0)
            .timeouts(timeouts),
    )
    .unwrap()
}

#[test]
fn every_message_delivered_with_its_result() {
    let catcher = Catcher::start().unwrap();
    let queue = SendQueue::new(
        client(&catcher.addr().to_string(), Timeouts::default()),
        4,
        8,
    );
    let mut ids = HashSet::new();
    for n in 0..50 {
        ids.insert(queue.send(email(n)).unwrap());
    }
    assert_eq!(ids.len(), 50, "ids are unique");
    // Some results read while the queue runs, the rest from finish().
    let mut got = Vec::new();
    while got.len() < 10 {
        got.extend(queue.recv_timeout(Duration::from_secs(10)));
    }
    got.extend(queue.finish());
    assert_eq!(got.len(), 50);
    let done: HashSet<u64> = got.iter().map(|d| d.id).collect();
    assert_eq!(done, ids);
    for d in &got {
        let receipt = d.result.as_ref().unwrap();
        assert_eq!(receipt.reply.code, 250, "{receipt:?}");
    }
    let messages = catcher.wait_for(50, Duration::from_secs(10)).unwrap();
    let subjects: HashSet<String> = messages.iter().filter_map(|m| m.subject()).collect();
    assert_eq!(subjects.len(), 50);
    // Connections were reused: at most one per worker (plus replacements), not one per message.
    let stats = catcher.stats();
    assert!(
        stats.accepted <= 8,
        "{} connections for 50 messages",
        stats.accepted
    );
}

#[test]
fn a_full_queue_pushes_back_and_nothing_queued_is_lost() {
    // A server that accepts and never greets: the one worker waits on its greeting.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let timeouts = Timeouts {
        greeting: Duration::from_millis(500),
        ..Timeouts::default()
    };
    let queue = SendQueue::new(client(&addr, timeouts), 1, 2);
    queue.send(email(0)).unwrap();
    // The worker takes message 0; two more fill the queue.
    thread::sleep(Duration::from_millis(100));
    queue.send(email(1)).unwrap();
    queue.send(email(2)).unwrap();
    let back = queue.try_send(email(3)).unwrap_err();
    assert_eq!(back.to[0].to_string(), "user3@example.net");
    assert!(
        queue
            .send_timeout(email(4), Duration::from_millis(50))
            .is_err()
    );
    assert_eq!(queue.pending(), 3);
    // finish() waits for the queued ones: each fails on the greeting timeout, none is dropped.
    let results = queue.finish();
    assert_eq!(results.len(), 3);
    for d in results {
        let e = d.result.unwrap_err();
        assert_eq!(e.kind(), smtpkit::client::ErrorKind::Timeout, "{e}");
    }
    drop(silent);
}

#[test]
fn recv_on_an_idle_queue_returns_at_once() {
    let catcher = Catcher::start().unwrap();
    let queue = SendQueue::new(
        client(&catcher.addr().to_string(), Timeouts::default()),
        0,
        0,
    );
    assert!(queue.recv().is_none());
    assert!(queue.try_recv().is_none());
    assert!(queue.recv_timeout(Duration::from_secs(5)).is_none());
    // Zero workers and zero capacity are clamped to one of each: the queue still works.
    let id = queue.send(email(7)).unwrap();
    let d = queue.recv().unwrap();
    assert_eq!(d.id, id);
    assert!(d.result.is_ok());
    // Dropping delivers what is queued.
    queue.send(email(8)).unwrap();
    drop(queue);
    assert_eq!(
        catcher.wait_for(2, Duration::from_secs(5)).unwrap().len(),
        2
    );
}
