//! Files evbench writes: whole or not at all, and checked before anything is measured.
//!
//! Every output file (`-o`, `--hlog`, `--markdown`, `--html`, `--svg DIR/*`, `--csv`) is
//! written to a temporary file in the same directory, flushed to disk, and renamed over
//! the final name only when complete (rename(2) within one filesystem is atomic), so a
//! full disk or a crash never leaves a partial file under the final name. The one
//! exception is an append-only stream (interval JSON lines), written line by line.
//! A symlink the user named as output is written through (the temporary file goes
//! beside its final target, so the link stays); a path that is not a regular file (a
//! device such as `/dev/null`, a FIFO, `/dev/stdout`) is opened and written in place:
//! renaming over it would replace the node (as root, damage the machine) and deliver
//! nothing.
//!
//! Names evbench makes up itself (the temporary files, the probe of [`check_output`],
//! the `$TMPDIR` fallback of [`write_new_in`]) are never followed: evbench runs as
//! root, often in directories other users can write (`/tmp`), and a predictable name
//! would let one of them plant a symlink there and have root overwrite any file. Each
//! is created new by [`new_file_in`] (O_CREAT|O_EXCL|O_NOFOLLOW, an unpredictable
//! name), and removed on any failure.
//!
//! Before a run measures anything, [`check_output`] proves each output path writable
//! (its directory exists and takes a new file; the path is not a directory) and
//! [`check_distinct`] refuses two outputs to one path, so a bad path costs nothing but
//! one line instead of the whole measurement; [`check_not_inputs`] refuses an output
//! that would overwrite an input file.
use std::{
    fmt,
    fs::{self, File},
    io::{self, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

/// Why a file could not be written: which file and the system's reason.
#[derive(Debug)]
pub struct WriteError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot write {}: {}",
            self.path.display(),
            cause(&self.source)
        )
    }
}

/// The system's reason alone, for a one-line message: "No space left on device" rather
/// than std's "No space left on device (os error 28)" (the number says nothing more).
pub fn cause(e: &io::Error) -> String {
    let s = e.to_string();
    match (e.raw_os_error(), s.rfind(" (os error ")) {
        (Some(_), Some(i)) => s[..i].to_string(),
        _ => s,
    }
}

/// No `source()`: the message already ends with the system's reason, and an error chain
/// printed with `{:#}` would say it twice ("No space left on device: No space left on
/// device", as testers saw).
impl std::error::Error for WriteError {}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Mode of every file evbench creates (less the umask): the documents, reports and
/// plots are not secret, and 0644 is what `File::create` gave them before.
const FILE_MODE: u32 = 0o644;

/// A new empty file in `dir` named `PREFIX` + 6 random letters and digits + `SUFFIX`,
/// opened for writing with O_CREAT|O_EXCL|O_NOFOLLOW (mode [`FILE_MODE`]): never a file
/// or symlink that was already there, whatever another user planted. A name taken is
/// tried again with new letters (the `tempfile` crate, `Builder::make_in`; it reseeds
/// from the system's randomness after three clashes). The file is removed when the
/// handle is dropped, unless persisted or kept. `Err`: the directory's error (ENOENT,
/// EACCES, EROFS, ENOSPC for inodes...).
pub fn new_file_in(dir: &Path, prefix: &str, suffix: &str) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .make_in(dir, |p| {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(p)
        })
}

/// A new temporary file beside `real` (its final target), `.NAME.XXXXXX.evbench-tmp`:
/// hidden, and telling whose it is if a crash leaves it behind.
fn temp_beside(real: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    new_file_in(dir_of(real), &format!(".{name}."), ".evbench-tmp")
}

