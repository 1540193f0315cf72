//! The second thread of a large list's work (issue 24: the walk of the answer, the sort, the
//! blocks of the output), started once while the answer arrives and kept.
//!
//! A thread made when its work is ready is often placed by Linux on its parent's processor, by
//! the recent load of each, and left there for the whole of a short job: a list's walk ran on one
//! processor of two while the other, whose load was the sandbox's that had just sent the
//! answer, stayed idle. A thread that waits and is woken goes to an idle processor. So the
//! helper is started before the work ([`start`], as a large answer begins to arrive) and each
//! [`join`] wakes it.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

/// Work handed to the helper.
type Job = Box<dyn FnOnce() + Send + 'static>;

struct Helper {
    job: Mutex<Option<Job>>,
    posted: Condvar,
    /// A [`join`] holds the helper: another one at the same time (from the helper itself, or
    /// from another thread) makes a thread of its own.
    busy: AtomicBool,
    /// The helper thread's id for the system (Linux), 0 until it runs.
    #[cfg(target_os = "linux")]
    tid: std::sync::atomic::AtomicI32,
}

static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();

/// Starts the helper, once per process (a no-op after). Nothing waits for it to run.
pub fn start() {
    helper();
}

fn helper() -> Option<&'static Helper> {
    *HELPER.get_or_init(|| {
        let helper: &'static Helper = Box::leak(Box::new(Helper {
            job: Mutex::new(None),
            posted: Condvar::new(),
            busy: AtomicBool::new(false),
            #[cfg(target_os = "linux")]
            tid: std::sync::atomic::AtomicI32::new(0),
        }));
        std::thread::Builder::new()
            .name("sts-helper".into())
            .spawn(move || {
                #[cfg(target_os = "linux")]
                // SAFETY: gettid has no preconditions.
                helper
                    .tid
                    .store(unsafe { libc::gettid() }, Ordering::Release);
                loop {
                    let job = {
                        let mut job = helper.job.lock().unwrap_or_else(PoisonError::into_inner);
                        loop {
                            if let Some(j) = job.take() {
                                break j;
                            }
                            job = helper
                                .posted
                                .wait(job)
                                .unwrap_or_else(PoisonError::into_inner);
                        }
                    };
                    job();
                }
            })
            .ok()
            .map(|_| helper)
    })
}

/// Runs `a` on the helper and `b` here, and gives both answers once both have ended; a panic of
/// either is resumed here after both have ended. Without the helper (it could not be started,
/// or another `join` holds it), `a` runs on a thread of its own.
pub fn join<A, RA, B, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    RA: Send,
    B: FnOnce() -> RB,
{
    let Some(helper) = helper().filter(|h| {
        h.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }) else {
        return std::thread::scope(|s| {
            let a = s.spawn(a);
            let b = catch_unwind(AssertUnwindSafe(b));
            let a = a.join();
            (
                a.unwrap_or_else(|p| resume_unwind(p)),
                b.unwrap_or_else(|p| resume_unwind(p)),
            )
        });
    };
    let (done, answer) = mpsc::sync_channel::<std::thread::Result<RA>>(1);
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
        // The channel is the job's own (on the heap): nothing of this frame is touched once the
        // answer is sent.
        let _ = done.send(catch_unwind(AssertUnwindSafe(a)));
    });
    // SAFETY: the job borrows what `a` borrows, which outlives this call. The job is run once,
    // and this function neither returns nor unwinds before the job's answer has been received
    // (`b` runs under `catch_unwind`, and `recv` waits): after its `send`, the job touches only
    // its own channel and box. The helper never drops a job without running it, and a job
    // cannot fail to send (the receiver is alive until the answer is in).
    let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
    #[cfg(target_os = "linux")]
    elsewhere(helper);
    {
        let mut slot = helper.job.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = Some(job);
        helper.posted.notify_one();
    }
    let b = catch_unwind(AssertUnwindSafe(b));
    // The helper runs every job it is given: `recv` fails only if its thread is gone, which a
    // job's panic (caught) does not do.
    let a = answer.recv().unwrap_or_else(|_| std::process::abort());
    helper.busy.store(false, Ordering::Release);
    (
        a.unwrap_or_else(|p| resume_unwind(p)),
        b.unwrap_or_else(|p| resume_unwind(p)),
    )
}

/// Lets the helper run on any processor this process may use but the one the caller is on, so
/// that, woken, it is not queued behind the caller (Linux keeps a thread that ran a moment ago
/// where it ran, beside an idle processor). Nothing changes where the system does not say.
#[cfg(target_os = "linux")]
fn elsewhere(helper: &Helper) {
    static ALLOWED: OnceLock<Option<libc::cpu_set_t>> = OnceLock::new();
    let tid = helper.tid.load(Ordering::Acquire);
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    let allowed = ALLOWED.get_or_init(|| {
        // SAFETY: an all-zero cpu_set_t is an empty set; the call writes at most its size.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `set` is a cpu_set_t of `size` bytes.
        (unsafe { libc::sched_getaffinity(0, size, &mut set) } == 0).then_some(set)
    });
    let (Some(allowed), true, Ok(cpu)) = (allowed, tid > 0, usize::try_from(cpu)) else {
        return;
    };
    let mut set = *allowed;
    // SAFETY: CPU_CLR and CPU_COUNT only read and write the set (a CPU number past its size is
    // ignored).
    unsafe {
        libc::CPU_CLR(cpu, &mut set);
        if libc::CPU_COUNT(&set) == 0 {
            return;
        }
        // A failure leaves the helper where it may run now.
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_and_borrow_from_the_caller() {
        start();
        let data: Vec<u64> = (0..10_000).collect();
        let (low, high) = data.split_at(5_000);
        for _ in 0..50 {
            let (a, b) = join(|| low.iter().sum::<u64>(), || high.iter().sum::<u64>());
            assert_eq!(a + b, data.iter().sum::<u64>());
        }
        // `a` runs on a thread other than this one: the helper, kept from one join to the next
        // (another test's join may hold it for a moment: then a thread of its own).
        let (there, here) = join(
            || std::thread::current().id(),
            || std::thread::current().id(),
        );
        assert_ne!(there, here);
        let kept = (0..10_000).any(|_| {
            let (name, ()) = join(|| std::thread::current().name().map(String::from), || ());
            name.as_deref() == Some("sts-helper")
        });
        assert!(kept, "no join ran on the helper");
    }

    #[test]
    fn a_join_within_a_join_runs_on_a_thread_of_its_own() {
        let (a, b) = join(|| join(|| 1, || 2), || 3);
        assert_eq!((a, b), ((1, 2), 3));
    }

    #[test]
    fn a_panic_on_either_side_reaches_the_caller_after_both_ended() {
        let ended = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            join(|| panic!("there"), || ended.store(true, Ordering::SeqCst))
        }));
        assert!(caught.is_err());
        assert!(ended.load(Ordering::SeqCst));
        let caught = catch_unwind(AssertUnwindSafe(|| {
            join(
                || {
                    std::thread::yield_now();
                    ended.store(false, Ordering::SeqCst)
                },
                || panic!("here"),
            )
        }));
        assert!(caught.is_err());
        assert!(
            !ended.load(Ordering::SeqCst),
            "the helper's half ended first"
        );
        // The helper is still there and free after both.
        assert_eq!(join(|| 5, || 6), (5, 6));
    }
}
