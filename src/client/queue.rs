//! A background send queue for batch jobs: a few worker threads take messages from a bounded
//! queue and deliver them over pooled connections; every result comes back, tagged with the id
//! `send` returned.
//!
//! The queue is bounded so a producer faster than the network waits (backpressure) instead of
//! piling messages up in memory. Results wait in an unbounded channel: one small value per
//! message sent, until read.
//!
//! ```no_run
//! use smtpkit::client::{Client, Email, Options, SendQueue};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(Options::relay("smtp.example.org:587").login("batch", "secret"))?;
//! let queue = SendQueue::new(client, 4, 100); // 4 connections, at most 100 waiting
//! for user in ["a@example.net", "b@example.net"] {
//!     queue.send(Email::new("news@example.org", &[user], "Subject: News\r\n\r\nHello\r\n")?);
//! }
//! for delivery in queue.finish() {
//!     if let Err(e) = delivery.result {
//!         eprintln!("message {}: {e}", delivery.id);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use log::warn;

use super::{Client, Email, Error, Pool, Receipt};

/// Most worker threads a queue runs (each holds one connection).
pub const MAX_WORKERS: usize = 64;

/// The result of one queued message.
#[derive(Debug)]
pub struct Delivery {
    /// The id [`SendQueue::send`] returned for the message.
    pub id: u64,
    /// What delivery gave: the receipt, or why it failed (after the client's retries).
    pub result: Result<Receipt, Error>,
}

/// Delivers queued messages on worker threads; see the [module docs](self).
pub struct SendQueue {
    jobs: Option<Sender<(u64, Email)>>,
    results: Receiver<Delivery>,
    workers: Vec<JoinHandle<()>>,
    next_id: AtomicU64,
    /// Messages sent whose result has not been received yet.
    outstanding: AtomicUsize,
}

impl fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendQueue")
            .field("workers", &self.workers.len())
            .field("outstanding", &self.outstanding.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SendQueue {
    /// Starts `workers` threads (1 to [`MAX_WORKERS`]; other values are clamped) delivering
    /// through `client`, each over a connection kept open between messages (a [`Pool`]), with
    /// room for `capacity` waiting messages (at least 1).
    pub fn new(client: Client, workers: usize, capacity: usize) -> SendQueue {
        let workers = workers.clamp(1, MAX_WORKERS);
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<(u64, Email)>(capacity.max(1));
        let (results_tx, results_rx) = crossbeam_channel::unbounded();
        let pool = Arc::new(Pool::new(client, workers));
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let (jobs, results, pool) = (jobs_rx.clone(), results_tx.clone(), Arc::clone(&pool));
            let spawned = thread::Builder::new()
                .name(format!("smtpkit-send-{n}"))
                .spawn(move || {
                    for (id, email) in jobs.iter() {
                        let result = pool.send(&email);
                        // The queue was dropped without reading: nobody wants the result.
                        let _ = results.send(Delivery { id, result });
                    }
                });
            match spawned {
                Ok(h) => handles.push(h),
                // Fewer workers is slower, not wrong; none at all is handled below.
                Err(e) => warn!(target: "smtpkit::client", "send queue: no worker thread {n}: {e}"),
            }
        }
        SendQueue {
            // Without any worker nothing could ever be delivered: refuse every message.
            jobs: (!handles.is_empty()).then_some(jobs_tx),
            results: results_rx,
            workers: handles,
            next_id: AtomicU64::new(1),
            outstanding: AtomicUsize::new(0),
        }
    }

    fn enqueue(
        &self,
        email: Email,
        put: impl FnOnce(&Sender<(u64, Email)>, (u64, Email)) -> Result<(), (u64, Email)>,
    ) -> Result<u64, Email> {
        let Some(jobs) = &self.jobs else {
            return Err(email);
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        put(jobs, (id, email)).map(|()| id).map_err(|(_, email)| {
            self.outstanding.fetch_sub(1, Ordering::AcqRel);
            email
        })
    }

    /// Queues a message, waiting while the queue is full; returns its id. `Err` gives the
    /// message back when no worker thread could be started.
    pub fn send(&self, email: Email) -> Result<u64, Email> {
        self.enqueue(email, |jobs, job| {
            jobs.send(job).map_err(|e| e.into_inner())
        })
    }

    /// Queues a message if there is room now; `Err` gives it back when the queue is full.
    pub fn try_send(&self, email: Email) -> Result<u64, Email> {
        self.enqueue(email, |jobs, job| {
            jobs.try_send(job).map_err(|e| match e {
                TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
            })
        })
    }

    /// Queues a message, waiting at most `timeout` for room; `Err` gives it back.
    pub fn send_timeout(&self, email: Email, timeout: Duration) -> Result<u64, Email> {
        self.enqueue(email, |jobs, job| {
            jobs.send_timeout(job, timeout).map_err(|e| e.into_inner())
        })
    }

    /// Messages queued or being delivered whose result has not been received yet.
    pub fn pending(&self) -> usize {
        self.outstanding.load(Ordering::Acquire)
    }

    fn received(&self, d: Delivery) -> Delivery {
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
        d
    }

    /// The next result, waiting for it; `None` when no message is pending.
    pub fn recv(&self) -> Option<Delivery> {
        if self.pending() == 0 {
            return None;
        }
        self.results.recv().ok().map(|d| self.received(d))
    }

    /// The next result if one is ready.
    pub fn try_recv(&self) -> Option<Delivery> {
        self.results.try_recv().ok().map(|d| self.received(d))
    }

    /// The next result, waiting at most `timeout`; `None` when none came (or none is pending).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Delivery> {
        if self.pending() == 0 {
            return None;
        }
        match self.results.recv_timeout(timeout) {
            Ok(d) => Some(self.received(d)),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Stops taking messages, waits until every queued message is delivered (or has failed),
    /// and returns the results not received yet, in the order they finished.
    pub fn finish(mut self) -> Vec<Delivery> {
        self.close();
        let mut out = Vec::new();
        while let Ok(d) = self.results.try_recv() {
            out.push(self.received(d));
        }
        out
    }

    /// Closes the queue and joins the workers (they deliver what is queued first).
    fn close(&mut self) {
        self.jobs = None;
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for SendQueue {
    /// Dropping the queue delivers what is queued first (nothing accepted is lost); the results
    /// are discarded.
    fn drop(&mut self) {
        self.close();
    }
}
