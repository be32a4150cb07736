//! The prober's notion of time, injected so timing tests run on virtual time.
//!
//! The scheduler asks a [`Clock`] for `now` and for sleeps. Production uses
//! [`TokioClock`], which tests also drive on tokio's paused time
//! (`start_paused`); most timing tests use a manual clock that jumps from one
//! pending deadline to the next, so they can assert exact probe instants.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

/// A boxed sleep: one allocation per probe interval, not per query.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> Instant;
    /// Completes at or after `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Sleep;
}

/// Real time, via tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline))
    }
}

#[cfg(test)]
pub(crate) mod manual {
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// Virtual time. Sleeps complete only when a test advances the clock
    /// past their deadline. Meant for a current-thread runtime, where
    /// yielding lets every woken task run to its next sleep.
    #[derive(Debug)]
    pub(crate) struct ManualClock {
        start: Instant,
        inner: Mutex<Inner>,
    }

    #[derive(Debug)]
    struct Inner {
        now: Instant,
        sleepers: Vec<(Instant, oneshot::Sender<()>)>,
    }

    impl Inner {
        /// Remove and return the sleepers due by `upto`.
        fn take_due(&mut self, upto: Instant) -> Vec<oneshot::Sender<()>> {
            let (due, keep) = std::mem::take(&mut self.sleepers)
                .into_iter()
                .partition(|(d, _)| *d <= upto);
            self.sleepers = keep;
            due.into_iter().map(|(_, tx)| tx).collect()
        }
    }

    impl ManualClock {
        pub(crate) fn new() -> Self {
            let start = Instant::now();
            Self {
                start,
                inner: Mutex::new(Inner {
                    now: start,
                    sleepers: Vec::new(),
                }),
            }
        }

        /// Virtual time elapsed since the clock was made.
        pub(crate) fn elapsed(&self) -> Duration {
            self.now() - self.start
        }

        /// Let every runnable task run until it waits again.
        pub(crate) async fn settle() {
            for _ in 0..64 {
                tokio::task::yield_now().await;
            }
        }

        /// Move time forward by `by`, stopping at each pending deadline on
        /// the way so tasks observe them in order.
        pub(crate) async fn advance(&self, by: Duration) {
            let target = self.now() + by;
            loop {
                Self::settle().await;
                let due: Vec<oneshot::Sender<()>> = {
                    let mut g = self.inner.lock().unwrap();
                    g.sleepers.retain(|(_, tx)| !tx.is_closed());
                    let Some(next) = g.sleepers.iter().map(|(d, _)| *d).min() else {
                        break;
                    };
                    if next > target {
                        break;
                    }
                    g.now = g.now.max(next);
                    g.take_due(next)
                };
                for tx in due {
                    let _ = tx.send(());
                }
            }
            self.inner.lock().unwrap().now = target;
            Self::settle().await;
        }

        /// The process had no CPU for `by`: time jumps, then every
        /// sleeper due by then wakes at once, late (a starved runtime).
        pub(crate) async fn stall(&self, by: Duration) {
            let due = {
                let mut g = self.inner.lock().unwrap();
                g.now += by;
                let now = g.now;
                g.take_due(now)
            };
            for tx in due {
                let _ = tx.send(());
            }
            Self::settle().await;
        }

        /// Advance in steps of `step` until `cond` holds or `limit` passes;
        /// returns the virtual time elapsed since the clock was made.
        pub(crate) async fn advance_until(
            &self,
            step: Duration,
            limit: Duration,
            mut cond: impl FnMut() -> bool,
        ) -> Option<Duration> {
            let end = self.elapsed() + limit;
            while self.elapsed() < end {
                if cond() {
                    return Some(self.elapsed());
                }
                self.advance(step).await;
            }
            cond().then(|| self.elapsed())
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.inner.lock().unwrap().now
        }

        fn sleep_until(&self, deadline: Instant) -> Sleep {
            let mut g = self.inner.lock().unwrap();
            if deadline <= g.now {
                return Box::pin(std::future::ready(()));
            }
            let (tx, rx) = oneshot::channel();
            g.sleepers.push((deadline, tx));
            Box::pin(async move {
                let _ = rx.await;
            })
        }
    }
}
