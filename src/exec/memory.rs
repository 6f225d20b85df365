//! How much memory this process may use: the machine's total (`/proc/meminfo`), or the
//! memory limit of its control group (containers, batch schedulers) where that is smaller.

use std::path::Path;

/// Memory assumed where `/proc/meminfo` cannot be read (other systems).
const FALLBACK: u64 = 8 << 30;

/// The memory this process may use, in bytes: the smaller of the machine's total memory
/// (`MemTotal` in `/proc/meminfo`) and the memory limit of the process's control group, v2
/// (`memory.max`) or v1 (`memory.limit_in_bytes`), of its own group or any group above it.
/// 8 GiB where neither can be read. The default memory budget is half of it
/// ([`Config::budget_bytes`](crate::Config::budget_bytes)).
///
/// ```
/// let bytes = chunkwise::physical_memory();
/// assert!(bytes > 0);
/// ```
pub fn physical_memory() -> u64 {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    available_memory(read)
}

/// The memory budget of a config that sets none: half of [`physical_memory`].
pub(crate) fn default_budget() -> u64 {
    physical_memory() / 2
}

/// An error for `op` if `what`, made at once when the graph is built (before any budget
/// applies), would take more than [`default_budget`] bytes.
pub(crate) fn check_built_bytes(op: &str, what: &str, bytes: u64) -> crate::error::Result<()> {
    if bytes <= default_budget() {
        return Ok(());
    }
    Err(crate::error::Error::Build(
        crate::error::BuildError::InvalidArgument {
            op: op.into(),
            reason: format!(
                "{what} would take {bytes} bytes, more than half of the memory this process may use"
            ),
        },
    ))
}

/// [`physical_memory`] with the files read through `read` (a path to its contents, `None`
/// where the file is missing), so that tests can pass the contents in.
fn available_memory(read: impl Fn(&str) -> Option<String>) -> u64 {
    let total = read("/proc/meminfo")
        .as_deref()
        .and_then(meminfo_total)
        .unwrap_or(FALLBACK);
    match cgroup_limit(&read) {
        Some(limit) => total.min(limit),
        None => total,
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A cgroup memory limit file's value: bytes, or `None` for `max` (no limit) or text that is
/// not a number. (cgroup v1 writes "no limit" as a huge number, which the minimum with the
/// machine's memory then ignores.)
fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The smallest memory limit of the cgroups that hold this process, v2 and v1: the group of
/// the mounted hierarchy's root (inside a container, the container's own group) and the
/// process's group from `/proc/self/cgroup` with each group above it.
fn cgroup_limit(read: &impl Fn(&str) -> Option<String>) -> Option<u64> {
    let membership = read("/proc/self/cgroup").unwrap_or_default();
    let mut files = Vec::new();
    for line in membership.lines() {
        // `hierarchy-id:controllers:path`; v2's unified hierarchy is `0::path`.
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(group)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            files.extend(group_files("/sys/fs/cgroup", group, "memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            files.extend(group_files(
                "/sys/fs/cgroup/memory",
                group,
                "memory.limit_in_bytes",
            ));
        }
    }
    files.push("/sys/fs/cgroup/memory.max".to_string());
    files.push("/sys/fs/cgroup/memory/memory.limit_in_bytes".to_string());
    files
        .iter()
        .filter_map(|file| parse_limit(&read(file)?))
        .min()
}

/// The limit file of `group` under the hierarchy mounted at `root`, and of each group above
/// it (a parent's limit bounds its children).
fn group_files(root: &str, group: &str, file: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut dir = Some(Path::new(group));
    while let Some(d) = dir {
        let relative = d.to_string_lossy();
        let relative = relative.trim_start_matches('/');
        if !relative.is_empty() {
            files.push(format!("{root}/{relative}/{file}"));
        }
        dir = d.parent();
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const MEMINFO: &str = "MemTotal:       16384000 kB\nMemFree:         1000 kB\n";
    const TOTAL: u64 = 16384000 * 1024;

    fn memory(files: &[(&str, &str)]) -> u64 {
        let files: HashMap<String, String> = files
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        available_memory(|path| files.get(path).cloned())
    }

    #[test]
    fn limit_files_parse() {
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("4294967296\n"), Some(4 << 30));
        assert_eq!(parse_limit(""), None);
        assert_eq!(parse_limit("lots"), None);
        assert_eq!(meminfo_total(MEMINFO), Some(TOTAL));
        assert_eq!(meminfo_total("MemFree: 10 kB\n"), None);
    }

    #[test]
    fn without_files_the_fallback() {
        assert_eq!(memory(&[]), FALLBACK);
    }

    #[test]
    fn without_a_cgroup_the_machine() {
        assert_eq!(memory(&[("/proc/meminfo", MEMINFO)]), TOTAL);
        let no_limit = [
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/cgroup", "0::/\n"),
            ("/sys/fs/cgroup/memory.max", "max\n"),
        ];
        assert_eq!(memory(&no_limit), TOTAL);
    }

    #[test]
    fn a_v2_limit_below_the_machine_wins() {
        let files = [
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/cgroup", "0::/\n"),
            ("/sys/fs/cgroup/memory.max", "2147483648\n"),
        ];
        assert_eq!(memory(&files), 2 << 30);
        // A limit above the machine's memory does not raise it.
        let above = [
            ("/proc/meminfo", MEMINFO),
            ("/sys/fs/cgroup/memory.max", "999999999999999\n"),
        ];
        assert_eq!(memory(&above), TOTAL);
    }

    #[test]
    fn a_v2_limit_of_the_process_group_or_a_parent_counts() {
        let files = [
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/cgroup", "0::/batch.slice/job42.scope\n"),
            ("/sys/fs/cgroup/batch.slice/job42.scope/memory.max", "max\n"),
            ("/sys/fs/cgroup/batch.slice/memory.max", "1073741824\n"),
        ];
        assert_eq!(memory(&files), 1 << 30);
    }

    #[test]
    fn a_v1_limit_counts_and_unlimited_is_ignored() {
        let unlimited = [
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/cgroup", "4:memory:/docker/abc\n0::/\n"),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
        ];
        assert_eq!(memory(&unlimited), TOTAL);
        let limited = [
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/cgroup", "4:cpu,memory:/docker/abc\n"),
            (
                "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                "536870912\n",
            ),
        ];
        assert_eq!(memory(&limited), 512 << 20);
    }
}
