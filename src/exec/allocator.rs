//! Opt-in allocator tuning for processes that run large computations: nothing here runs
//! unless the application calls [`tune_allocator`].

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether [`tune_allocator`] asked for huge pages on large dense results.
static HUGE_PAGES: AtomicBool = AtomicBool::new(false);

/// Tunes the process's allocator for chunkwise's large tile buffers. **This changes
/// process-wide state**, so chunkwise never does it by itself: call it once at the start of
/// `main` in an application (a benchmark, a batch job) that mostly runs chunkwise, before
/// other threads start; later calls change nothing. Returns whether the process's allocator
/// is tuned: true on glibc Linux (by this call or an earlier one); elsewhere false, where
/// only the huge-page advice is turned on (on Linux).
///
/// What it changes, and why:
/// - glibc `mallopt(M_MMAP_THRESHOLD, 256 MiB)` and `mallopt(M_TRIM_THRESHOLD, 1 GiB)`:
///   tasks allocate and free buffers of several megabytes (tiles, compressed and decoded
///   chunks), which glibc by default serves with fresh `mmap`s and unmaps on free, so every
///   tile pays for page faults and zeroing (measured as 40% of the time of a Zarr
///   read-and-sum). With these thresholds the freed buffers are reused by the next tiles:
///   reads went from about 800 to 2000 MB/s. The memory kept this way is memory the
///   executor's budget already allowed, but it is not returned to the system between
///   computations.
/// - glibc `mallopt(M_ARENA_MAX, 1)`: one arena for all threads keeps large tiles in the
///   main heap too (per-thread arenas are at most 64 MiB); the climate example ran 6% faster
///   with 10% less peak memory. Other threads of the process then share that arena.
/// - `madvise(MADV_HUGEPAGE)` on dense results of 32 MiB or more that
///   [`Array::compute`](crate::Array::compute) allocates (Linux): a 1.6 GB result then takes
///   800 page faults instead of 400,000.
///
/// ```
/// // At the start of `main`, before any other thread exists:
/// chunkwise::tune_allocator();
/// ```
pub fn tune_allocator() -> bool {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        HUGE_PAGES.store(cfg!(target_os = "linux"), Ordering::Relaxed);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes glibc's allocation parameters (under glibc's own
        // lock); the caller opted in to the process-wide change.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    });
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

/// Asks the kernel to back a large, freshly allocated buffer with huge pages, when the
/// application opted in through [`tune_allocator`] (Linux only; elsewhere nothing). The
/// advice is only a hint, and a buffer below 32 MiB is left alone.
pub(crate) fn advise_huge_pages(start: *mut u8, bytes: usize) {
    const HUGE_PAGE: usize = 2 << 20;
    if bytes < 16 * HUGE_PAGE || !HUGE_PAGES.load(Ordering::Relaxed) {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let begin = (start as usize).next_multiple_of(HUGE_PAGE);
        let end = (start as usize + bytes) / HUGE_PAGE * HUGE_PAGE;
        if end > begin {
            // SAFETY: the range lies inside one live allocation of the caller, and
            // MADV_HUGEPAGE changes only how its pages are backed, never their contents.
            unsafe {
                libc::madvise(begin as *mut libc::c_void, end - begin, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = start;
}
