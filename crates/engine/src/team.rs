//! A team of spinning threads for one request (the `threads` feature). Handed to rayon, each
//! fork-join may wake threads up two or three times: the pool's idle threads sleep on
//! `Atomics.wait` in wasm. A model with many small products (SmolLM2: 30 layers) makes
//! hundreds of fork-joins per request. For the length of a request the worker's thread instead
//! leads a team: the pool's other threads spin, waiting for blocks, and the worker's thread
//! computes blocks too; a fork-join then costs a lock and a few atomic operations. Helpers
//! that parked between fork-joins made long traces slower, by a third after another page's
//! threads had run. After the request the team's threads return to the pool, which lets them
//! sleep. There is one team at a time (the job is a global): the worker has one thread, and
//! tests/parallel.rs leads its teams from one test.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// One fork-join's blocks: `work(i)` for i in 0..count, claimed one at a time.
struct Job {
    /// The block function of the fork-join running on the team's leader. It borrows the
    /// leader's stack: the lifetime is erased, and [`run`] does not return (so the
    /// closure stays alive) until every claimed block has finished.
    work: *const (dyn Fn(usize) + Sync),
    count: usize,
    next: usize,
    generation: usize,
}

// SAFETY: `work` points to a `Sync` closure that outlives every use (see `Job::work`).
unsafe impl Send for Job {}

/// The fork-join the team works on, if any.
static JOB: Mutex<Option<Job>> = Mutex::new(None);
/// Bumped when a job is published: a spinning helper looks at JOB only when it changes.
static GENERATION: AtomicUsize = AtomicUsize::new(0);
/// Blocks of the current job finished.
static DONE: AtomicUsize = AtomicUsize::new(0);
/// Which team is on (each request's team has its own number); helpers of another leave.
static TEAM: AtomicUsize = AtomicUsize::new(0);
static ON: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread leads the team that is on.
    static LEADS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` with `threads − 1` of rayon's threads spinning beside this thread, ready for
/// the blocks of every fork-join `work` makes ([`run`]).
pub fn with_team<R>(threads: usize, work: impl FnOnce() -> R) -> R {
    if threads < 2 || LEADS.with(|leads| leads.get()) {
        return work();
    }
    let team = TEAM.fetch_add(1, Ordering::AcqRel) + 1;
    ON.store(true, Ordering::Release);
    for _ in 1..threads {
        rayon::spawn(move || help(team));
    }
    LEADS.with(|leads| leads.set(true));
    let result = work();
    LEADS.with(|leads| leads.set(false));
    ON.store(false, Ordering::Release);
    result
}

/// Whether this thread leads a team, so [`run`] can hand blocks to it.
pub fn leading() -> bool {
    LEADS.with(|leads| leads.get())
}

/// A helper's loop: claims and computes blocks of each job published while `team` is on.
fn help(team: usize) {
    let mut seen = GENERATION.load(Ordering::Acquire);
    while ON.load(Ordering::Acquire) && TEAM.load(Ordering::Acquire) == team {
        let generation = GENERATION.load(Ordering::Acquire);
        if generation == seen {
            // Rayon work waiting in the pool (candle's own parallel loops, natively gemm's)
            // runs here: the helpers hold all of the pool's threads while the team is on.
            if rayon::yield_now() != Some(rayon::Yield::Executed) {
                std::hint::spin_loop();
            }
            continue;
        }
        seen = generation;
        while let Some((work, i)) = claim(generation) {
            // SAFETY: the leader keeps `work` alive until DONE counts this block.
            unsafe { (*work)(i) };
            DONE.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The next unclaimed block of job `generation`, if that job still has one.
fn claim(generation: usize) -> Option<(*const (dyn Fn(usize) + Sync), usize)> {
    let mut job = JOB.lock().ok()?;
    let job = job.as_mut().filter(|job| job.generation == generation)?;
    (job.next < job.count).then(|| {
        job.next += 1;
        (job.work, job.next - 1)
    })
}

/// `work(i)` for every i in 0..count on the team: the leader publishes the job, computes the
/// blocks no helper has claimed, and waits until every block has finished.
pub fn run(count: usize, work: &(dyn Fn(usize) + Sync)) {
    // SAFETY: only the lifetime is erased; this function returns after the last block.
    let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(work) };
    let generation = GENERATION.load(Ordering::Acquire) + 1;
    match JOB.lock() {
        Ok(mut job) => {
            DONE.store(0, Ordering::Release);
            *job = Some(Job {
                work: erased,
                count,
                next: 0,
                generation,
            });
            GENERATION.store(generation, Ordering::Release);
        }
        // A block panicked while publishing or claiming: nothing was published; compute alone.
        Err(_) => return (0..count).for_each(work),
    }
    while let Some((_, i)) = claim(generation) {
        work(i);
        DONE.fetch_add(1, Ordering::AcqRel);
    }
    while DONE.load(Ordering::Acquire) < count {
        // Rayon work of the helpers' blocks (candle's own parallel loops) runs here meanwhile.
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
    if let Ok(mut job) = JOB.lock() {
        *job = None;
    }
}
