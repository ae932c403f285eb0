//! Files evbench writes: whole or not at all, and checked before anything is measured.
//!
//! Every output file (`-o`, `--hlog`, `--markdown`, `--html`, `--svg DIR/*`, `--csv`) is
//! written to a temporary file in the same directory, flushed to disk, and renamed over
//! the final name only when complete (rename(2) within one filesystem is atomic), so a
//! full disk or a crash never leaves a partial file under the final name. The one
//! exception is an append-only stream (interval JSON lines), written line by line.
//!
//! Before a run measures anything, [`check_output`] proves each output path writable
//! (its directory exists and takes a new file; the path is not a directory) and
//! [`check_distinct`] refuses two outputs to one path, so a bad path costs nothing but
//! one line instead of the whole measurement.
use std::{
    fmt,
    fs::{self, File},
    io::{self, Write},
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
        write!(f, "cannot write {}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir_of(path).join(format!(".{name}.evbench-{}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, fsync,
/// then rename(2). On any failure the temporary file is removed and `path` is left as
/// it was (absent, or its previous contents).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the contents written by `fill` into the temporary file.
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
    let tmp = temp_name(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        {
            let mut w = io::BufWriter::new(&file);
            fill(&mut w)?;
            w.flush()?;
        }
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

/// Checks, before anything is measured, that `path` (given with `flag`) can be written:
/// not a directory, and its directory exists and takes a new file (tried for real with
/// a temporary file, removed at once). `Err` is one line naming the flag and the path.
pub fn check_output(flag: &str, path: &Path) -> Result<(), String> {
    let say = |why: String| Err(format!("{flag} {}: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(format!("{flag}: an empty path"));
    }
    if path.is_dir() {
        return say("is a directory; name a file".into());
    }
    let dir = dir_of(path);
    if !dir.is_dir() {
        return say(format!("directory {} does not exist", dir.display()));
    }
    let tmp = temp_name(path);
    match File::create(&tmp) {
        Ok(_) => {
            let _ = fs::remove_file(&tmp);
            Ok(())
        }
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
    let probe = target.join(format!(".evbench-probe-{}.tmp", std::process::id()));
    match File::create(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => say(format!("cannot create a file in {}: {e}", target.display())),
    }
}

/// Refuses two outputs that name one file (`-o X --hlog X` would overwrite one with the
/// other). Paths are compared as given and, where they exist, canonically.
pub fn check_distinct(outputs: &[(&str, &Path)]) -> Result<(), String> {
    let key = |p: &Path| {
        let parent = dir_of(p)
            .canonicalize()
            .unwrap_or_else(|_| dir_of(p).to_path_buf());
        parent.join(p.file_name().unwrap_or_default())
    };
    for (i, (fa, a)) in outputs.iter().enumerate() {
        for (fb, b) in &outputs[i + 1..] {
            if key(a) == key(b) {
                return Err(format!(
                    "{fa} and {fb} both name {}: give each output its own file",
                    a.display()
                ));
            }
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
