//! Overwrite of an array or a group in a local directory store, atomic at the node level:
//! the new node is written beside the old one under a hidden, unique name, and the two
//! directories are then exchanged in one step (Linux `renameat2(RENAME_EXCHANGE)`), so a
//! killed process leaves the old node or the new one, whole, at the node's path.
//!
//! Where the filesystem cannot exchange (not Linux, or a filesystem without
//! `RENAME_EXCHANGE`), the old directory is renamed away and the new one renamed into
//! place: two steps, between which a kill leaves the old array under the hidden name.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether an overwrite of the node at `node_path` of `store` can be staged: in a directory
/// store, below its root (the root has no place beside it inside the store).
pub(crate) fn can_stage(store: &super::store::Store, node_path: &str) -> bool {
    store.path.is_some() && !node_path.trim_matches('/').is_empty()
}

/// What every staging directory's name holds, after the array's own name.
const STAGING_MARK: &str = ".chunkwise-staging-";

/// How the names of the staging directories of the node `name` begin.
fn staging_prefix(name: &str) -> String {
    format!(".{name}{STAGING_MARK}")
}

/// Whether the node name `name` is a staging directory of an overwrite (in progress, or
/// left by a killed process): such names are not arrays of their group.
pub(crate) fn is_staging(name: &str) -> bool {
    name.starts_with('.') && name.contains(STAGING_MARK)
}

/// Whether `name`, in a group, is one of chunkwise's own entries (a staging directory, the
/// scratch directory, a journal): never a child of the group.
pub(crate) fn is_own_entry(name: &str) -> bool {
    is_staging(name) || name.starts_with(".chunkwise-")
}

/// The name of a staging directory of an overwrite of the node at `node_path` (not the
/// root) in the store in `root`, if there is one: an overwrite is running, or was killed
/// and left it (the old node is then still at its path).
pub(crate) fn staged_overwrite(root: &Path, node_path: &str) -> Option<String> {
    let (parent, name) = node_path
        .rsplit_once('/')
        .filter(|(_, name)| !name.is_empty())?;
    let own = staging_prefix(name);
    let entries = std::fs::read_dir(root.join(parent.trim_start_matches('/'))).ok()?;
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .find(|entry| entry.starts_with(&own))
}

/// The directory at a store's root that holds scratch nodes: it has no metadata, so no
/// Zarr reader (chunkwise, zarr-python, xarray) takes it, or what is in it, for a node of
/// the root group.
pub(crate) const SCRATCH_DIR: &str = ".chunkwise-scratch";

