//! The worker on a pool of threads (`--features threads`, scripts/build-threads-worker.sh):
//! its module script (threads/entry.js) starts the pool, then calls `start_threaded`, both
//! exported by the worker library this links.
extern crate ae_worker;

fn main() {}
