//! Session threads on demand: a pool that starts with a few threads, grows with concurrent
//! sessions, and lets idle threads above its minimum retire. Jobs never wait in a queue: a job
//! goes to an idle thread when there is one, else to a new thread (the listener's session cap
//! bounds how many there can be). The hand-off is a crossbeam channel; a thread that waited
//! `idle_timeout` for work with others idle beside it ends.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use log::warn;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Counters shared by the pool and its threads.
#[derive(Debug, Default)]
struct Counts {
    /// Threads alive.
    live: AtomicUsize,
    /// Threads waiting for a job that no `execute` has claimed yet.
    idle: AtomicUsize,
}

impl Counts {
    /// Takes one from `idle` if it is positive; true when taken.
    fn claim_idle(&self) -> bool {
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// A pool of session threads (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    counts: Arc<Counts>,
    min: usize,
    idle_timeout: Duration,
    name: String,
}

impl Pool {
    /// A pool that keeps `min` threads once started and retires others after `idle_timeout`
    /// without work. No thread starts until the first job.
    pub(crate) fn new(name: &str, min: usize, idle_timeout: Duration) -> Pool {
        let (tx, rx) = crossbeam_channel::unbounded();
        Pool {
            tx,
            rx,
            counts: Arc::default(),
            min,
            idle_timeout,
            name: name.to_owned(),
        }
    }

    /// Runs `job` on an idle thread, or on a new one. Fails only when the system refuses a
    /// new thread; the job is then dropped unrun.
    pub(crate) fn execute(&self, job: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let job: Job = Box::new(job);
        if self.counts.claim_idle() {
            // An idle thread is waiting and now reserved for this job.
            return self
                .tx
                .send(job)
                .map_err(|_| io::Error::other("session pool closed"));
        }
        self.spawn(job)
    }

    /// Threads alive now.
    pub(crate) fn threads(&self) -> usize {
        self.counts.live.load(Ordering::Acquire)
    }

    fn spawn(&self, first: Job) -> io::Result<()> {
        let worker = Worker {
            rx: self.rx.clone(),
            counts: Arc::clone(&self.counts),
            min: self.min,
            idle_timeout: self.idle_timeout,
        };
        self.counts.live.fetch_add(1, Ordering::AcqRel);
        let spawned = thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || worker.run(first));
        spawned.map(drop).inspect_err(|_| {
            self.counts.live.fetch_sub(1, Ordering::AcqRel);
        })
    }
}

struct Worker {
    rx: Receiver<Job>,
    counts: Arc<Counts>,
    min: usize,
    idle_timeout: Duration,
}

impl Worker {
    fn run(self, first: Job) {
        let mut job = first;
        loop {
            // A session that panics past its own guards must not take the thread's
            // accounting with it.
            if catch_unwind(AssertUnwindSafe(job)).is_err() {
                warn!("a session job panicked");
            }
            self.counts.idle.fetch_add(1, Ordering::AcqRel);
            job = loop {
                match self.rx.recv_timeout(self.idle_timeout) {
                    Ok(next) => break next,
                    Err(RecvTimeoutError::Disconnected) => {
                        self.counts.live.fetch_sub(1, Ordering::AcqRel);
                        return;
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        // Retire only when no `execute` has counted on this thread (it could
                        // take back an idle slot) and the pool stays at its minimum.
                        if self.counts.live.load(Ordering::Acquire) > self.min
                            && self.counts.claim_idle()
                        {
                            self.counts.live.fetch_sub(1, Ordering::AcqRel);
                            return;
                        }
                    }
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    fn wait_until(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "{what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn grows_with_load_and_shrinks_back_to_the_minimum() {
        let pool = Pool::new("test", 1, Duration::from_millis(100));
        assert_eq!(pool.threads(), 0, "nothing starts before the first job");
        let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..8 {
            let (rx, tx) = (release_rx.clone(), done_tx.clone());
            pool.execute(move || {
                let _ = rx.recv();
                let _ = tx.send(());
            })
            .unwrap();
        }
        // Eight jobs at once: eight threads, none queued behind another.
        assert_eq!(pool.threads(), 8);
        for _ in 0..8 {
            release_tx.send(()).unwrap();
        }
        for _ in 0..8 {
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        wait_until("idle threads retire down to the minimum", || {
            pool.threads() == 1
        });
        // The one left serves the next job without a new thread.
        let (tx, rx) = mpsc::channel();
        pool.execute(move || {
            tx.send(thread::current().name().map(str::to_owned))
                .unwrap()
        })
        .unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap().as_deref(),
            Some("test")
        );
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn a_panicking_job_keeps_its_thread() {
        let pool = Pool::new("test", 1, Duration::from_secs(60));
        pool.execute(|| panic!("job")).unwrap();
        wait_until("the thread is idle again", || {
            pool.counts.idle.load(Ordering::Acquire) == 1
        });
        let (tx, rx) = mpsc::channel();
        pool.execute(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(pool.threads(), 1);
    }
}
