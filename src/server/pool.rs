//! Session threads on demand: a pool that starts with a few threads, grows with concurrent
//! sessions, and lets idle threads above its minimum retire. Jobs never wait in a queue: a job
//! goes to an idle thread when there is one, else to a new thread (the listener's session cap
//! bounds how many there can be). A thread that waited `idle_timeout` for work with others
//! idle beside it ends.
//!
//! The hand-off is a mutex and a condition variable: one futex wake per job. (A crossbeam
//! channel spun and called `sched_yield` several times before each idle thread parked: two to
//! four yields per connection under load, each a chance for a context switch.)

use std::collections::VecDeque;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use log::warn;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// What the pool and its threads share, under one lock.
#[derive(Default)]
struct State {
    /// Jobs handed to idle threads and not yet picked up (never more than the idle threads
    /// that were claimed for them).
    jobs: VecDeque<Job>,
    /// Threads alive.
    live: usize,
    /// Threads waiting for a job that no `execute` has claimed yet.
    idle: usize,
    /// Every handle to the pool is gone: waiting threads end.
    closed: bool,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

impl Inner {
    /// The state; a panic never happens under this lock (jobs run outside it), so a poisoned
    /// lock still holds consistent counts.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes the pool when the last [`Pool`] handle is dropped (as dropping a channel's last
/// sender did).
struct Closer(Arc<Inner>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.wake.notify_all();
    }
}

/// A pool of session threads (see the module docs).
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
    _closer: Arc<Closer>,
    min: usize,
    idle_timeout: Duration,
    name: String,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads())
            .field("min", &self.min)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

impl Pool {
    /// A pool that keeps `min` threads and retires others after `idle_timeout` without work.
    /// No thread runs until [`Pool::start`] or the first job.
    pub(crate) fn new(name: &str, min: usize, idle_timeout: Duration) -> Pool {
        let inner = Arc::new(Inner::default());
        Pool {
            _closer: Arc::new(Closer(Arc::clone(&inner))),
            inner,
            min,
            idle_timeout,
            name: name.to_owned(),
        }
    }

    /// Starts the `min` threads the pool keeps, idle, so the first sessions find them waiting.
    /// They start here, before any load: on the bench machine the scheduler placed a thread
    /// started under load on the idle CPU, away from its client, and kept it there (see
    /// BENCHMARKS.md, "Session 8").
    pub(crate) fn start(&self) -> io::Result<()> {
        for _ in 0..self.min {
            self.inner.lock().live += 1;
            self.spawn(None)?;
        }
        Ok(())
    }

    /// Runs `job` on an idle thread, or on a new one. Fails only when the system refuses a
    /// new thread; the job is then dropped unrun.
    pub(crate) fn execute(&self, job: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let job: Job = Box::new(job);
        {
            let mut st = self.inner.lock();
            if st.idle > 0 {
                // An idle thread is waiting and now reserved for this job.
                st.idle -= 1;
                st.jobs.push_back(job);
                drop(st);
                self.inner.wake.notify_one();
                return Ok(());
            }
            st.live += 1;
        }
        self.spawn(Some(job))
    }

    /// Threads alive now.
    pub(crate) fn threads(&self) -> usize {
        self.inner.lock().live
    }

    /// Starts a thread for `first`, or an idle one (`live` already counts it).
    fn spawn(&self, first: Option<Job>) -> io::Result<()> {
        let worker = Worker {
            inner: Arc::clone(&self.inner),
            min: self.min,
            idle_timeout: self.idle_timeout,
        };
        let spawned = thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || worker.run(first));
        spawned.map(drop).inspect_err(|_| {
            self.inner.lock().live -= 1;
        })
    }
}

struct Worker {
    inner: Arc<Inner>,
    min: usize,
    idle_timeout: Duration,
}

impl Worker {
    fn run(self, first: Option<Job>) {
        let mut job = first;
        loop {
            if let Some(job) = job.take() {
                // A session that panics past its own guards must not take the thread's
                // accounting with it.
                if catch_unwind(AssertUnwindSafe(job)).is_err() {
                    warn!("a session job panicked");
                }
            }
            match self.next_job() {
                Some(next) => job = Some(next),
                None => return,
            }
        }
    }

    /// Waits for the next job; None when this thread retires (or the pool is gone), with the
    /// counts already updated.
    fn next_job(&self) -> Option<Job> {
        let mut st = self.inner.lock();
        st.idle += 1;
        loop {
            if let Some(job) = st.jobs.pop_front() {
                return Some(job);
            }
            if st.closed {
                st.idle -= 1;
                st.live -= 1;
                return None;
            }
            let (guard, wait) = self
                .inner
                .wake
                .wait_timeout(st, self.idle_timeout)
                .unwrap_or_else(PoisonError::into_inner);
            st = guard;
            // Retire only when no `execute` has counted on this thread (an unclaimed idle
            // slot is left to take back) and the pool stays at its minimum.
            if wait.timed_out() && st.jobs.is_empty() && st.live > self.min && st.idle > 0 {
                st.idle -= 1;
                st.live -= 1;
                return None;
            }
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
        assert_eq!(pool.threads(), 0, "nothing starts before start or a job");
        pool.start().unwrap();
        assert_eq!(pool.threads(), 1, "start runs the minimum");
        wait_until("the started thread waits for work", || {
            pool.inner.lock().idle == 1
        });
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
        // Eight jobs at once: eight threads (the started one and seven new), none queued
        // behind another.
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
        wait_until("the thread is idle again", || pool.inner.lock().idle == 1);
        let (tx, rx) = mpsc::channel();
        pool.execute(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(pool.threads(), 1);
    }
}