/// A node path unique to this process for a scratch node (`purpose` names it, such as
/// `rechunk`), in [`SCRATCH_DIR`]. In a directory store (`root`), the scratch nodes of
/// `purpose` that dead processes of this machine left there are erased.
pub(crate) fn scratch_path(root: Option<&Path>, purpose: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let own = format!("{purpose}-{}-", host_name());
    if let Some(root) = root {
        reap_stale(&root.join(SCRATCH_DIR), &own);
    }
    format!(
        "/{SCRATCH_DIR}/{own}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// This machine's name, so that staging directories of another machine sharing the
/// filesystem are never mistaken for stale ones.
fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most `buffer.len()` bytes into the buffer.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let len = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    let name = if ok {
        String::from_utf8_lossy(&buffer[..len]).into_owned()
    } else {
        String::new()
    };
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Whether process `pid` of this machine is alive.
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let sent = unsafe { libc::kill(pid, 0) } == 0;
    sent || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The new node (array or group) of an overwrite, written under a hidden name beside the
/// old one.
#[derive(Debug)]
pub(crate) struct Staging {
    /// The store's directory.
    root: PathBuf,
    /// The array's node path (`/a/b`).
    target: String,
    /// The staging directory's node path (`/a/.b.chunkwise-staging-host-pid-n`).
    staged: String,
    sync: bool,
}

impl Staging {
    /// A staging place for the node at `node_path` (not the root) of the store in `root`.
    /// Staging directories of this node left by dead processes of this machine are erased.
    pub(crate) fn new(root: &Path, node_path: &str, sync: bool) -> std::io::Result<Staging> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let (parent, name) = node_path.rsplit_once('/').expect("node paths start with /");
        let host = host_name();
        let own = format!("{}{host}-", staging_prefix(name));
        reap_stale(&root.join(parent.trim_start_matches('/')), &own);
        let staged = format!(
            "{parent}/{own}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let staging = Staging {
            root: root.to_path_buf(),
            target: node_path.to_string(),
            staged,
            sync,
        };
        remove_tree(&staging.dir(&staging.staged))?;
        Ok(staging)
    }

    /// The node path the new node is written to.
    pub(crate) fn node_path(&self) -> &str {
        &self.staged
    }

    fn dir(&self, node_path: &str) -> PathBuf {
        self.root.join(node_path.trim_start_matches('/'))
    }

    /// Puts the staged node in place of the old one, then erases the old one. An error
    /// means the old node is still in place.
    pub(crate) fn publish(&self) -> std::io::Result<()> {
        let (staged, target) = (self.dir(&self.staged), self.dir(&self.target));
        // Never swap in a tree that lost its metadata (reaped by another process).
        let has_metadata = ["zarr.json", ".zarray", ".zgroup"]
            .iter()
            .any(|name| staged.join(name).is_file());
        if !has_metadata {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the staged node {} has no metadata", staged.display()),
            ));
        }
        if self.sync {
            // The staged tree's directories reach the disk before the exchange publishes it.
            let dir = std::fs::File::open(&staged)?;
            // SAFETY: syncfs only flushes the filesystem holding the open descriptor.
            if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if target.symlink_metadata().is_err() {
            std::fs::rename(&staged, &target)?;
        } else if exchange(&staged, &target).is_err() {
            let aside = PathBuf::from(format!("{}-old", staged.display()));
            std::fs::rename(&target, &aside)?;
            if let Err(e) = std::fs::rename(&staged, &target) {
                std::fs::rename(&aside, &target)?;
                return Err(e);
            }
            std::fs::rename(&aside, &staged)?;
        }
        // Published: what follows makes it durable and tidies up. A failure there must not
        // report the new node as unwritten (its caller would then skip noting the old one
        // as erased), so it is logged; the staging's drop tries the removal again.
        if self.sync
            && let Some(parent) = target.parent()
            && let Err(e) = std::fs::File::open(parent).and_then(|dir| dir.sync_all())
        {
            tracing::warn!("syncing {} after publishing into it: {e}", parent.display());
        }
        if let Err(e) = remove_tree(&staged) {
            tracing::warn!("removing the replaced node at {}: {e}", staged.display());
        }
        Ok(())
    }
}

/// The staged directory is erased when the staging ends: after [`Staging::publish`] it holds
/// the old array; after a failed write, the unfinished new one (the old array stays).
impl Drop for Staging {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir(&self.staged));
    }
}

/// Removes the directory tree at `path` (never following a symlink), if it exists.
pub(super) fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => std::fs::remove_file(path),
        other => other,
    }
}

/// Erases the entries of `parent` named `own` followed by the pid of a dead process.
fn reap_stale(parent: &Path, own: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(own)) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            let _ = remove_tree(&entry.path());
        }
    }
}

/// Exchanges the two paths in one atomic step.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(a)?, c(b)?);
    #[cfg(target_os = "linux")]
    {
        // SAFETY: both paths are NUL-terminated strings that outlive the call.
        let done = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if done == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("chunkwise-staging-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn publish_swaps_the_staged_tree_in_and_erases_the_old_one() {
        let root = scratch("publish");
        std::fs::create_dir_all(root.join("g/x")).unwrap();
        std::fs::write(root.join("g/x/old"), b"old").unwrap();
        let staging = Staging::new(&root, "/g/x", false).unwrap();
        let staged = root.join(staging.node_path().trim_start_matches('/'));
        assert!(is_staging(staged.file_name().unwrap().to_str().unwrap()));
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::write(staged.join("new"), b"new").unwrap();
        std::fs::write(staged.join("zarr.json"), b"{}").unwrap();
        staging.publish().unwrap();
        let names: Vec<_> = std::fs::read_dir(root.join("g"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x")]);
        assert_eq!(std::fs::read(root.join("g/x/new")).unwrap(), b"new");
        assert!(!root.join("g/x/old").exists());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn stale_staging_of_dead_processes_is_reaped_and_live_ones_kept() {
        let root = scratch("reap");
        let own = format!(".x{STAGING_MARK}{}-", host_name());
        // A pid above the kernel's limit is never alive; our own pid is.
        let dead = root.join(format!("{own}4294967-0"));
        let live = root.join(format!("{own}{}-0", std::process::id()));
        let other_host = root.join(format!(".x{STAGING_MARK}elsewhere-4294967-0"));
        for d in [&dead, &live, &other_host] {
            std::fs::create_dir_all(d).unwrap();
        }
        let staging = Staging::new(&root, "/x", false).unwrap();
        assert!(!dead.exists());
        assert!(live.exists() && other_host.exists());
        drop(staging);
        let _ = std::fs::remove_dir_all(&root);
    }
}
