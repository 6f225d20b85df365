//! BLIS's typed API with an explicit kernel context: how tile GEMM reaches the kernels that
//! suit this CPU without changing the process's environment.
//!
//! The vendored BLIS (1.0) picks its kernels by CPU model and does not know recent ones (AMD
//! Zen 4 and Zen 5 fall back to slow generic code). Its only switch at run time is the
//! environment variable `BLIS_ARCH_TYPE`, read once; setting it from a library means
//! `setenv` in a process that may already run threads, which is undefined behaviour against
//! any concurrent `getenv`. BLIS's typed API (`bli_?gemm_ex`, `bli_?syrk_ex`) takes the
//! kernel context as an argument instead, so we look up the context of the sub-configuration
//! we choose (from the CPU features that Rust detects) and pass it with every call. Nothing
//! global changes; a `BLIS_ARCH_TYPE` that the user set is still honoured (then we pass no
//! context and BLIS chooses as it always does).

use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::OnceLock;

/// BLIS's `dim_t` and `inc_t` (64-bit integers in the vendored build).
pub(super) type Dim = i64;

/// BLIS's `trans_t`: `BLIS_NO_TRANSPOSE` and `BLIS_TRANSPOSE`.
pub(super) const NO_TRANSPOSE: c_int = 0;
pub(super) const TRANSPOSE: c_int = 0x08;
/// BLIS's `uplo_t`: `BLIS_UPPER` (the upper and diagonal bits).
pub(super) const UPPER: c_int = 0x60;

unsafe extern "C" {
    fn bli_init_once();
    fn bli_gks_lookup_id(id: c_int) -> *const *const c_void;
    fn bli_gks_lookup_nat_cntx(id: c_int) -> *const c_void;
}

macro_rules! typed_api {
    ($t:ty, $gemm:ident, $syrk:ident) => {
        unsafe extern "C" {
            pub(super) fn $gemm(
                transa: c_int,
                transb: c_int,
                m: Dim,
                n: Dim,
                k: Dim,
                alpha: *const $t,
                a: *const $t,
                rs_a: Dim,
                cs_a: Dim,
                b: *const $t,
                rs_b: Dim,
                cs_b: Dim,
                beta: *const $t,
                c: *mut $t,
                rs_c: Dim,
                cs_c: Dim,
                cntx: *const c_void,
                rntm: *const c_void,
            );
            pub(super) fn $syrk(
                uploc: c_int,
                transa: c_int,
                m: Dim,
                k: Dim,
                alpha: *const $t,
                a: *const $t,
                rs_a: Dim,
                cs_a: Dim,
                beta: *const $t,
                c: *mut $t,
                rs_c: Dim,
                cs_c: Dim,
                cntx: *const c_void,
                rntm: *const c_void,
            );
        }
    };
}

typed_api!(f32, bli_sgemm_ex, bli_ssyrk_ex);
typed_api!(f64, bli_dgemm_ex, bli_dsyrk_ex);

/// A BLIS sub-configuration that we may choose: its name and its position in BLIS 1.0's
/// `arch_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Arch {
    name: &'static str,
    id: c_int,
}

const SKX: Arch = Arch { name: "skx", id: 0 };
const ZEN3: Arch = Arch {
    name: "zen3",
    id: 6,
};

/// The kernel context passed to every BLIS call (null: BLIS's own choice), and its name.
struct Context {
    cntx: *const c_void,
    name: Option<&'static str>,
}

// SAFETY: the context is an immutable structure that BLIS owns for the life of the process
// and reads from any thread (BLIS's own default context is shared the same way).
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

fn context() -> &'static Context {
    static CONTEXT: OnceLock<Context> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        let chosen = if std::env::var_os("BLIS_ARCH_TYPE").is_some() {
            None
        } else {
            arch_for_cpu(cpu_features())
        };
        // SAFETY: `bli_init_once` is thread-safe and idempotent; the lookups read BLIS's
        // global kernel structure after it, and `bli_gks_lookup_id` tells whether `arch` was
        // registered in this build before its context is read.
        unsafe {
            bli_init_once();
            match chosen {
                Some(arch) if !bli_gks_lookup_id(arch.id).is_null() => {
                    let cntx = bli_gks_lookup_nat_cntx(arch.id);
                    Context {
                        cntx,
                        name: (!cntx.is_null()).then_some(arch.name),
                    }
                }
                _ => Context {
                    cntx: std::ptr::null(),
                    name: None,
                },
            }
        }
    })
}

/// The kernel context for BLIS calls (null when BLIS chooses).
pub(super) fn cntx() -> *const c_void {
    context().cntx
}

/// The sub-configuration chosen (see [`super::blas_kernels`]).
pub(super) fn chosen() -> Option<&'static str> {
    context().name
}

/// The CPU features that decide the kernels: (AVX-512F and DQ, AVX2 and FMA).
fn cpu_features() -> (bool, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        (
            has!("avx512f") && has!("avx512dq"),
            has!("avx2") && has!("fma"),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    (false, false)
}

/// The kernels for a CPU with these features: Skylake-X's with AVX-512, Zen 3's with AVX2
/// and FMA, else BLIS's own choice.
fn arch_for_cpu((avx512, avx2_fma): (bool, bool)) -> Option<Arch> {
    if avx512 {
        Some(SKX)
    } else if avx2_fma {
        Some(ZEN3)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_follow_the_instruction_set() {
        assert_eq!(arch_for_cpu((true, true)), Some(SKX));
        assert_eq!(arch_for_cpu((false, true)), Some(ZEN3));
        assert_eq!(arch_for_cpu((false, false)), None);
    }

    #[test]
    fn the_chosen_context_exists_in_this_build() {
        if std::env::var_os("BLIS_ARCH_TYPE").is_none() && arch_for_cpu(cpu_features()).is_some() {
            assert!(!cntx().is_null());
            assert!(chosen().is_some());
        }
    }
}