/// Writes `bytes` to a file made new in `dir` ([`new_file_in`]: `PREFIX` + random +
/// `SUFFIX`, never through a symlink nor over an existing file), flushed to disk, and
/// returns its path. For the `$TMPDIR` fallback of the results document, whose name
/// no one else may choose. On failure the file is removed and `Err` names it (or
/// `DIR/PREFIX*SUFFIX` when it could not even be created).
pub fn write_new_in(
    dir: &Path,
    prefix: &str,
    suffix: &str,
    bytes: &[u8],
) -> Result<PathBuf, WriteError> {
    let f = new_file_in(dir, prefix, suffix).map_err(|source| WriteError {
        path: dir.join(format!("{prefix}*{suffix}")),
        source,
    })?;
    let path = f.path().to_path_buf();
    let r = (|| {
        let mut w = io::BufWriter::new(f.as_file());
        w.write_all(bytes)?;
        w.flush()?;
        drop(w);
        f.as_file().sync_all()
    })();
    match r {
        // keep(): the file stays under the name it was created with; no rename, so
        // nothing at any other name is touched.
        Ok(()) => f.keep().map(|(_, p)| p).map_err(|e| WriteError {
            path,
            source: e.error,
        }),
        // Dropping `f` removes the partial file.
        Err(source) => Err(WriteError { path, source }),
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, fsync,
/// then rename(2). On any failure the temporary file is removed and `path` is left as
/// it was (absent, or its previous contents). Symlinks and special files: see
/// [`write_with`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_with(path, |f| f.write_all(bytes))
}

/// Most symlinks followed before giving up (Linux's own limit, `MAXSYMLINKS` in
/// fs/namei.c).
const MAX_LINKS: usize = 40;

/// Where writing `path` must go.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// A regular file (or none yet) at this path, every symlink resolved: written
    /// atomically beside it, so the link stays and its target gets the content.
    Regular(PathBuf),
    /// Something that is not a regular file (character or block device, FIFO, socket),
    /// or a file reached through a `/proc` magic link (`/dev/stdout` →
    /// `/proc/self/fd/1`): renaming over it would replace the device node or miss the
    /// open file, so it is opened and written in place.
    InPlace,
}

/// Follows the symlinks of `path` (the last component; the directories are the
/// kernel's business) to what a write must reach. `Err`: a symlink loop, or the path
/// cannot be examined.
fn target(path: &Path) -> io::Result<Target> {
    if let Ok(m) = fs::metadata(path) {
        if !m.is_file() && !m.is_dir() {
            return Ok(Target::InPlace);
        }
    }
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        // /proc/PID/fd/N names an open file, not a path: only opening it reaches it.
        if (p.starts_with("/proc") || p.starts_with("/dev/fd")) && fs::metadata(&p).is_ok() {
            return Ok(Target::InPlace);
        }
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = if to.is_absolute() {
                    to
                } else {
                    dir_of(&p).join(to)
                };
            }
            Ok(_) => return Ok(Target::Regular(p)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::Regular(p)),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symlinks to follow (a loop?)"
    )))
}

/// Like [`write_atomic`], with the contents written by `fill` into the temporary file.
///
/// A symlink is written through: the link stays and its final target gets the content
/// (atomically, the temporary file beside the target). A path that exists and is not a
/// regular file (a device such as `/dev/null`, a FIFO, `/dev/stdout`) is opened and
/// written in place, appending (no rename could deliver to it, and a rename would
/// replace the node); its write errors (`/dev/full`: ENOSPC) are returned like any
/// other. `Err` names `path` as given.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<&File>) -> io::Result<()>,
) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    let real = match target(path).map_err(err)? {
        Target::InPlace => {
            let result = (|| {
                // Non-blocking open: a FIFO nobody reads would block here forever, deaf
                // to Ctrl-C (ENXIO instead, "no reader"); then blocking writes again.
                let file = fs::OpenOptions::new()
                    .append(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(path)
                    .map_err(|e| match e.raw_os_error() {
                        Some(libc::ENXIO) => io::Error::new(
                            io::ErrorKind::NotConnected,
                            "a FIFO with no reader (start its reader first)",
                        ),
                        _ => e,
                    })?;
                // SAFETY: F_GETFL/F_SETFL on a descriptor this function owns.
                unsafe {
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
                    let fl = libc::fcntl(fd, libc::F_GETFL);
                    if fl >= 0 {
                        libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
                    }
                }
                let mut w = io::BufWriter::new(&file);
                fill(&mut w)?;
                w.flush()
            })();
            return result.map_err(err);
        }
        Target::Regular(p) => p,
    };
    // On any failure the temporary file is dropped, which removes it.
    let tmp = temp_beside(&real).map_err(err)?;
    {
        let mut w = io::BufWriter::new(tmp.as_file());
        fill(&mut w).and_then(|()| w.flush()).map_err(err)?;
    }
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(&real).map_err(|e| err(e.error))?;
    Ok(())
}

