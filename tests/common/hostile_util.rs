//! Helpers of the hostile store tests: running a test's body in a child process (so that
//! an abort fails the test instead of killing the run), and bytes that lie: zstd frames
//! declaring any size, deflate bombs, crc32c checksums to keep a forged shard index valid.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child process that runs a test's body.
const CHILD: &str = "CHUNKWISE_HOSTILE_CHILD";

/// Runs `body` in a child process (this test binary, running only `test`) and asserts that
/// the child ran it and exited normally within a minute: an abort, a crash or a hang in a
/// decoder fails the test (with the child's output) instead of killing the test run.
pub fn in_child(test: &str, body: impl FnOnce()) {
    in_child_within(test, None, body);
}

/// [`in_child`] with the child's address space limited to `memory` bytes (one malloc
/// arena, so that the limit measures what the test allocates).
pub fn in_child_within(test: &str, memory: Option<u64>, body: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        body();
        return;
    }
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            test,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("MALLOC_ARENA_MAX", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(memory) = memory {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: memory,
                    rlim_max: memory,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = command.spawn().expect("start the child process");
    let started = Instant::now();
    while child.try_wait().expect("wait for the child").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("the child's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child running {test} ended with {:?} after {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        started.elapsed()
    );
}

/// A zstd frame declaring `declared` bytes of content, holding one raw block of `payload`.
pub fn lying_zstd_frame(declared: u64, single_segment: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD];
    // Frame header descriptor: an 8-byte content size; a window of 2 MiB unless the frame
    // is a single segment (its window is then the content size).
    if single_segment {
        frame.push(0xE0);
    } else {
        frame.extend([0xC0, 0x58]);
    }
    frame.extend(declared.to_le_bytes());
    let block = 1u32 | ((payload.len() as u32) << 3); // last block, raw, its size
    frame.extend(&block.to_le_bytes()[..3]);
    frame.extend(payload);
    frame
}

/// The CRC-32C (Castagnoli) of `bytes`, as Zarr's `crc32c` codec stores it.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A deflate stream of `zeros` zero bytes: gzip (`gzip: true`) or zlib.
pub fn deflate_bomb(gzip: bool, zeros: usize) -> Vec<u8> {
    use std::io::Write;
    let block = vec![0u8; 1 << 20];
    let level = flate2::Compression::fast();
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
        for _ in 0..zeros / block.len() {
            gz.write_all(&block).unwrap();
        }
        gz.finish().unwrap()
    } else {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), level);
        for _ in 0..zeros / block.len() {
            z.write_all(&block).unwrap();
        }
        z.finish().unwrap()
    }
}

/// The most memory this process has held (its peak resident set).
pub fn peak_resident_bytes() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    u64::try_from(usage.ru_maxrss).unwrap() * 1024
}
