//! What the benchmarks share: the size divisor, the process's resident memory, and median
//! timing. Each bench uses part of it.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// `CHUNKWISE_BENCH_SCALE`: every side is divided by it for a quick run (default 1).
pub(crate) fn scale() -> usize {
    env_factor("CHUNKWISE_BENCH_SCALE")
}

/// The positive whole number in the environment variable `name` (default 1).
pub(crate) fn env_factor(name: &str) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Resets the kernel's record of this process's peak resident memory.
#[allow(dead_code)]
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory figure of this process in MiB from `/proc/self/status`: `"VmRSS:"` (now) or
/// `"VmHWM:"` (peak since the last reset).
#[allow(dead_code)]
pub(crate) fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The CPU time (user and system) that this process's threads have taken so far, in
/// seconds.
pub(crate) fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given, which is plain data.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The CPU time (user and system) that the process `pid` (a child of this one) has taken
/// so far, in seconds, from `/proc/PID/stat`; NaN where that cannot be read.
pub(crate) fn child_cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The fields after the command's name, which is in parentheses and may hold spaces:
    // utime and stime are the 14th and 15th fields of the line, in clock ticks.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<f64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse().ok())
        .collect();
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    match ticks.as_slice() {
        [user, system] if per_second > 0.0 => (user + system) / per_second,
        _ => f64::NAN,
    }
}

/// Median wall time of `reps` runs, and the last run's result.
pub(crate) fn median<R>(reps: usize, mut f: impl FnMut() -> R) -> (Duration, R) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..reps {
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed());
        last = Some(r);
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

/// Worker threads of a bench: every core.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Peak RSS growth in MiB while `f` runs, and its result.
pub(crate) fn with_peak_rss<R>(f: impl FnOnce() -> R) -> (f64, R) {
    reset_peak_rss();
    let base = rss_mib("VmRSS:");
    let r = f();
    (rss_mib("VmHWM:") - base, r)
}

/// The time of day (UTC) as `hh:mm:ss`.
pub(crate) fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60)
}

/// A workload of a bench: its name, and the function that runs it at a scale divisor.
pub(crate) type Workload = (&'static str, fn(usize));

/// Runs the workloads named in `CHUNKWISE_BENCH_ONLY` (comma-separated) or as arguments,
/// all of them if none is named: one named workload runs here, several each in a process
/// of its own (so one's memory does not show in another's), after a header line.
pub(crate) fn run_selected(bench: &str, workloads: &[Workload]) {
    let s = scale();
    let mut only: Vec<String> = std::env::var("CHUNKWISE_BENCH_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    only.extend(std::env::args().skip(1).filter(|a| !a.starts_with('-')));
    let selected: Vec<_> = workloads
        .iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|o| o == name))
        .collect();
    if let [(_, run)] = selected.as_slice() {
        run(s);
        return;
    }
    println!(
        "chunkwise {bench} bench: {} threads, scale 1/{s}, started {} UTC",
        threads(),
        utc_now()
    );
    for (name, _) in selected {
        let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
            .env("CHUNKWISE_BENCH_ONLY", name)
            .status()
            .expect("the bench runs itself");
        assert!(status.success(), "the {name} workload failed");
    }
    println!("finished {} UTC", utc_now());
}

/// A rayon pool of [`threads`] workers, for the dense baselines.
pub(crate) fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads())
        .build()
        .unwrap()
}

/// The chunkwise configuration of a bench: [`threads`] workers.
pub(crate) fn config() -> chunkwise::Config {
    chunkwise::Config::default().threads(threads())
}

/// Prints the optimised plan of `x` when `CHUNKWISE_BENCH_EXPLAIN=1`.
pub(crate) fn explain<T: chunkwise::Element>(x: &chunkwise::Array<T>) {
    if std::env::var("CHUNKWISE_BENCH_EXPLAIN").is_ok_and(|v| v == "1") {
        println!("{}", x.explain().unwrap());
    }
}

/// The one line of a workload: chunkwise's time and peak RSS growth beside its baseline's,
/// their ratio, and what the check of the result found.
pub(crate) fn report(
    name: &str,
    ours: (Duration, f64),
    base: (Duration, f64),
    base_what: &str,
    check: &str,
) {
    let ((t, rss), (tb, rss_b)) = (ours, base);
    println!(
        "{name}: chunkwise {:.3} s, peak RSS +{rss:.0} MiB | baseline ({base_what}) {:.3} s, peak RSS +{rss_b:.0} MiB | baseline time / chunkwise time = {:.3} | {check}",
        t.as_secs_f64(),
        tb.as_secs_f64(),
        tb.as_secs_f64() / t.as_secs_f64()
    );
}

/// The largest relative difference between `got` and `want`, asserted below `rel`.
pub(crate) fn check_close(what: &str, got: &[f64], want: &[f64], rel: f64) -> String {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1e-30))
        .fold(0.0, f64::max);
    assert!(
        worst <= rel,
        "{what}: relative difference {worst:e} over {rel:e}"
    );
    format!("{what} agrees within {worst:.1e} (relative)")
}
