//! The reconcile loop as an actix actor: keys from a work queue, `reconcile(key) -> Action` run with
//! bounded concurrency, per-key back-off on failure, and a panicking reconcile caught and retried.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::queue::WorkQueue;

/// What a reconcile asks for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing more until the key changes.
    Done,
    /// Look again after this long.
    RequeueAfter(Duration),
}

/// Why a reconcile did not finish.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// It returned an error; it is retried with back-off.
    #[error("{0}")]
    Failed(String),
    /// It panicked; the panic was caught and the key is retried with back-off.
    #[error("panicked: {0}")]
    Panicked(String),
}

/// A controller's decision logic, safe to run again for the same key.
pub trait Reconciler: Send + Sync + 'static {
    /// What the queue holds.
    type Key: Clone + Eq + Hash + Debug + Send + Unpin + 'static;
    /// Name for logs.
    fn name(&self) -> &'static str;
    /// Brings the world closer to what `key`'s object asks for.
    fn reconcile(self: Arc<Self>, key: Self::Key) -> BoxFuture<'static, Result<Action, String>>;
}

/// The actor running a reconciler.
pub struct Controller<R: Reconciler> {
    reconciler: Arc<R>,
    queue: WorkQueue<R::Key>,
    running: usize,
    max_concurrency: usize,
    failures_logged: std::collections::HashSet<R::Key>,
}

/// Asks for a key to be reconciled.
pub struct Enqueue<K>(pub K);

impl<K: 'static> Message for Enqueue<K> {
    type Result = ();
}

/// How many keys wait (for tests and health).
pub struct QueueLength;

impl Message for QueueLength {
    type Result = usize;
}

impl<R: Reconciler> Controller<R> {
    /// A controller running at most `max_concurrency` reconciles at once.
    pub fn new(reconciler: R, max_concurrency: usize) -> Controller<R> {
        Controller {
            reconciler: Arc::new(reconciler),
            queue: WorkQueue::default(),
            running: 0,
            max_concurrency: max_concurrency.max(1),
            failures_logged: Default::default(),
        }
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        while self.running < self.max_concurrency {
            let Some(key) = self.queue.take() else { return };
            self.running += 1;
            let work = tokio::spawn(self.reconciler.clone().reconcile(key.clone()));
            let done = work.map(|joined| match joined {
                Ok(Ok(action)) => Ok(action),
                Ok(Err(e)) => Err(Error::Failed(e)),
                Err(e) if e.is_panic() => Err(Error::Panicked(panic_message(e.into_panic()))),
                Err(e) => Err(Error::Failed(e.to_string())),
            });
            ctx.spawn(
                done.into_actor(self)
                    .map(move |outcome, act, ctx| act.finish(key, outcome, ctx)),
            );
        }
    }

    fn finish(&mut self, key: R::Key, outcome: Result<Action, Error>, ctx: &mut Context<Self>) {
        self.running -= 1;
        self.queue.done(&key);
        match outcome {
            Ok(action) => {
                self.queue.forget(&key);
                self.failures_logged.remove(&key);
                if let Action::RequeueAfter(d) = action {
                    self.later(key, d, ctx);
                }
            }
            Err(e) => {
                let delay = self.queue.failed(&key);
                let name = self.reconciler.name();
                if matches!(e, Error::Panicked(_)) {
                    tracing::error!("{name}: reconcile of {key:?} {e}; retrying in {delay:?}");
                } else if self.failures_logged.insert(key.clone()) {
                    tracing::warn!("{name}: reconcile of {key:?} failed: {e}; retrying with back-off");
                } else {
                    tracing::debug!("{name}: reconcile of {key:?} failed again: {e}; retrying in {delay:?}");
                }
                self.later(key, delay, ctx);
            }
        }
        self.pump(ctx);
    }

    fn later(&mut self, key: R::Key, delay: Duration, ctx: &mut Context<Self>) {
        ctx.run_later(delay, move |act, ctx| {
            act.queue.add(key);
            act.pump(ctx);
        });
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}

impl<R: Reconciler> Actor for Controller<R> {
    type Context = Context<Self>;
}

impl<R: Reconciler> Supervised for Controller<R> {
    fn restarting(&mut self, _: &mut Context<Self>) {
        tracing::warn!("{}: controller restarting", self.reconciler.name());
        self.running = 0;
    }
}

impl<R: Reconciler> Handler<Enqueue<R::Key>> for Controller<R> {
    type Result = ();
    fn handle(&mut self, Enqueue(key): Enqueue<R::Key>, ctx: &mut Context<Self>) {
        self.queue.add(key);
        self.pump(ctx);
    }
}

impl<R: Reconciler> Handler<QueueLength> for Controller<R> {
    type Result = usize;
    fn handle(&mut self, _: QueueLength, _: &mut Context<Self>) -> usize {
        self.queue.len() + self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Flaky {
        calls: Arc<AtomicUsize>,
        done: Arc<parking_lot::Mutex<Vec<u32>>>,
    }

    impl Reconciler for Flaky {
        type Key = u32;
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn reconcile(self: Arc<Self>, key: u32) -> BoxFuture<'static, Result<Action, String>> {
            async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                if key == 1 && n == 0 {
                    panic!("first call panics");
                }
                if key == 2 && n < 3 {
                    return Err("not yet".into());
                }
                self.done.lock().push(key);
                Ok(Action::Done)
            }
            .boxed()
        }
    }

    #[actix::test]
    async fn a_panicking_reconcile_is_retried_and_the_controller_goes_on() {
        let calls = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let r = Flaky {
            calls: calls.clone(),
            done: done.clone(),
        };
        let addr = Supervisor::start(move |_| Controller::new(r, 1));
        addr.send(Enqueue(1)).await.unwrap();
        addr.send(Enqueue(2)).await.unwrap();
        addr.send(Enqueue(3)).await.unwrap();
        for _ in 0..200 {
            if done.lock().len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut got = done.lock().clone();
        got.sort();
        assert_eq!(got, vec![1, 2, 3]);
        assert_eq!(addr.send(QueueLength).await.unwrap(), 0);
    }

    #[test]
    fn panic_messages_are_read() {
        assert_eq!(panic_message(Box::new("boom")), "boom");
        assert_eq!(panic_message(Box::new(String::from("bang"))), "bang");
    }
}
