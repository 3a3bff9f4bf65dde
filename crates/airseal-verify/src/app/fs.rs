//! The one durable file writer of airseal: every file the apps, the vendor library and the
//! CLI write goes through here (app state of `SPEC.md` §14–15, signing and public keys,
//! licenses, activation responses, batch outputs, `airseal.toml`).
//!
//! A write here is
//! - **whole or absent**: the bytes go to a temporary file beside the target (same folder,
//!   so the final step cannot cross file systems), which is fsynced and only then put in
//!   place, so a reader or a crash sees the old file (or none) or the complete new one;
//! - **durable**: once a write returned, the file and its folder entry have reached the
//!   disk (the folder is fsynced too, where the platform allows it);
//! - **explicit about replacing**: [`Mode::CreateNew`] never replaces anything at the
//!   target, not even a dangling symlink (it links the finished temporary file in place,
//!   which fails atomically if the name is taken); [`Mode::Replace`] renames over the
//!   target;
//! - **explicit about who may read it**: [`Access::OwnerOnly`] creates the file with mode
//!   0600 on Unix from the first byte (never a looser file that is tightened later, and
//!   never inheriting the mode of the file it replaces);
//! - **clean on failure**: no temporary file is left behind after an error, and a
//!   [`DurableFile`] dropped without [`DurableFile::commit`] removes its temporary file.
//!
//! Large outputs are streamed through a [`DurableFile`]; small ones use [`write()`]; many
//! small files at once (one license per imported key) use [`write_unsynced`] and then one
//! [`sync_files`], which makes them all durable for far less than an fsync each.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Who may read a file written here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The owner only (mode 0600 on Unix): secrets such as signing keys and the device key
    /// seed.
    OwnerOnly,
    /// The process's default (0666 less the umask): files meant to be shown or sent.
    Default,
}

/// What happens when something already exists at the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Never replace anything: an existing file, folder or symlink (dangling or not) at the
    /// target makes the write fail with [`WriteError::AlreadyExists`], decided atomically at
    /// the moment the finished file is put in place.
    CreateNew,
    /// Replace an existing file in one atomic rename.
    Replace,
}

impl Mode {
    /// [`Mode::Replace`] when `force`, else [`Mode::CreateNew`]: the usual meaning of a
    /// "replace existing files" switch.
    pub fn replace_if(force: bool) -> Self {
        if force {
            Mode::Replace
        } else {
            Mode::CreateNew
        }
    }
}

/// Why a write failed. Nothing was put at the target, and no temporary file is left. The
/// path is always the target's (a temporary file's name means nothing to a user).
#[non_exhaustive]
#[derive(Debug)]
pub enum WriteError {
    /// Something exists at the target and the write was [`Mode::CreateNew`].
    AlreadyExists {
        /// The target.
        path: PathBuf,
    },
    /// An I/O step failed.
    Io {
        /// The file the failed step was about (the target, or its folder).
        path: PathBuf,
        /// The error of the operating system.
        source: io::Error,
    },
}

impl WriteError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            WriteError::AlreadyExists { path } | WriteError::Io { path, .. } => path,
        }
    }

    /// Whether the write was refused because the target exists.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, WriteError::AlreadyExists { .. })
    }

    fn io(path: &Path, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::AlreadyExists {
            WriteError::AlreadyExists {
                path: path.to_path_buf(),
            }
        } else {
            WriteError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::AlreadyExists { path } => write!(f, "{} already exists", path.display()),
            WriteError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::AlreadyExists { .. } => None,
            WriteError::Io { source, .. } => Some(source),
        }
    }
}

/// For callers whose own errors hold an [`io::Error`]: the kind is kept
/// ([`io::ErrorKind::AlreadyExists`] for [`WriteError::AlreadyExists`]).
impl From<WriteError> for io::Error {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::AlreadyExists { .. } => {
                io::Error::new(io::ErrorKind::AlreadyExists, e.to_string())
            }
            WriteError::Io { source, .. } => source,
        }
    }
}

