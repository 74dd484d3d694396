//! How many threads each CPU embedding pass (candle) uses: one, unless the
//! operator sets `RAYON_NUM_THREADS`. A worker embeds for many concurrent
//! turns, and [`super::batching::Batching`] runs one pass per core side by
//! side; a multi-threaded pass instead spins at candle's thread barrier
//! whenever another process wants the core (a `perf` profile of the worker
//! under the `llm` scenario put about 18 % of its CPU there). Setting the
//! variable also spares candle reading the CPU topology from `/proc` on
//! every matrix operation, which it does when the variable is unset.

/// Sets `RAYON_NUM_THREADS` to 1 unless it is set. Call first thing in
/// `main`, before any thread exists: changing the environment while other
/// threads may read it is undefined behaviour.
pub fn pin_before_any_thread() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    // SAFETY: called from `main` before the async runtime or any other
    // thread starts, so nothing reads the environment concurrently.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
}
