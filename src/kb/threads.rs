//! How many threads the CPU embedder (candle) uses. candle asks on every
//! matrix operation and, unless `RAYON_NUM_THREADS` is set, answers by
//! reading the CPU topology from `/proc` each time: under load that costs
//! about 9 % of the worker's CPU (a `perf` profile of the local brain under
//! the load harness). Setting the variable once, to what the process may
//! use, makes the answer an environment lookup. An operator's own value is
//! kept.

/// Sets `RAYON_NUM_THREADS` to the available parallelism unless it is set.
/// Call first thing in `main`, before any thread exists: changing the
/// environment while other threads may read it is undefined behaviour.
pub fn pin_before_any_thread() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // SAFETY: called from `main` before the async runtime or any other
    // thread starts, so nothing reads the environment concurrently.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
}
