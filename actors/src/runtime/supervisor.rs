//! A supervisor that restarts an actor after a panic: the actor runs as a future under
//! `catch_unwind`; when a handler panics, the panic is logged and a fresh actor is built by the
//! same factory (which re-attaches its informers, so its state is rebuilt from a list).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::FutureExt;
use parking_lot::Mutex;

/// First pause before a restart; it doubles with each panic in a row, up to [`MAX_RESTART_PAUSE`].
pub const RESTART_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause before a restart.
pub const MAX_RESTART_PAUSE: Duration = Duration::from_secs(10);

/// The address of the running incarnation of a supervised actor.
pub struct Supervised<A: Actor<Context = Context<A>>> {
    current: Arc<Mutex<Option<Addr<A>>>>,
    restarts: Arc<std::sync::atomic::AtomicU32>,
}

impl<A: Actor<Context = Context<A>>> Clone for Supervised<A> {
    fn clone(&self) -> Self {
        Supervised {
            current: self.current.clone(),
            restarts: self.restarts.clone(),
        }
    }
}

impl<A: Actor<Context = Context<A>>> Supervised<A> {
    /// The running actor's address (None between a panic and the restart, or after a normal stop).
    pub fn addr(&self) -> Option<Addr<A>> {
        self.current.lock().clone()
    }

    /// Whether an incarnation runs.
    pub fn running(&self) -> bool {
        self.addr().is_some_and(|a| a.connected())
    }

    /// How many times the actor was restarted after a panic.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}

/// Starts `factory`'s actor and restarts it after each panic; must run in an actix System. A
/// normal stop ends the supervision.
pub fn supervise<A, F>(name: &'static str, factory: F) -> Supervised<A>
where
    A: Actor<Context = Context<A>>,
    F: Fn(&mut Context<A>) -> A + 'static,
{
    let handle = Supervised {
        current: Arc::new(Mutex::new(None)),
        restarts: Arc::default(),
    };
    let h = handle.clone();
    let mut ctx = Context::new();
    let act = factory(&mut ctx);
    *h.current.lock() = Some(ctx.address());
    let mut first = Some(ctx.into_future(act));
    actix::spawn(async move {
        let mut pause = RESTART_PAUSE;
        loop {
            let fut = match first.take() {
                Some(f) => f,
                None => {
                    let mut ctx = Context::new();
                    let act = factory(&mut ctx);
                    *h.current.lock() = Some(ctx.address());
                    ctx.into_future(act)
                }
            };
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(()) => {
                    *h.current.lock() = None;
                    return;
                }
                Err(p) => {
                    *h.current.lock() = None;
                    h.restarts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tracing::error!(
                        "{name} panicked: {}; restarting in {pause:?}",
                        panic_message(p.as_ref())
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RESTART_PAUSE);
                }
            }
        }
    });
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fragile {
        generation: u32,
    }

    impl Actor for Fragile {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "u32")]
    struct Ask(bool);

    impl Handler<Ask> for Fragile {
        type Result = u32;
        fn handle(&mut self, Ask(boom): Ask, _: &mut Context<Self>) -> u32 {
            if boom {
                panic!("asked to fail");
            }
            self.generation
        }
    }

    #[actix::test]
    async fn a_panicking_actor_is_built_again_and_goes_on() {
        let built = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let b = built.clone();
        let s = supervise("fragile", move |_| Fragile {
            generation: b.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        });
        let first = s.addr().unwrap();
        assert_eq!(first.send(Ask(false)).await.unwrap(), 0);
        assert!(
            first.send(Ask(true)).await.is_err(),
            "the panicking call gets no answer"
        );
        for _ in 0..100 {
            if s.running() && s.restarts() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(s.restarts(), 1);
        let again = s.addr().expect("restarted");
        assert_eq!(
            again.send(Ask(false)).await.unwrap(),
            1,
            "a fresh actor from the factory"
        );
    }
}
