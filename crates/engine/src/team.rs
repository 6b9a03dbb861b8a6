//! A team of threads for one request (the `threads` feature). Handed to rayon, each fork-join
//! may wake threads up two or three times: the pool's idle threads sleep on `Atomics.wait` in
//! wasm. A model with many small products (SmolLM2: 30 layers) makes hundreds of fork-joins
//! per request. For the length of a request the worker's thread instead leads a team: the
//! pool's other threads wait for blocks, and the worker's thread computes blocks too; a
//! fork-join then costs a lock and a few atomic operations. A helper spins only briefly
//! between fork-joins, then parks until the next is published: a thread that spins on the
//! other core slowed the leader's own work, what runs between fork-joins, by as much as three
//! times (BENCHMARKS.md, "Threads"). The leader spins while it waits for the helpers' last
//! blocks. After the request the helpers return to the pool. There is one team at a time (the
//! job is a global): the worker has one thread, and tests/parallel.rs leads its teams from one
//! test.
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
/// Bumped when a job is published: a waiting helper looks at JOB only when it changes.
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

/// Runs `work` with `threads − 1` of rayon's threads beside this thread, ready for the blocks
/// of every fork-join `work` makes ([`run`]).
pub fn with_team<R>(threads: usize, work: impl FnOnce() -> R) -> R {
    if threads < 2 || LEADS.with(|leads| leads.get()) {
        return work();
    }
    let team = TEAM.fetch_add(1, Ordering::AcqRel) + 1;
    if let Ok(mut helpers) = HELPERS.lock() {
        helpers.clear();
    }
    ON.store(true, Ordering::Release);
    for _ in 1..threads {
        rayon::spawn(move || help(team));
    }
    LEADS.with(|leads| leads.set(true));
    let result = work();
    LEADS.with(|leads| leads.set(false));
    ON.store(false, Ordering::Release);
    wake_helpers();
    result
}

/// Spins a helper makes, looking for a new job, before it parks until one is published. Of
/// 10, 100, 1,000 and 2,000, 100 made GPT-2 small's traces fastest.
const SPINS_BEFORE_PARKING: u32 = 100;

/// The helpers of the team that is on, to unpark when a job is published or the team ends.
static HELPERS: Mutex<Vec<std::thread::Thread>> = Mutex::new(Vec::new());

/// Unparks every helper (a helper that is not parked keeps the token and does not park).
fn wake_helpers() {
    if let Ok(helpers) = HELPERS.lock() {
        helpers.iter().for_each(std::thread::Thread::unpark);
    }
}

/// Whether this thread leads a team, so [`run`] can hand blocks to it.
pub fn leading() -> bool {
    LEADS.with(|leads| leads.get())
}

/// A helper's loop: claims and computes blocks of each job published while `team` is on.
fn help(team: usize) {
    if let Ok(mut helpers) = HELPERS.lock() {
        helpers.push(std::thread::current());
    }
    let mut seen = GENERATION.load(Ordering::Acquire);
    let mut spins = 0;
    while ON.load(Ordering::Acquire) && TEAM.load(Ordering::Acquire) == team {
        let generation = GENERATION.load(Ordering::Acquire);
        if generation == seen {
            // Rayon work waiting in the pool (candle's own parallel loops, natively gemm's)
            // runs here: the helpers hold all of the pool's threads while the team is on.
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                continue;
            }
            spins += 1;
            if spins < SPINS_BEFORE_PARKING {
                std::hint::spin_loop();
            } else {
                std::thread::park();
                spins = 0;
            }
            continue;
        }
        spins = 0;
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
            wake_helpers();
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
