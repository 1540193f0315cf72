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
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

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
    let (mut ra, mut rb) = (None, None);
    {
        let there = &mut ra;
        let mut b = Some(b);
        beside(
            Box::new(move || *there = Some(catch_unwind(AssertUnwindSafe(a)))),
            &mut || rb = b.take().map(|b| catch_unwind(AssertUnwindSafe(b))),
        );
    }
    (answer(ra), answer(rb))
}

/// A half's answer, or its panic resumed.
fn answer<R>(r: Option<std::thread::Result<R>>) -> R {
    match r.expect("both halves ran") {
        Ok(r) => r,
        Err(p) => resume_unwind(p),
    }
}

/// Runs `job` on the helper (else on a thread of its own) and `here` on this thread, and
/// returns once both have ended. Neither panics: [`join`] catches their panics in them.
fn beside(job: Box<dyn FnOnce() + Send + '_>, here: &mut dyn FnMut()) {
    let Some(helper) = free_helper() else {
        std::thread::scope(|s| {
            s.spawn(job);
            here();
        });
        return;
    };
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let signal = Arc::clone(&done);
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
        job();
        // Once `job` has ended, only the job's own (heap) state is touched.
        let (ended, changed) = &*signal;
        *ended.lock().unwrap_or_else(PoisonError::into_inner) = true;
        changed.notify_one();
    });
    // SAFETY: the job borrows what `job` borrows, which outlives this call. The helper runs
    // every job it is given, once, and this function does not return before that job has
    // ended (it waits for `done` below; `here` does not unwind, see above): after it marks
    // `done`, the job touches only its own box and the shared `done`.
    let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
    post(helper, job);
    here();
    let (ended, changed) = &*done;
    let mut ended = ended.lock().unwrap_or_else(PoisonError::into_inner);
    while !*ended {
        ended = changed.wait(ended).unwrap_or_else(PoisonError::into_inner);
    }
    helper.busy.store(false, Ordering::Release);
}

/// The helper, held for one job (its `busy` taken): `None` when there is none, or a [`join`] or
/// a [`later`] job holds it.
fn free_helper() -> Option<&'static Helper> {
    helper().filter(|h| {
        h.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })
}

/// Gives `job` to the helper, which holds no other (the caller took `busy`).
fn post(helper: &Helper, job: Job) {
    #[cfg(target_os = "linux")]
    elsewhere(helper);
    let mut slot = helper.job.lock().unwrap_or_else(PoisonError::into_inner);
    *slot = Some(job);
    helper.posted.notify_one();
}

/// A job the helper runs while its caller goes on ([`later`]).
pub struct Later<R> {
    answer: Arc<Answer<R>>,
}

/// A later job's answer, once it has ended.
type Answer<R> = (Mutex<Option<std::thread::Result<R>>>, Condvar);

impl<R> Later<R> {
    /// Waits for the job to end and gives its answer; its panic is resumed here.
    pub fn take(self) -> R {
        let (answer, ended) = &*self.answer;
        let mut answer = answer.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            // The helper runs every job it is given and sets its answer, panic or not.
            if let Some(answer) = answer.take() {
                return answer.unwrap_or_else(|p| resume_unwind(p));
            }
            answer = ended.wait(answer).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Runs `job` on the helper while the caller goes on (while a large answer arrives, issue 24),
/// its answer taken with [`Later::take`]; the helper is free for a [`join`] by then. `None`
/// when there is no helper, or a [`join`] or another job holds it.
pub fn later<R: Send + 'static>(job: impl FnOnce() -> R + Send + 'static) -> Option<Later<R>> {
    let helper = free_helper()?;
    let answer: Arc<Answer<R>> = Arc::new((Mutex::new(None), Condvar::new()));
    let theirs = Arc::clone(&answer);
    post(
        helper,
        Box::new(move || {
            let answer = catch_unwind(AssertUnwindSafe(job));
            // Free before the answer can be taken: the caller's next join finds it so.
            helper.busy.store(false, Ordering::Release);
            // A caller that no longer waits has dropped its `Later`: the answer goes with it.
            let (slot, ended) = &*theirs;
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
            ended.notify_one();
        }),
    );
    Some(Later { answer })
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
    fn a_job_for_later_runs_beside_its_caller_and_frees_the_helper_before_its_answer() {
        start();
        // Another test's join may hold the helper for a moment.
        let (go, pending) = (0..10_000_000)
            .find_map(|_| {
                let (go, wait) = std::sync::mpsc::channel::<()>();
                let pending = later(move || {
                    // Runs while its caller goes on: it waits for the caller's word.
                    wait.recv().unwrap();
                    std::thread::current().name().map(String::from)
                });
                if pending.is_none() {
                    std::thread::yield_now();
                }
                pending.map(|l| (go, l))
            })
            .expect("the helper was never free");
        // The caller goes on while the job waits for it.
        go.send(()).unwrap();
        assert_eq!(pending.take().as_deref(), Some("sts-helper"));
        // Free again: the next job has it.
        let again = || {
            (0..10_000_000).find_map(|_| {
                later(|| std::thread::current().name().map(String::from)).or_else(|| {
                    std::thread::yield_now();
                    None
                })
            })
        };
        assert_eq!(again().unwrap().take().as_deref(), Some("sts-helper"));
        let panicked = (0..10_000_000).find_map(|_| {
            later(|| panic!("there")).or_else(|| {
                std::thread::yield_now();
                None
            })
        });
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let () = panicked.expect("the helper").take();
        }));
        assert!(caught.is_err(), "the job's panic reaches the caller");
        assert_eq!(again().unwrap().take().as_deref(), Some("sts-helper"));
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
