//! Crash-safe file replacement for the app-side state files (the clock guard's state,
//! `SPEC.md` §14, and the activation data folder, §15): a reader sees the old file or the
//! new one, never a mix, and a write that returned has reached the disk.
//!
//! The recipe is the usual one: write a temporary file beside the target, fsync it, rename
//! it over the target (atomic on POSIX and on Windows' `MoveFileEx` with replace), then
//! fsync the folder so the rename itself is durable.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Who may read a file written here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The owner only (mode 0600 on Unix): secrets such as the device key seed.
    OwnerOnly,
    /// The process's default (0666 less the umask): files meant to be shown or sent.
    Default,
}

/// Distinguishes the temporary files of several writes in one process (threads).
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name beside `path`: same folder (so the rename cannot cross file systems),
/// unique per process and write, and derived from the target's name so a leftover from a
/// crash is recognisable.
fn temporary_path(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Creates a new file for writing, never following or reusing whatever is at `path`.
fn create_new(path: &Path, access: Access) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if access == Access::OwnerOnly {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    options.open(path)
}

/// Writes `contents` to a fresh temporary file beside `path` and fsyncs it; returns its
/// path. On error nothing is left behind.
fn write_temporary(path: &Path, contents: &[u8], access: Access) -> io::Result<PathBuf> {
    let tmp = temporary_path(path);
    let mut f = create_new(&tmp, access)?;
    let written = f.write_all(contents).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Fsyncs the folder holding `path`, so a rename or removal in it survives a power cut.
/// Best effort: some platforms (Windows) and file systems cannot open or sync a folder,
/// and the rename itself is still atomic there.
pub(crate) fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Replaces `path` with `contents` atomically (write a temporary file, fsync, rename,
/// fsync the folder).
///
/// # Errors
/// The I/O error of the step that failed; the old file, if any, is then unchanged.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], access: Access) -> io::Result<()> {
    let tmp = write_temporary(path, contents, access)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(path);
    Ok(())
}

/// Creates `path` with `contents` atomically unless it already exists; returns whether it
/// was created. Two processes racing to create the same file both end up reading the one
/// that won, which is what a key created once and kept forever needs.
///
/// # Errors
/// The I/O error of the step that failed.
pub(crate) fn create_atomic(path: &Path, contents: &[u8], access: Access) -> io::Result<bool> {
    let tmp = write_temporary(path, contents, access)?;
    // A hard link fails if the target exists, unlike a rename, which would replace it.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_parent(path);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // File systems without hard links (FAT, some network shares): fall back to a plain
        // exclusive create, still never replacing an existing file.
        Err(_) => {
            let mut f = match create_new(path, access) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
                Err(e) => return Err(e),
            };
            let written = f.write_all(contents).and_then(|()| f.sync_all());
            drop(f);
            if let Err(e) = written {
                let _ = fs::remove_file(path);
                return Err(e);
            }
            sync_parent(path);
            Ok(true)
        }
    }
}

/// Removes `path` durably; a file that is already gone is not an error.
///
/// # Errors
/// The I/O error of the removal.
pub(crate) fn remove_durable(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_parent(path);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// What [`read_bounded`] found.
#[derive(Debug)]
pub(crate) enum Read {
    /// The file is absent.
    Missing,
    /// The file is larger than the limit (so it is not what we wrote).
    TooLarge,
    /// The file's contents.
    Bytes(Vec<u8>),
}

/// Reads `path` whole, refusing to hold more than `max` bytes (a hostile or damaged file
/// must not make the app allocate without bound).
///
/// # Errors
/// The I/O error of the open or read (not `NotFound`, which is [`Read::Missing`]).
pub(crate) fn read_bounded(path: &Path, max: u64) -> io::Result<Read> {
    let f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::Missing),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    f.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > max {
        return Ok(Read::TooLarge);
    }
    Ok(Read::Bytes(buf))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn replaces_creates_once_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        write_atomic(&path, b"one", Access::Default).unwrap();
        write_atomic(&path, b"two", Access::Default).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let key = dir.path().join("key.bin");
        assert!(create_atomic(&key, b"first", Access::OwnerOnly).unwrap());
        assert!(!create_atomic(&key, b"second", Access::OwnerOnly).unwrap());
        assert_eq!(fs::read(&key).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        remove_durable(&path).unwrap();
        remove_durable(&path).unwrap();
        assert!(matches!(read_bounded(&path, 10).unwrap(), Read::Missing));
        assert!(matches!(read_bounded(&key, 3).unwrap(), Read::TooLarge));
        assert!(matches!(read_bounded(&key, 5).unwrap(), Read::Bytes(b) if b == b"first"));
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        write_atomic(&path, b"old", Access::Default).unwrap();
        // The target's folder does not exist: nothing is written, nothing is left over.
        let missing = dir.path().join("no-such-dir").join("state.bin");
        assert!(write_atomic(&missing, b"new", Access::Default).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        // The rename fails (the target is a non-empty folder): the temporary is removed.
        let busy = dir.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("inside"), b"x").unwrap();
        assert!(write_atomic(&busy, b"new", Access::Default).is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }
}