/// Writes `contents` to `path` whole and durably (see the module documentation).
///
/// # Errors
/// [`WriteError::AlreadyExists`] for [`Mode::CreateNew`] when the target exists;
/// [`WriteError::Io`] when a step fails. Either way the target is unchanged.
pub fn write(path: &Path, contents: &[u8], access: Access, mode: Mode) -> Result<(), WriteError> {
    let mut file = DurableFile::create(path, access, mode)?;
    file.write_all(contents)
        .map_err(|e| WriteError::io(path, e))?;
    file.commit()
}

/// Writes `contents` to `path` whole but without waiting for the disk: the file appears
/// complete or not at all to every reader, but a power cut soon after may lose it (or, on
/// some file systems, leave it empty). For many files that can be written again, such as
/// one license per key of a large import, where an fsync per file would make the disk the
/// bottleneck: write them all with this, then make them durable at once with
/// [`sync_files`].
///
/// # Errors
/// As [`write()`].
pub fn write_unsynced(
    path: &Path,
    contents: &[u8],
    access: Access,
    mode: Mode,
) -> Result<(), WriteError> {
    let mut file = DurableFile::create(path, access, mode)?;
    file.write_all(contents)
        .map_err(|e| WriteError::io(path, e))?;
    file.synced = false;
    file.commit()
}

/// Makes files written by [`write_unsynced`] durable: fsyncs each, then each distinct
/// folder holding them.
///
/// The fsyncs are issued from many threads at once: a journaling file system commits
/// fsyncs that wait together in one journal commit (group commit), so 20,000 files take
/// about a second this way against half a minute one after another (ext4, measured).
///
/// # Errors
/// [`WriteError::Io`] for a file that cannot be opened or synced (the first one found;
/// the others are still synced).
pub fn sync_files<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), WriteError> {
    let paths: Vec<&Path> = paths.into_iter().collect();
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<WriteError>> = Mutex::new(None);
    let work = || {
        while let Some(path) = paths.get(next.fetch_add(1, Ordering::Relaxed)) {
            if let Err(e) = sync_file(path) {
                if let Ok(mut slot) = first_error.lock() {
                    slot.get_or_insert(WriteError::io(path, e));
                }
            }
        }
    };
    std::thread::scope(|s| {
        let work = &work;
        for _ in 1..SYNC_THREADS.min(paths.len()) {
            // A thread that cannot be started is no loss: the others take its share.
            let _ = std::thread::Builder::new().spawn_scoped(s, work);
        }
        work();
    });
    if let Ok(Some(e)) = first_error.into_inner() {
        return Err(e);
    }
    let mut folders: Vec<PathBuf> = Vec::new();
    for path in paths {
        let folder = folder_of(path);
        if !folders.contains(&folder) {
            folders.push(folder);
        }
    }
    for folder in folders {
        sync_dir(&folder);
    }
    Ok(())
}

/// Threads [`sync_files`] waits on fsyncs with: they only wait, so many cost little, and
/// the more fsyncs wait together, the fewer journal commits the file system makes.
const SYNC_THREADS: usize = 64;

/// Fsyncs an existing file's contents. Opened for writing (without truncating) because
/// Windows refuses to flush a file opened read-only.
fn sync_file(path: &Path) -> io::Result<()> {
    fs::OpenOptions::new().write(true).open(path)?.sync_all()
}

/// Removes `path` durably; a file that is already gone is not an error.
///
/// # Errors
/// [`WriteError::Io`] for the removal.
pub fn remove(path: &Path) -> Result<(), WriteError> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir(&folder_of(path));
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(WriteError::io(path, e)),
    }
}

/// Moves the file at `from` to `to` in the same folder, durably, never replacing anything at
/// `to` ([`WriteError::AlreadyExists`]): a file kept aside under a new name (a replaced
/// ledger) rather than deleted.
///
/// # Errors
/// [`WriteError::AlreadyExists`], or [`WriteError::Io`] for the move.
pub fn rename_new(from: &Path, to: &Path) -> Result<(), WriteError> {
    if fs::symlink_metadata(to).is_ok() {
        return Err(WriteError::AlreadyExists {
            path: to.to_path_buf(),
        });
    }
    fs::rename(from, to).map_err(|e| WriteError::io(from, e))?;
    sync_dir(&folder_of(to));
    Ok(())
}