/// Writes several files as one: each `(path, bytes)` first to a temporary file beside
/// its final target (flushed to disk), and only when every one is complete are they
/// renamed into place. On the first failure every temporary file made so far is
/// removed and no final name is touched; `Err` names that file (as given) and the
/// cause. A path that is not a regular file (a device, a FIFO) cannot be written
/// atomically: it is written in place after every regular file is ready. Used for
/// `--svg DIR`, whose plots belong together.
pub fn write_all_or_nothing(files: &[(PathBuf, Vec<u8>)]) -> Result<(), WriteError> {
    // Every temporary file not yet renamed is removed when `ready` is dropped, on
    // every early return.
    let mut ready: Vec<(tempfile::NamedTempFile, PathBuf)> = Vec::new();
    let mut in_place = Vec::new();
    for (path, bytes) in files {
        let err = |source| WriteError {
            path: path.clone(),
            source,
        };
        let real = match target(path) {
            Ok(Target::Regular(p)) if !path.is_dir() => p,
            Ok(Target::InPlace) => {
                in_place.push((path, bytes));
                continue;
            }
            Ok(Target::Regular(_)) => {
                return Err(err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "it is a directory",
                )));
            }
            Err(e) => return Err(err(e)),
        };
        let tmp = temp_beside(&real).map_err(err)?;
        let r = (|| {
            let mut w = io::BufWriter::new(tmp.as_file());
            w.write_all(bytes)?;
            w.flush()?;
            drop(w);
            tmp.as_file().sync_all()
        })();
        r.map_err(err)?;
        ready.push((tmp, real));
    }
    for (tmp, real) in ready {
        tmp.persist(&real).map_err(|e| WriteError {
            path: real.clone(),
            source: e.error,
        })?;
    }
    for (path, bytes) in in_place {
        write_atomic(path, bytes)?;
    }
    Ok(())
}

