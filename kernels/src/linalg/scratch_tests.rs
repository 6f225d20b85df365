//! The scratch companions of the tile kernels against what the kernels allocate: a counting
//! allocator (for this test binary) measures the most bytes a kernel call holds at once on
//! the calling thread, which must not exceed what the companions report.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::factor::mat_bytes;
use super::*;

/// The system allocator, counting the bytes live on each thread and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: a thread being torn down has no counters left, and needs none.
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + delta);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            // Counted as a move: both buffers live for a moment.
            count(new_size as isize);
            count(-(layout.size() as isize));
        }
        moved
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// `f()` and the most bytes it allocated on this thread at once (its result's among them).
/// `f` runs once before, so that per-thread caches (faer's and the BLAS's) exist already.
fn peak_of<R>(mut f: impl FnMut() -> R) -> (R, usize) {
    drop(f());
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let result = f();
    let peak = PEAK.with(Cell::get) - start;
    (result, peak.max(0) as usize)
}

/// Deterministic values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005) | 1;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// A symmetric positive-definite `n x n` matrix: `a aᵀ + n I`.
fn spd(n: usize) -> Vec<f64> {
    let a = values(n * n, 7);
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|p| a[i * n + p] * a[j * n + p]).sum::<f64>();
        }
        out[i * n + i] += n as f64;
    }
    out
}

/// A reported figure must cover what was measured, and not by more than `slack` times
/// (plus a page) for a figure that is meant to be close.
fn assert_covers(what: &str, reported: usize, measured: usize, slack: usize) {
    assert!(
        measured <= reported,
        "{what}: measured {measured} bytes, reported {reported}"
    );
    assert!(
        reported <= slack * measured + 4096,
        "{what}: reported {reported} bytes for {measured} measured"
    );
}

#[test]
fn faer_matrices_and_small_shapes_have_the_hand_computed_sizes() {
    // Columns padded to 64-byte lines: 8 f64s, 16 f32s.
    assert_eq!(mat_bytes::<f64>(7, 7), 8 * 8 * 7);
    assert_eq!(mat_bytes::<f64>(16, 2), 16 * 8 * 2);
    assert_eq!(mat_bytes::<f32>(3, 3), 16 * 4 * 3);
    assert_eq!(mat_bytes::<f64>(5, 0), 0);
    assert_eq!(add_gram_scratch::<f64>(10), (16 * 16 + 64 * 16) * 8);
    assert_eq!(add_gram_scratch::<f32>(0), 0);
    assert_eq!(SvdFactors::<f64>::bytes_for(5, 3), (15 + 3 + 9) * 8);
    assert_eq!(SvdFactors::<f32>::bytes_for(3, 5), (9 + 3 + 15) * 4);
    // A 10 x 4 f64 tile may be factored by CholeskyQR2 (Q1 and two 4 x 4 triangles), the
    // larger of its two possible factorizations (Householder keeps the tile and at most
    // 4 x 4 coefficients).
    assert_eq!(TileQr::<f64>::nbytes_bound(10, 4), (40 + 32) * 8);
    // A wide f32 tile is factored by Householder reflectors only: the tile and a block
    // of coefficients, at most k x k.
    assert!(TileQr::<f32>::nbytes_bound(3, 8) <= (24 + 9) * 4);
}

#[test]
fn cholesky_needs_no_more_than_its_companion_says() {
    for n in [1, 7, 64, 150] {
        let a = spd(n);
        let (l, peak) = peak_of(|| cholesky_lower(&a, n).unwrap());
        assert_eq!(l.len(), n * n);
        let reported = n * n * 8 + cholesky_lower_scratch::<f64>(n);
        assert_covers(&format!("cholesky {n}"), reported, peak, 2);
    }
}

#[test]
fn lu_needs_no_more_than_its_companion_says() {
    for (m, n) in [(1, 1), (9, 9), (120, 40), (150, 150)] {
        let a = values(m * n, 3);
        let (order, peak) = peak_of(|| {
            let mut lu = a.clone();
            let order = lu_partial_pivoting(&mut lu, m, n).unwrap();
            drop(lu);
            order
        });
        assert_eq!(order.len(), m);
        // The copy made inside the measurement, the row order, and the scratch.
        let reported =
            m * n * 8 + m * size_of::<usize>() + lu_partial_pivoting_scratch::<f64>(m, n);
        assert_covers(&format!("lu {m} x {n}"), reported, peak, 2);
    }
}