/// Fsyncs a folder, so a rename, link or removal in it survives a power cut. Best effort:
/// some platforms (Windows) and file systems cannot open or sync a folder, and the rename
/// itself is still atomic there.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes the temporary files that interrupted writes to `path` left (a process killed
/// between [`DurableFile::create`] and [`DurableFile::commit`]). Only for a target no
/// other process is writing at the moment: its temporary file would be removed too.
pub fn remove_stale_temporaries(path: &Path) {
    for temp in temporaries_of(path) {
        let _ = fs::remove_file(temp);
    }
}

/// The temporary files of writes to `path` that are in its folder now: an interrupted
/// write's leftovers, or a write in progress (see [`remove_stale_temporaries`]).
pub fn temporaries_of(path: &Path) -> Vec<PathBuf> {
    let Some(prefix) = temporary_prefix(path) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(folder_of(path)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        // Exactly `<prefix><pid>-<n>`: a longer name that merely starts the same way is
        // another target's temporary (`.a.tmp-b.tmp-1-2` for a target named `a.tmp-b`).
        let is_ours = name
            .as_encoded_bytes()
            .strip_prefix(prefix.as_encoded_bytes())
            .and_then(|rest| {
                let (pid, n) = std::str::from_utf8(rest).ok()?.split_once('-')?;
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                Some(digits(pid) && digits(n))
            })
            .unwrap_or(false);
        if is_ours {
            found.push(entry.path());
        }
    }
    found
}

/// The folder holding `path` (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Distinguishes the temporary files of several writes in one process (threads).
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// What every temporary file for `path` starts with: hidden (a leading `.`), and derived
/// from the target's name so a leftover is recognisable. `None` when `path` has no file
/// name (`/`, `..`).
fn temporary_prefix(path: &Path) -> Option<OsString> {
    let mut name = OsString::from(".");
    name.push(path.file_name()?);
    name.push(".tmp-");
    Some(name)
}