/// Checks, before anything is measured, that `path` (given with `flag`) can be written:
/// not a directory, and the directory of its final target (symlinks followed) exists
/// and takes a new file (tried for real with a temporary file, removed at once). A
/// device, FIFO or socket passes (it is written in place; its errors come at the
/// write). `Err` is one line naming the flag and the path.
pub fn check_output(flag: &str, path: &Path) -> Result<(), String> {
    let say = |why: String| Err(format!("{flag} {}: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(format!("{flag}: an empty path"));
    }
    if path.is_dir() {
        return say("is a directory; name a file".into());
    }
    // A device, FIFO or /dev/stdout is written in place: it exists, nothing to create
    // (opening it here could block on a FIFO or act on a device).
    let real = match target(path) {
        Ok(Target::InPlace) => return Ok(()),
        Ok(Target::Regular(p)) => p,
        Err(e) => return say(e.to_string()),
    };
    let dir = dir_of(&real);
    if !dir.is_dir() {
        return say(format!("directory {} does not exist", dir.display()));
    }
    // The probe is removed at once (dropped).
    match temp_beside(&real) {
        Ok(_) => Ok(()),
        Err(e) => say(format!("cannot create a file in {}: {e}", dir.display())),
    }
}

/// Checks that an output directory (`--svg DIR`) exists or can be created, and takes
/// new files. `Err` is one line naming the flag and the directory.
pub fn check_output_dir(flag: &str, dir: &Path) -> Result<(), String> {
    let say = |why: String| Err(format!("{flag} {}: {why}", dir.display()));
    if dir.as_os_str().is_empty() {
        return Err(format!("{flag}: an empty path"));
    }
    if dir.exists() && !dir.is_dir() {
        return say("not a directory".into());
    }
    // The directory that must take a new entry: DIR itself, or its parent if DIR is
    // still to be created.
    let target = if dir.exists() { dir } else { dir_of(dir) };
    if !target.is_dir() {
        return say(format!("directory {} does not exist", target.display()));
    }
    match new_file_in(target, ".evbench-probe-", ".tmp") {
        Ok(_) => Ok(()),
        Err(e) => say(format!("cannot create a file in {}: {e}", target.display())),
    }
}

/// What names one file, for [`check_distinct`] and [`check_not_inputs`]: the final
/// target of `p` (symlinks followed) with its directory made canonical, and its
/// (device, inode) when it exists (a hard link or a bind mount is the same file too).
fn identity(p: &Path) -> (PathBuf, Option<(u64, u64)>) {
    use std::os::unix::fs::MetadataExt;
    let real = match target(p) {
        Ok(Target::Regular(r)) => r,
        _ => p.to_path_buf(),
    };
    let parent = dir_of(&real)
        .canonicalize()
        .unwrap_or_else(|_| dir_of(&real).to_path_buf());
    let key = parent.join(real.file_name().unwrap_or_default());
    let ino = fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    (key, ino)
}

fn same_file(a: &(PathBuf, Option<(u64, u64)>), b: &(PathBuf, Option<(u64, u64)>)) -> bool {
    a.0 == b.0 || (a.1.is_some() && a.1 == b.1)
}

/// Refuses two outputs that name one file (`-o X --hlog X` would overwrite one with the
/// other): the same path as given, through a symlink, or the same inode. Special
/// files written in place (`/dev/null` twice) are no conflict: nothing is replaced.
/// `Err` is one line naming both flags.
pub fn check_distinct(outputs: &[(&str, &Path)]) -> Result<(), String> {
    let ids: Vec<_> = outputs.iter().map(|(_, p)| identity(p)).collect();
    for (i, (fa, a)) in outputs.iter().enumerate() {
        if matches!(target(a), Ok(Target::InPlace)) {
            continue;
        }
        for (j, (fb, _)) in outputs.iter().enumerate().skip(i + 1) {
            if same_file(&ids[i], &ids[j]) {
                return Err(format!(
                    "{fa} and {fb} both name {}: give each output its own file",
                    a.display()
                ));
            }
        }
    }
    Ok(())
}

/// Refuses an output that names one of the input files (`compare A B --markdown A`
/// would replace a results document with Markdown): checked before anything is read.
/// `inputs` are (what, path) pairs such as ("baseline file", a.json). `Err` is one
/// line naming the flag, the path and the input.
pub fn check_not_inputs(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<(), String> {
    let ins: Vec<_> = inputs.iter().map(|(_, p)| identity(p)).collect();
    for (flag, out) in outputs {
        if matches!(target(out), Ok(Target::InPlace)) {
            continue;
        }
        let o = identity(out);
        if let Some(k) = ins.iter().position(|i| same_file(&o, i)) {
            return Err(format!(
                "{flag} {} names the {} {}: it would be overwritten; write the output elsewhere",
                out.display(),
                inputs[k].0,
                inputs[k].1.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("evbench-files-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_whole_files_and_leaves_no_temporary_behind() {
        let d = dir("whole");
        let p = d.join("a.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_contents_and_names_the_file() {
        let d = dir("failed");
        let p = d.join("a.json");
        write_atomic(&p, b"old").unwrap();
        let e = write_with(&p, |_| Err(io::Error::other("disk full"))).unwrap_err();
        assert!(e.to_string().contains("a.json"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_set_of_files_is_written_whole_or_not_at_all() {
        let d = dir("set");
        let (a, b) = (d.join("a.svg"), d.join("b.svg"));
        write_all_or_nothing(&[(a.clone(), b"A".to_vec()), (b.clone(), b"B".to_vec())]).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"A");
        assert_eq!(fs::read(&b).unwrap(), b"B");
        // The second cannot be written (its directory is missing): the first keeps its
        // old contents and no temporary file stays.
        let bad = d.join("no/such/c.svg");
        let e = write_all_or_nothing(&[(a.clone(), b"new".to_vec()), (bad, b"C".to_vec())])
            .unwrap_err();
        assert!(e.to_string().starts_with(&format!(
            "cannot write {}: No such file or directory",
            d.join("no/such/c.svg").display()
        )));
        assert_eq!(fs::read(&a).unwrap(), b"A");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 2);
        fs::remove_dir_all(&d).unwrap();
    }

    /// A file only root may read, planted as the target of an attacker's symlinks.
    fn victim(d: &Path) -> (PathBuf, Vec<u8>, u32) {
        use std::os::unix::fs::PermissionsExt;
        let v = d.join("victim");
        fs::write(&v, b"root's own file\n").unwrap();
        fs::set_permissions(&v, fs::Permissions::from_mode(0o600)).unwrap();
        (v, b"root's own file\n".to_vec(), 0o600)
    }

    fn assert_untouched(v: &(PathBuf, Vec<u8>, u32)) {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::read(&v.0).unwrap(), v.1, "the victim's bytes");
        let m = fs::symlink_metadata(&v.0).unwrap();
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o7777, v.2, "the victim's mode");
    }

    /// A regular file (not a symlink) holding `bytes`.
    fn assert_regular(p: &Path, bytes: &[u8]) {
        let m = fs::symlink_metadata(p).unwrap();
        assert!(m.file_type().is_file(), "{} is a regular file", p.display());
        assert_eq!(fs::read(p).unwrap(), bytes);
    }

    /// F2: symlinks planted at every name the old code used for its temporary and
    /// probe files (`.NAME.evbench-PID.tmp`, `.evbench-probe-PID.tmp`, this very pid)
    /// redirect nothing: the victim keeps its bytes and mode, the outputs are regular
    /// files, and only the planted links and the outputs are left in the directory.
    #[test]
    fn planted_symlinks_at_temporary_names_redirect_no_write() {
        let d = dir("planted");
        let out = d.join("out");
        fs::create_dir(&out).unwrap();
        let v = victim(&d);
        let pid = std::process::id();
        let mut planted = Vec::new();
        for name in ["a.json", "b.svg", "c.svg", "missing.json"] {
            planted.push(format!(".{name}.evbench-{pid}.tmp"));
        }
        planted.push(format!(".evbench-probe-{pid}.tmp"));
        for n in &planted {
            std::os::unix::fs::symlink(&v.0, out.join(n)).unwrap();
        }
        assert!(check_output("-o", &out.join("missing.json")).is_ok());
        assert!(check_output_dir("--svg", &out).is_ok());
        write_atomic(&out.join("a.json"), b"doc").unwrap();
        write_all_or_nothing(&[
            (out.join("b.svg"), b"B".to_vec()),
            (out.join("c.svg"), b"C".to_vec()),
        ])
        .unwrap();
        // A failure removes its temporary file too (and still touches no victim).
        write_with(&out.join("a.json"), |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_untouched(&v);
        assert_regular(&out.join("a.json"), b"doc");
        assert_regular(&out.join("b.svg"), b"B");
        assert_regular(&out.join("c.svg"), b"C");
        let mut want: Vec<String> = planted.clone();
        want.extend(["a.json".into(), "b.svg".into(), "c.svg".into()]);
        want.sort();
        let mut got: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        got.sort();
        assert_eq!(got, want, "no temporary file left behind");
        fs::remove_dir_all(&d).unwrap();
    }

    /// F1: the fallback file is made new (never the old `evbench-PID-START.json`, where
    /// a symlink was planted for this pid and a span of start times), a regular file of
    /// mode 0644 less the umask, named as returned; a failure leaves nothing.
    #[test]
    fn a_new_file_is_made_new_under_a_name_no_one_could_plant() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir("new");
        let tmp = d.join("tmp");
        fs::create_dir(&tmp).unwrap();
        let v = victim(&d);
        let pid = std::process::id();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut planted = Vec::new();
        for t in now - 5..now + 5 {
            planted.push(format!("evbench-{pid}-{t}.json"));
        }
        for n in &planted {
            std::os::unix::fs::symlink(&v.0, tmp.join(n)).unwrap();
        }
        let p = write_new_in(&tmp, &format!("evbench-{now}-"), ".json", b"{}\n").unwrap();
        assert_untouched(&v);
        assert_eq!(p.parent().unwrap(), tmp.as_path());
        let name = p.file_name().unwrap().to_str().unwrap();
        let random = name
            .strip_prefix(&format!("evbench-{now}-"))
            .and_then(|r| r.strip_suffix(".json"))
            .unwrap();
        assert_eq!(random.len(), 6, "{name}");
        assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}");
        assert_regular(&p, b"{}\n");
        // SAFETY: umask(2) read (set and restored at once); no other thread of this
        // test binary creates files with a mode that matters.
        let mask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        };
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o644 & !mask
        );
        // Two calls never share a file.
        let q = write_new_in(&tmp, &format!("evbench-{now}-"), ".json", b"2").unwrap();
        assert_ne!(p, q);
        assert_regular(&p, b"{}\n");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), planted.len() + 2);
        // A directory that is missing: one error naming the pattern, nothing made.
        let e = write_new_in(&d.join("none"), "evbench-", ".json", b"x").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot write {}: No such file or directory",
                d.join("none/evbench-*.json").display()
            )
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn checks_refuse_directories_missing_dirs_and_one_path_twice() {
        let d = dir("checks");
        assert!(check_output("-o", &d)
            .unwrap_err()
            .contains("is a directory"));
        let missing = d.join("no/such/dir/a.json");
        assert!(check_output("-o", &missing)
            .unwrap_err()
            .contains("does not exist"));
        assert!(check_output("-o", &d.join("ok.json")).is_ok());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 0);
        let a = d.join("x");
        let b = d.join(".").join("x");
        assert!(check_distinct(&[("-o", &a), ("--hlog", &b)])
            .unwrap_err()
            .contains("-o and --hlog"));
        assert!(check_distinct(&[("-o", &a), ("--hlog", &d.join("y"))]).is_ok());
        fs::remove_dir_all(&d).unwrap();
    }
}