#[test]
fn svd_needs_no_more_than_its_companion_says() {
    for (m, n) in [(1, 1), (6, 3), (3, 6), (80, 80), (200, 30)] {
        let a = values(m * n, 5);
        let (factors, peak) = peak_of(|| thin_svd(&a, m, n).unwrap());
        assert_eq!(factors.nbytes(), SvdFactors::<f64>::bytes_for(m, n));
        let reported = SvdFactors::<f64>::bytes_for(m, n) + thin_svd_scratch::<f64>(m, n);
        assert_covers(&format!("svd {m} x {n}"), reported, peak, 2);
    }
}

#[test]
fn triangular_solves_and_gram_matrices_need_what_their_documents_say() {
    let n = 120;
    let l = cholesky_lower(&spd(n), n).unwrap();
    let t = Triangular {
        data: &l,
        n,
        lower: true,
        unit_diagonal: false,
    };
    let mut b = values(n * 90, 9);
    let ((), peak) = peak_of(|| solve_left(t, Op::Plain, &mut b, 90));
    assert_eq!(peak, 0, "solve_left");
    let mut b = values(90 * n, 9);
    let ((), peak) = peak_of(|| solve_right(t, Op::Transposed, &mut b, 90));
    assert_eq!(peak, 0, "solve_right");
    for n in [1, 10, 33] {
        let a = values(100 * n, 2);
        let mut gram = vec![0.0; n * n];
        let ((), peak) = peak_of(|| add_gram(&mut gram, &a, 100, n));
        assert_eq!(peak, add_gram_scratch::<f64>(n), "add_gram {n}");
    }
}

/// Checks the tile QR companions for a factorization made by `factor`.
fn check_tile_qr<T: crate::dtype::FloatElement>(
    what: &str,
    a: &[T],
    m: usize,
    n: usize,
    factor: impl Fn(&[T], usize, usize) -> TileQr<T>,
) -> QrMethod {
    let size = size_of::<T>();
    let (qr, peak) = peak_of(|| factor(a, m, n));
    let bound = TileQr::<T>::nbytes_bound(m, n);
    assert!(qr.nbytes() <= bound, "{what}: {} > {bound}", qr.nbytes());
    let reported = bound + TileQr::<T>::scratch_bytes(m, n);
    assert_covers(&format!("{what}: factoring"), reported, peak, 3);
    let k = m.min(n);
    let (q, peak) = peak_of(|| qr.thin_q());
    assert_eq!(q.len(), m * k);
    let reported = m * k * size + TileQr::<T>::thin_q_scratch(m, n);
    assert!(peak <= reported, "{what}: thin_q: {peak} > {reported}");
    let top = vec![T::ONE; k * 3];
    let (product, peak) = peak_of(|| qr.q_times(&top, 3));
    assert_eq!(product.len(), m * 3);
    let reported = m * 3 * size + TileQr::<T>::q_times_scratch(m, n, 3);
    assert!(peak <= reported, "{what}: q_times: {peak} > {reported}");
    qr.method()
}

#[test]
fn tile_qr_needs_no_more_than_its_companions_say() {
    // CholeskyQR2 (tall, f64, well conditioned).
    let a = values(400 * 20, 11);
    let method = check_tile_qr("gram 400 x 20", &a, 400, 20, TileQr::new);
    assert_eq!(method, QrMethod::CholeskyQr2);
    // CholeskyQR2 tried and refused (two equal columns), then Householder.
    let mut a = values(300 * 6, 12);
    for row in a.chunks_mut(6) {
        row[5] = row[4];
    }
    let method = check_tile_qr("singular 300 x 6", &a, 300, 6, TileQr::new);
    assert_eq!(method, QrMethod::Householder);
    // Householder only: short, wide, single precision, one row.
    for (m, n) in [(30, 20), (5, 12), (1, 1)] {
        let a = values(m * n, 13);
        check_tile_qr(&format!("householder {m} x {n}"), &a, m, n, TileQr::new);
    }
    let a: Vec<f32> = values(500 * 16, 14).iter().map(|&x| x as f32).collect();
    check_tile_qr("f32 500 x 16", &a, 500, 16, TileQr::new);
    // Blocked Householder: 4 columns of f64 are cut into row blocks of 98,304 rows.
    let m = 2 * 98_304 + 17;
    let a = values(m * 4, 15);
    let method = check_tile_qr("blocked", &a, m, 4, TileQr::householder);
    assert_eq!(method, QrMethod::Householder);
}