/// Creates a fresh temporary file beside `path`: unique per process, thread and write
/// (the process id and a counter), and never reusing a leftover of an earlier process
/// that had the same id (a clash just moves on to the next name).
fn create_temporary(path: &Path, access: Access) -> Result<(fs::File, PathBuf), WriteError> {
    let prefix = temporary_prefix(path).ok_or_else(|| WriteError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut last = None;
    for _ in 0..64 {
        let mut name = prefix.clone();
        name.push(format!(
            "{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temp = path.with_file_name(name);
        match create_new(&temp, access) {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            // The folder is missing or not writable: about the target, not the temporary.
            Err(e) => {
                return Err(WriteError::Io {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
        }
    }
    Err(WriteError::Io {
        path: path.to_path_buf(),
        source: last.unwrap_or_else(|| io::Error::other("no free temporary file name")),
    })
}

/// Creates a new file, never following or reusing whatever is at `path`
/// (`O_CREAT | O_EXCL`, which also refuses a dangling symlink).
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

/// A file being written: bytes go to a temporary file beside the target, which
/// [`DurableFile::commit`] fsyncs and puts in place. Dropped without `commit` (an error, a
/// panic), it removes its temporary file and the target is untouched.
///
/// Writes are buffered (1 MiB), so writing line by line is cheap.
#[derive(Debug)]
pub struct DurableFile {
    out: Option<io::BufWriter<fs::File>>,
    temp: PathBuf,
    path: PathBuf,
    mode: Mode,
    access: Access,
    synced: bool,
}

impl DurableFile {
    /// Starts writing `path`. Nothing appears at `path` before [`DurableFile::commit`]; a
    /// [`Mode::CreateNew`] write to a target that exists already fails here, early, and is
    /// checked again atomically at `commit`.
    ///
    /// # Errors
    /// [`WriteError::AlreadyExists`] as above; [`WriteError::Io`] when the temporary file
    /// cannot be created (missing or read-only folder).
    pub fn create(path: &Path, access: Access, mode: Mode) -> Result<Self, WriteError> {
        if mode == Mode::CreateNew && fs::symlink_metadata(path).is_ok() {
            return Err(WriteError::AlreadyExists {
                path: path.to_path_buf(),
            });
        }
        let (file, temp) = create_temporary(path, access)?;
        Ok(Self {
            out: Some(io::BufWriter::with_capacity(1 << 20, file)),
            temp,
            path: path.to_path_buf(),
            mode,
            access,
            synced: true,
        })
    }

    /// The target.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and fsyncs what was written so far, without putting the file in place: for
    /// a caller that must know the bytes are on disk before it records that they are
    /// (`crate` users: a batch commits its ledger transaction between this and `commit`).
    ///
    /// # Errors
    /// [`WriteError::Io`].
    pub fn sync(&mut self) -> Result<(), WriteError> {
        let path = self.path.clone();
        let out = self.writer()?;
        out.flush()
            .and_then(|()| out.get_ref().sync_all())
            .map_err(|e| WriteError::io(&path, e))
    }

    fn writer(&mut self) -> Result<&mut io::BufWriter<fs::File>, WriteError> {
        let path = &self.path;
        self.out.as_mut().ok_or_else(|| WriteError::Io {
            path: path.clone(),
            source: io::Error::other("the file was already closed"),
        })
    }

    /// Fsyncs the file, puts it at the target (atomically; for [`Mode::CreateNew`] only if
    /// nothing is there) and fsyncs the folder.
    ///
    /// # Errors
    /// [`WriteError::AlreadyExists`] ([`Mode::CreateNew`]); [`WriteError::Io`]. The target
    /// is then unchanged and the temporary file removed.
    pub fn commit(mut self) -> Result<(), WriteError> {
        let Some(out) = self.out.take() else {
            return Err(WriteError::Io {
                path: self.path.clone(),
                source: io::Error::other("the file was already closed"),
            });
        };
        let file = out
            .into_inner()
            .map_err(|e| WriteError::io(&self.path, e.into_error()))?;
        if self.synced {
            file.sync_all().map_err(|e| WriteError::io(&self.path, e))?;
        }
        drop(file);
        match self.mode {
            Mode::Replace => {
                fs::rename(&self.temp, &self.path).map_err(|e| WriteError::io(&self.path, e))?;
            }
            Mode::CreateNew => self.link_in_place()?,
        }
        if self.synced {
            sync_dir(&folder_of(&self.path));
        }
        Ok(())
    }

    /// Puts the temporary file at the target without replacing anything there: a hard link
    /// fails if the name is taken (by anything, a dangling symlink included), unlike a
    /// rename; then the temporary name is removed.
    fn link_in_place(&mut self) -> Result<(), WriteError> {
        match fs::hard_link(&self.temp, &self.path) {
            Ok(()) => {
                let _ = fs::remove_file(&self.temp);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(WriteError::AlreadyExists {
                path: self.path.clone(),
            }),
            // File systems without hard links (FAT, some network shares): copy into a file
            // created exclusively at the target. Still never replaces anything; a crash
            // during the copy can leave a partial file there, which is the best such a file
            // system allows.
            Err(_) => self.copy_in_place(),
        }
    }

    fn copy_in_place(&mut self) -> Result<(), WriteError> {
        let mut target =
            create_new(&self.path, self.access).map_err(|e| WriteError::io(&self.path, e))?;
        let copied = fs::File::open(&self.temp)
            .and_then(|mut from| io::copy(&mut from, &mut target))
            .and_then(|_| {
                if self.synced {
                    target.sync_all()
                } else {
                    Ok(())
                }
            });
        drop(target);
        if let Err(e) = copied {
            let _ = fs::remove_file(&self.path);
            return Err(WriteError::io(&self.path, e));
        }
        let _ = fs::remove_file(&self.temp);
        Ok(())
    }
}

impl Write for DurableFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().map_err(io::Error::from)?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer().map_err(io::Error::from)?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer().map_err(io::Error::from)?.flush()
    }
}

impl Drop for DurableFile {
    /// Removes the temporary file unless it was committed (then it no longer exists under
    /// its temporary name, and the removal is a harmless no-op).
    fn drop(&mut self) {
        drop(self.out.take());
        let _ = fs::remove_file(&self.temp);
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

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replace_replaces_and_create_new_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        write(&path, b"one", Access::Default, Mode::Replace).unwrap();
        write(&path, b"two", Access::Default, Mode::Replace).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let key = dir.path().join("key.bin");
        write(&key, b"first", Access::OwnerOnly, Mode::CreateNew).unwrap();
        let e = write(&key, b"second", Access::OwnerOnly, Mode::CreateNew).unwrap_err();
        assert!(e.is_already_exists(), "{e:?}");
        assert_eq!(e.path(), key);
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&key).unwrap(), b"first");
        assert_eq!(names(dir.path()), ["key.bin", "state.bin"]);
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(matches!(read_bounded(&path, 10).unwrap(), Read::Missing));
        assert!(matches!(read_bounded(&key, 3).unwrap(), Read::TooLarge));
        assert!(matches!(read_bounded(&key, 5).unwrap(), Read::Bytes(b) if b == b"first"));
    }

    /// The check at commit is the one that counts: a file that appears after `create`
    /// is not replaced.
    #[test]
    fn create_new_is_decided_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut f = DurableFile::create(&path, Access::Default, Mode::CreateNew).unwrap();
        f.write_all(b"late").unwrap();
        fs::write(&path, b"raced").unwrap();
        assert!(f.commit().unwrap_err().is_already_exists());
        assert_eq!(fs::read(&path).unwrap(), b"raced");
        assert_eq!(names(dir.path()), ["out"]);
    }

    #[cfg(unix)]
    #[test]
    fn create_new_refuses_a_dangling_symlink_and_never_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let e = write(&link, b"secret", Access::OwnerOnly, Mode::CreateNew).unwrap_err();
        assert!(e.is_already_exists(), "{e:?}");
        assert!(!elsewhere.exists());
        // Raced in after `create`: refused at commit, by the link.
        let racing = dir.path().join("racing");
        let mut f = DurableFile::create(&racing, Access::OwnerOnly, Mode::CreateNew).unwrap();
        f.write_all(b"secret").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &racing).unwrap();
        assert!(f.commit().unwrap_err().is_already_exists());
        assert!(!elsewhere.exists());
        assert_eq!(names(dir.path()), ["link", "racing"]);
    }

    #[cfg(unix)]
    #[test]
    fn owner_only_is_0600_even_when_replacing_a_looser_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vendor.key");
        write(&path, b"one", Access::OwnerOnly, Mode::CreateNew).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        let loose = dir.path().join("loose.key");
        fs::write(&loose, b"old").unwrap();
        fs::set_permissions(&loose, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        write(&loose, b"new", Access::OwnerOnly, Mode::Replace).unwrap();
        assert_eq!(mode_of(&loose), 0o600);
        assert_eq!(fs::read(&loose).unwrap(), b"new");
        let public = dir.path().join("vendor.pub");
        write(&public, b"pk", Access::Default, Mode::CreateNew).unwrap();
        assert_eq!(mode_of(&public) & 0o600, 0o600);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        write(&path, b"old", Access::Default, Mode::Replace).unwrap();
        // The target's folder does not exist.
        let missing = dir.path().join("no-such-dir").join("state.bin");
        for mode in [Mode::Replace, Mode::CreateNew] {
            let e = write(&missing, b"new", Access::Default, mode).unwrap_err();
            assert!(
                matches!(&e, WriteError::Io { path, .. } if *path == missing),
                "{e:?}"
            );
        }
        // The rename fails (the target is a non-empty folder): the temporary is removed.
        let busy = dir.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("inside"), b"x").unwrap();
        assert!(write(&busy, b"new", Access::Default, Mode::Replace).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["busy", "state.bin"]);
    }

    /// A folder that cannot be written: nothing is written and nothing is left, whatever
    /// the mode. A file standing where the folder should be fails for everyone; a read-only
    /// folder only for users other than root (who may write there anyway).
    #[cfg(unix)]
    #[test]
    fn an_unwritable_folder_is_an_error_with_nothing_left() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let not_a_folder = dir.path().join("file");
        fs::write(&not_a_folder, b"old").unwrap();
        for mode in [Mode::CreateNew, Mode::Replace] {
            let target = not_a_folder.join("out");
            let e = write(&target, b"x", Access::OwnerOnly, mode).unwrap_err();
            assert!(
                matches!(&e, WriteError::Io { path, .. } if *path == target),
                "{e:?}"
            );
        }
        assert_eq!(names(dir.path()), ["file"]);
        assert_eq!(fs::read(&not_a_folder).unwrap(), b"old");

        let ro = dir.path().join("ro");
        fs::create_dir(&ro).unwrap();
        fs::write(ro.join("old"), b"old").unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
        if fs::File::create(ro.join("probe")).is_ok() {
            let _ = fs::remove_file(ro.join("probe"));
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
            return;
        }
        for (name, mode) in [("new", Mode::CreateNew), ("old", Mode::Replace)] {
            let target = ro.join(name);
            let e = write(&target, b"x", Access::OwnerOnly, mode).unwrap_err();
            assert!(
                matches!(&e, WriteError::Io { path, .. } if *path == target),
                "{e:?}"
            );
            assert!(DurableFile::create(&target, Access::Default, mode).is_err());
        }
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(names(&ro), ["old"]);
        assert_eq!(fs::read(ro.join("old")).unwrap(), b"old");
    }

    #[test]
    fn streaming_commit_puts_the_whole_file_and_drop_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        let mut f = DurableFile::create(&path, Access::Default, Mode::CreateNew).unwrap();
        for i in 0..100_000u32 {
            writeln!(f, "key-{i:08}").unwrap();
        }
        // Nothing at the target before commit.
        assert!(!path.exists());
        f.sync().unwrap();
        assert!(!path.exists());
        f.commit().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 100_000);
        assert!(text.ends_with("key-00099999\n"));

        // Dropped without commit: the old file stays, the temporary goes.
        let mut f = DurableFile::create(&path, Access::Default, Mode::Replace).unwrap();
        f.write_all(b"half").unwrap();
        f.sync().unwrap();
        assert_eq!(names(dir.path()).len(), 2);
        drop(f);
        assert_eq!(names(dir.path()), ["keys.txt"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn stale_temporaries_are_recognised_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let f = DurableFile::create(&path, Access::Default, Mode::Replace).unwrap();
        // A kill: the destructor never runs.
        std::mem::forget(f);
        fs::write(dir.path().join("other.csv"), b"keep").unwrap();
        // Another target whose name starts like this one's temporaries, and its temporary.
        let similar = dir.path().join("out.csv.tmp-x");
        std::mem::forget(DurableFile::create(&similar, Access::Default, Mode::Replace).unwrap());
        assert_eq!(names(dir.path()).len(), 3);
        remove_stale_temporaries(&path);
        assert_eq!(names(dir.path()).len(), 2);
        assert!(names(dir.path()).contains(&"other.csv".to_string()));
        remove_stale_temporaries(&similar);
        assert_eq!(names(dir.path()), ["other.csv"]);
    }

    #[test]
    fn unsynced_writes_are_whole_and_synced_later() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..20)
            .map(|i| dir.path().join(format!("{i}.lic")))
            .collect();
        for p in &paths {
            write_unsynced(p, b"license", Access::Default, Mode::CreateNew).unwrap();
        }
        let e = write_unsynced(&paths[0], b"again", Access::Default, Mode::CreateNew);
        assert!(e.unwrap_err().is_already_exists());
        sync_files(paths.iter().map(PathBuf::as_path)).unwrap();
        assert_eq!(names(dir.path()).len(), 20);
        assert!(paths.iter().all(|p| fs::read(p).unwrap() == b"license"));
        let gone = dir.path().join("gone.lic");
        assert!(matches!(
            sync_files([gone.as_path()]),
            Err(WriteError::Io { path, .. }) if path == gone
        ));
    }

    #[test]
    fn threads_writing_the_same_target_never_mix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared");
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..20 {
                        write(path, &[t; 4096], Access::Default, Mode::Replace).unwrap();
                        let back = fs::read(path).unwrap();
                        assert_eq!(back.len(), 4096);
                        assert!(back.iter().all(|b| *b == back[0]));
                    }
                });
            }
        });
        assert_eq!(names(dir.path()), ["shared"]);
    }
}
