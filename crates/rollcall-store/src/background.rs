//! The background pool: long CPU-bound work of a request (get_info's per-person read and
//! fold, a snapshot copy) on threads the OS schedules *after* the request path.
//!
//! # Why a pool of its own
//! On two cores a get_info of a 100,000-session meeting is ~150 ms of CPU. Off the async
//! workers (tokio's blocking pool) it no longer stalls their queues, but it still competes
//! for a core with them as an equal: under issue 11.2's mixed load (5 get_info/s) that was
//! most of one core's time, and a page or a gettoken that woke meanwhile waited its turn in
//! the scheduler, which is where the p99 of the pages came from. These threads run in
//! Linux's `SCHED_IDLE` class: a woken request thread preempts them at once (the kernel's
//! fair-class wake-up check: "idle tasks are by definition preempted by non-idle tasks"),
//! while they still use every cycle nothing else wants, so their own latency is what the
//! idle CPU allows. Niceness was tried first: at nice 10 a page could still wait out the
//! running job's slice (the scheduler's `max delay` of the async workers was 4.8 ms under
//! `perf sched`; page p99 stayed ~4 ms).
//!
//! tokio's blocking pool cannot be demoted for this: its threads also run the SQLite writer
//! (ingest, whose latency counts), and an unprivileged process cannot raise a thread's
//! class back once lowered. So the threads here are lowered once, when they start, and
//! only ever run this work.
//!
//! The cost, and its bound: the idle class only gets cycles nothing else wants, so while the
//! CPU is saturated a job here waits for a lull. Callers send only work larger than
//! [`SMALL`] here (a get_info of a meeting with more sessions or people than that); smaller
//! work stays on tokio's blocking pool at normal priority.
//!
//! Jobs queue in arrival order on up to [`THREADS`] threads (the machine's cores); what
//! waits holds only its closure. Elsewhere than Linux the threads run at normal priority.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Work this small (sessions of a meeting, people of a reply) stays at normal priority, on
/// tokio's blocking pool: a few milliseconds at most, and prompt even when a saturated CPU
/// leaves the idle class nothing. Only what is larger comes here.
pub const SMALL: u64 = 2_000;

/// At most this many pool threads.
const THREADS: usize = 4;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The job was lost: its thread panicked (the panic is the job's; the pool goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the background job did not finish (it panicked)")]
pub struct Lost;

/// Run `f` on the background pool; the future resolves with its result.
pub async fn run<T, F>(f: F) -> Result<T, Lost>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // A receiver that went away (the request was dropped) wants nothing back.
        let _ = tx.send(f());
    });
    if pool().send(job).is_err() {
        return Err(Lost);
    }
    rx.await.map_err(|_| Lost)
}

/// Run `f` off the async workers, sized: work of at most [`SMALL`] (`size` in the caller's
/// unit: sessions read, people rendered) on tokio's blocking pool at normal priority, larger
/// work on the background pool ([`run`]).
pub async fn run_sized<T, F>(size: u64, f: F) -> Result<T, Lost>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if size <= SMALL {
        tokio::task::spawn_blocking(f).await.map_err(|_| Lost)
    } else {
        run(f).await
    }
}

fn pool() -> &'static Sender<Job> {
    static POOL: OnceLock<Sender<Job>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let n = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(THREADS);
        for i in 0..n {
            let rx = Arc::clone(&rx);
            // Spawning fails only when the OS refuses a thread: fewer threads then, and
            // with none at all the jobs report `Lost` when their sender is dropped.
            let _ = std::thread::Builder::new()
                .name(format!("rollcall-background-{i}"))
                .spawn(move || work(&rx));
        }
        tx
    })
}

fn work(rx: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(PoisonError::into_inner);
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        // A panicking job drops its sender (the caller sees `Lost`); the thread lives on.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

/// Put this thread in the `SCHED_IDLE` class (Linux; a thread may always lower its own).
/// Failing that, it runs at normal priority: slower tails under load, never wrong answers.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadPriority, ThreadSchedulePolicy,
        };
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_in_the_idle_class_and_a_panic_is_lost_not_fatal() {
        assert_eq!(run(|| 6 * 7).await, Ok(42));
        #[cfg(target_os = "linux")]
        {
            use thread_priority::{
                thread_schedule_policy, NormalThreadSchedulePolicy, ThreadSchedulePolicy,
            };
            let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
            assert_ne!(thread_schedule_policy().expect("policy"), idle);
            let theirs = run(thread_schedule_policy).await.expect("ran");
            assert_eq!(theirs.expect("policy"), idle);
            let name = run(|| std::thread::current().name().map(str::to_owned))
                .await
                .expect("ran");
            assert!(name.is_some_and(|n| n.starts_with("rollcall-background-")));
        }
        // Small work stays at normal priority, off the pool; large work goes to it.
        let on_pool = |n: u64| {
            run_sized(n, || {
                std::thread::current()
                    .name()
                    .is_some_and(|n| n.starts_with("rollcall-background-"))
            })
        };
        assert_eq!(on_pool(SMALL).await, Ok(false));
        assert_eq!(on_pool(SMALL + 1).await, Ok(true));
        let lost: Result<(), Lost> = run(|| panic!("a job's own panic")).await;
        assert_eq!(lost, Err(Lost));
        assert_eq!(run(|| "still serving").await, Ok("still serving"));
    }
}
