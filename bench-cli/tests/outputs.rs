//! Output files (issue 17, items 1 and 2): every file evbench writes appears whole or
//! not at all, a full disk does not lose the measurement, and every output path is
//! checked before anything is measured or rendered. Runs as root: it mounts a real
//! 64 KiB tmpfs (filled to the last page) and a read-only bind mount in temporary
//! directories, and unmounts them when done.
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

fn evbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_evbench"))
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("evbench-outputs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Self(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A mount made for a test, unmounted (then its directory removed) on drop, even when
/// the test fails.
struct Mount(PathBuf);

impl Mount {
    /// A 64 KiB tmpfs at `dir`, filled to the last byte: a new file can still be
    /// created (an inode, no data), so output checks pass, but writing any byte of a
    /// document or report fails with ENOSPC.
    fn full_tmpfs(dir: &Path) -> Self {
        fs::create_dir_all(dir).unwrap();
        run_ok(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
                .arg(dir),
        );
        let m = Self(dir.to_path_buf());
        let mut f = fs::File::create(dir.join("filler")).unwrap();
        use std::io::Write;
        while f.write_all(b"x").is_ok() {}
        f.sync_all().unwrap();
        m
    }

    /// A 64 KiB tmpfs at `dir` with one page (4 KiB) left free: a stream of lines
    /// fills it part-way through a line.
    fn tmpfs_with_one_page(dir: &Path) -> Self {
        let m = Self::full_tmpfs(dir);
        let filler = dir.join("filler");
        let len = fs::metadata(&filler).unwrap().len();
        fs::OpenOptions::new()
            .write(true)
            .open(&filler)
            .unwrap()
            .set_len(len - 4096)
            .unwrap();
        m
    }

    /// `src` bind-mounted read-only at `dir`.
    fn read_only(src: &Path, dir: &Path) -> Self {
        fs::create_dir_all(dir).unwrap();
        run_ok(Command::new("mount").arg("--bind").arg(src).arg(dir));
        let m = Self(dir.to_path_buf());
        run_ok(
            Command::new("mount")
                .args(["-o", "remount,bind,ro"])
                .arg(dir),
        );
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = fs::remove_dir(&self.0);
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A small real results document (one ping-pong case, 3 repeats, no probes) in `dir`.
fn document(dir: &Path) -> PathBuf {
    let p = dir.join("doc.json");
    let out = evbench()
        .args([
            "run", "pingpong", "--rounds", "2000", "--repeat", "3", "--probes", "none", "-q", "-o",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    p
}

/// Runs `cmd` (which must be refused before it measures anything) and returns its
/// output; the bound proves nothing was measured: the run asks for 10^9 round trips.
fn refused_quickly(cmd: &mut Command) -> Output {
    let t = Instant::now();
    let out = cmd.output().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "{cmd:?} took {:?}: it measured before checking its outputs",
        t.elapsed()
    );
    out
}

/// One line on stderr, exit 2, nothing on stdout, and the line names `needle`.
fn assert_one_line_refusal(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("evbench: error: "), "{err}");
    assert!(err.contains(needle), "names {needle}: {err}");
    assert_eq!(text(&out.stdout), "", "nothing measured or rendered");
}

fn long_run() -> Command {
    let mut c = evbench();
    c.args([
        "run",
        "pingpong",
        "--rounds",
        "1000000000",
        "--probes",
        "none",
        "-q",
    ]);
    c
}

#[test]
fn run_on_a_full_disk_keeps_the_report_and_the_document_and_leaves_no_partial_file() {
    let tmp = TempDir::new("run-full");
    let full = tmp.0.join("full");
    let _m = Mount::full_tmpfs(&full);
    let fallback_dir = tmp.0.join("tmpdir");
    fs::create_dir_all(&fallback_dir).unwrap();

    // Human report: it reaches the terminal; the document goes to a fallback file.
    let c = full.join("c.json");
    let out = evbench()
        .args([
            "run", "pingpong", "--rounds", "20000", "--repeat", "3", "--probes", "none", "-q", "-o",
        ])
        .arg(&c)
        .env("TMPDIR", &fallback_dir)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains(&format!(
            "cannot write {}: No space left on device",
            c.display()
        )),
        "{err}"
    );
    assert!(
        text(&out.stdout).contains("round trip"),
        "the human report: {}",
        text(&out.stdout)
    );
    assert_eq!(
        names(&full),
        ["filler"],
        "no partial file, no temporary file"
    );
    let kept = names(&fallback_dir);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept = fallback_dir.join(&kept[0]);
    assert!(
        err.contains(&format!("kept in {}", kept.display())),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&kept).unwrap()).unwrap();
    assert_eq!(v["cases"][0]["repeats"].as_array().unwrap().len(), 3);
    for r in v["cases"][0]["repeats"].as_array().unwrap() {
        assert_eq!(r["counters"]["rounds"], 20000);
    }

    // --json: the document is on stdout, whole.
    let out = evbench()
        .args([
            "run", "pingpong", "--rounds", "20000", "--probes", "none", "--json", "-o",
        ])
        .arg(&c)
        .env("TMPDIR", &fallback_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cases"][0]["repeats"][0]["counters"]["rounds"], 20000);
    assert_eq!(names(&full), ["filler"]);
    assert_eq!(
        names(&fallback_dir).len(),
        1,
        "no second fallback with --json"
    );

    // --hlog: named, and absent rather than empty.
    let h = full.join("run.hlog");
    let out = evbench()
        .args([
            "run", "pingpong", "--rounds", "20000", "--probes", "none", "-q", "--hlog",
        ])
        .arg(&h)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains(&format!("cannot write {}", h.display())),
        "{err}"
    );
    assert!(text(&out.stdout).contains("round trip"));
    assert_eq!(names(&full), ["filler"]);
}

#[test]
fn report_on_a_full_disk_prints_the_report_and_leaves_no_partial_file() {
    let tmp = TempDir::new("report-full");
    let doc = &document(&tmp.0);
    let full = tmp.0.join("full");
    let _m = Mount::full_tmpfs(&full);
    let plain = evbench().arg("report").arg(doc).output().unwrap();
    assert!(plain.status.success());

    let (html, hlog, svg) = (full.join("r.html"), full.join("r.hlog"), full.join("svg"));
    let out = evbench()
        .arg("report")
        .arg(doc)
        .arg("--html")
        .arg(&html)
        .arg("--hlog")
        .arg(&hlog)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(
        out.stdout, plain.stdout,
        "the same report reaches the terminal"
    );
    for f in [&html, &hlog] {
        assert!(
            err.contains(&format!(
                "cannot write {}: No space left on device",
                f.display()
            )),
            "{err}"
        );
    }
    assert_eq!(
        names(&full),
        ["filler"],
        "no partial file, no temporary file"
    );

    // SVG plots, all or none: the directory fits (an inode), the plots do not; no plot,
    // no temporary file and no directory made for them stays, and one line names the
    // first plot that could not be written.
    let out = evbench()
        .arg("report")
        .arg(doc)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(out.stdout, plain.stdout);
    assert!(!svg.exists(), "no directory left: {:?}", names(&full));
    assert_eq!(names(&full), ["filler"]);
    assert_one_svg_failure(&err, &svg);
    // A directory that was there stays, empty as it was.
    fs::create_dir(&svg).unwrap();
    let out = evbench()
        .arg("report")
        .arg(doc)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_one_svg_failure(&text(&out.stderr), &svg);
    assert_eq!(names(&svg), Vec::<String>::new());
    // compare --svg writes its plots the same way (against a second run: compare
    // refuses one run on both sides).
    let copy = document(&tmp.0.join("second").tap_create());
    let out = evbench()
        .arg("compare")
        .arg(doc)
        .arg(&copy)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains(".svg")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains(&format!("evbench: error: cannot write {}/", svg.display()))
            && err.contains(".svg: No space left on device\n"),
        "{err}"
    );
    assert_eq!(names(&svg), Vec::<String>::new());
}

/// Exactly one error line, naming a plot in `svg` and the cause, and nothing else
/// said about plots (no "wrote" line, no second error).
fn assert_one_svg_failure(err: &str, svg: &Path) {
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    let l = lines[0];
    let prefix = format!("evbench: error: cannot write {}/", svg.display());
    assert!(l.starts_with(&prefix), "{l}");
    assert!(l.ends_with(".svg: No space left on device"), "{l}");
    assert!(!l[prefix.len()..].contains('/'), "{l}");
}

/// A device that takes no data (`/dev/full`) is named in one line with the cause,
/// for every subcommand that writes files; the results document is kept.
#[test]
fn dev_full_is_one_line_naming_it_and_the_cause_everywhere() {
    let tmp = TempDir::new("dev-full");
    let doc = &document(&tmp.0);
    let copy = document(&tmp.0.join("second").tap_create());
    let fallback = tmp.0.join("tmpdir");
    fs::create_dir(&fallback).unwrap();
    let line = "evbench: error: cannot write /dev/full: No space left on device";
    let runs: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            [
                "run",
                "pingpong",
                "--rounds",
                "2000",
                "--probes",
                "none",
                "-q",
                "-o",
                "/dev/full",
            ]
            .map(std::ffi::OsStr::new)
            .to_vec(),
            "-o",
        ),
        (
            [
                "run",
                "pingpong",
                "--rounds",
                "2000",
                "--probes",
                "none",
                "-q",
                "--hlog",
                "/dev/full",
            ]
            .map(std::ffi::OsStr::new)
            .to_vec(),
            "--hlog",
        ),
        (
            vec![
                "report".as_ref(),
                doc.as_os_str(),
                "--html".as_ref(),
                "/dev/full".as_ref(),
            ],
            "--html",
        ),
        (
            vec![
                "compare".as_ref(),
                doc.as_os_str(),
                copy.as_os_str(),
                "--markdown".as_ref(),
                "/dev/full".as_ref(),
            ],
            "--markdown",
        ),
        (
            [
                "trace",
                "--probes",
                "offcpu",
                "-q",
                "-o",
                "/dev/full",
                "--",
                "true",
            ]
            .map(std::ffi::OsStr::new)
            .to_vec(),
            "trace -o",
        ),
    ];
    for (args, what) in runs {
        let out = evbench()
            .args(&args)
            .env("TMPDIR", &fallback)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        let hits: Vec<&str> = err.lines().filter(|l| l.starts_with(line)).collect();
        assert_eq!(hits.len(), 1, "{what}: {err}");
        assert!(!err.contains("os error"), "{what}: {err}");
        // The command mode's own failure is 125 (`true` exited 0); else 2.
        let want = if what == "trace -o" { 125 } else { 2 };
        assert_eq!(out.status.code(), Some(want), "{what}: {err}");
        if what.ends_with("-o") {
            let kept = names(&fallback);
            assert_eq!(kept.len(), 1, "{what}: {kept:?}");
            let kept = fallback.join(&kept[0]);
            assert_eq!(
                hits[0],
                format!(
                    "{line}; the results document is kept in {} instead",
                    kept.display()
                ),
                "{what}"
            );
            let v: serde_json::Value = serde_json::from_slice(&fs::read(&kept).unwrap()).unwrap();
            let id = if what == "-o" {
                "pingpong/pipe/block/pin=none"
            } else {
                "trace/cmd=true"
            };
            assert_eq!(v["cases"][0]["id"], id, "{what}");
            fs::remove_file(kept).unwrap();
        } else if what == "--markdown" {
            assert_eq!(
                hits[0],
                format!("{line} (the verdict above is complete; exit 2)")
            );
        } else {
            assert_eq!(hits[0], line, "{what}");
        }
    }
}

/// Issue 17 (item H): when neither -o nor the $TMPDIR fallback can take the results
/// document, it goes to stdout alone and the human report to stderr: the two never mix
/// on one stream.
#[test]
fn a_document_without_a_home_takes_stdout_alone_and_the_report_goes_to_stderr() {
    let tmp = TempDir::new("no-home");
    let full = tmp.0.join("full");
    let _m = Mount::full_tmpfs(&full);
    let c = full.join("c.json");
    let out = evbench()
        .args([
            "run", "pingpong", "--rounds", "2000", "--repeat", "3", "--probes", "none", "-q", "-o",
        ])
        .arg(&c)
        .env("TMPDIR", &full)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    // stdout is one JSON document and nothing else.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cases"][0]["repeats"].as_array().unwrap().len(), 3);
    assert!(
        err.contains("round trip  p50"),
        "the report is on stderr: {err}"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("evbench: error: "))
        .unwrap();
    assert!(
        line.starts_with(&format!(
            "evbench: error: cannot write {}: No space left on device; nor in $TMPDIR (cannot write {}/evbench-",
            c.display(),
            full.display()
        )) && line.ends_with("No space left on device): the results document is on stdout, the report on stderr"),
        "{line}"
    );
    assert_eq!(names(&full), ["filler"]);
}

/// Issue 14/17 (items A, B): `trace -o` and `--interval-json` on a full disk. The
/// stream stops at its first line with one line naming the file and the cause; the
/// session goes on; the report still reaches the terminal; the document is kept in
/// $TMPDIR (path printed) or, with --json, on stdout; exit 2 without a command, and in
/// the command mode 125 when the command exited 0, else the command's status.
#[test]
fn trace_on_a_full_disk_names_each_file_keeps_the_document_and_exits_2() {
    let tmp = TempDir::new("trace-full");
    let full = tmp.0.join("full");
    let _m = Mount::full_tmpfs(&full);
    let fallback = tmp.0.join("tmpdir");
    fs::create_dir(&fallback).unwrap();
    let (t, jl) = (full.join("t.json"), full.join("t.jsonl"));
    let mut target = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = target.id().to_string();
    let out = evbench()
        .args([
            "trace",
            "--probes",
            "offcpu",
            "--pid",
            &pid,
            "--duration",
            "1s",
        ])
        .args(["--interval", "250ms", "-o"])
        .arg(&t)
        .arg("--interval-json")
        .arg(&jl)
        .env("TMPDIR", &fallback)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let stream = format!(
        "evbench: error: --interval-json: cannot write {}: No space left on device; no more interval lines (the session goes on)",
        jl.display()
    );
    assert_eq!(err.lines().filter(|l| *l == stream).count(), 1, "{err}");
    let kept = names(&fallback);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept = fallback.join(&kept[0]);
    let doc_line = format!(
        "evbench: error: cannot write {}: No space left on device; the results document is kept in {} instead",
        t.display(),
        kept.display()
    );
    assert_eq!(err.lines().filter(|l| *l == doc_line).count(), 1, "{err}");
    assert!(text(&out.stdout).contains("evbench trace: "), "the report");
    // The intervals after the stream stopped are still in the document: one repeat per
    // interval, each printed as one offcpu line on stderr.
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&kept).unwrap()).unwrap();
    let printed: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with('[') && l.contains("s] offcpu "))
        .collect();
    assert_eq!(v["cases"][0]["id"], "trace/comm=sleep");
    assert_eq!(
        v["cases"][0]["repeats"].as_array().unwrap().len(),
        printed.len(),
        "{err}"
    );
    // The stream is the one file written in place: no whole line fit, so none is left
    // (an empty file under the final name says nothing).
    assert_eq!(names(&full), ["filler"]);
    fs::remove_file(&kept).unwrap();

    // --json: the document is on stdout, no fallback file.
    let out = evbench()
        .args([
            "trace",
            "--probes",
            "offcpu",
            "--pid",
            &pid,
            "--duration",
            "300ms",
            "-q",
        ])
        .args(["--json", "-o"])
        .arg(&t)
        .env("TMPDIR", &fallback)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        errors,
        [format!(
            "evbench: error: cannot write {}: No space left on device; the results document is on stdout (--json)",
            t.display()
        )]
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cases"][0]["id"], "trace/comm=sleep");
    assert_eq!(names(&fallback), Vec::<String>::new());
    let _ = target.kill();
    let _ = target.wait();

    // The command mode: 125 when the command succeeded, its own status when not.
    for (cmd, want) in [("exit 0", 125), ("exit 3", 3)] {
        let out = evbench()
            .args(["trace", "--probes", "offcpu", "-q", "--interval-json"])
            .arg(&jl)
            .args(["--", "sh", "-c", cmd])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "{cmd}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors, [stream.as_str()], "{cmd}");
    }
}

#[test]
fn run_refuses_unusable_outputs_before_measuring() {
    let tmp = TempDir::new("run-paths");
    let ro = tmp.0.join("ro");
    let _m = Mount::read_only(&tmp.0.join("src-ro").tap_create(), &ro);
    let x = tmp.0.join("x.json");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["-o".into(), "/proc/x".into()],
            "-o /proc/x: cannot create a file in /proc".into(),
        ),
        (
            vec!["-o".into(), "/nonexistent/dir/a.json".into()],
            "-o /nonexistent/dir/a.json: directory /nonexistent/dir does not exist".into(),
        ),
        (
            vec!["-o".into(), tmp.0.display().to_string()],
            format!("-o {}: is a directory", tmp.0.display()),
        ),
        (
            vec!["-o".into(), ro.join("a.json").display().to_string()],
            "Read-only file system".into(),
        ),
        (
            vec!["--hlog".into(), "/proc/sys/kernel/x.hlog".into()],
            "--hlog /proc/sys/kernel/x.hlog: cannot create a file in /proc/sys/kernel".into(),
        ),
        (
            vec![
                "-o".into(),
                x.display().to_string(),
                "--hlog".into(),
                x.display().to_string(),
            ],
            format!("-o and --hlog both name {}", x.display()),
        ),
        (vec!["-o".into(), "".into()], "'--output <FILE>'".into()),
    ];
    for (args, needle) in cases {
        let out = refused_quickly(long_run().args(&args));
        assert_one_line_refusal(&out, &needle);
    }
    assert_eq!(names(&tmp.0), ["ro", "src-ro"], "nothing written");
}

#[test]
fn report_refuses_unusable_outputs_before_rendering() {
    let tmp = TempDir::new("report-paths");
    let doc = &document(&tmp.0);
    let ro = tmp.0.join("ro");
    let _m = Mount::read_only(&tmp.0.join("src-ro").tap_create(), &ro);
    let x = tmp.0.join("x");
    let file = tmp.0.join("a-file");
    fs::write(&file, "").unwrap();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--html".into(), "/proc/x.html".into()],
            "--html /proc/x.html: cannot create a file in /proc".into(),
        ),
        (
            vec!["--hlog".into(), "/nonexistent/dir/a.hlog".into()],
            "--hlog /nonexistent/dir/a.hlog: directory /nonexistent/dir does not exist".into(),
        ),
        (
            vec!["--html".into(), tmp.0.display().to_string()],
            format!("--html {}: is a directory", tmp.0.display()),
        ),
        (
            vec!["--svg".into(), ro.join("plots").display().to_string()],
            "Read-only file system".into(),
        ),
        (
            vec!["--svg".into(), file.display().to_string()],
            format!("--svg {}: not a directory", file.display()),
        ),
        (
            vec!["--svg".into(), "/nonexistent/plots".into()],
            "--svg /nonexistent/plots: directory /nonexistent does not exist".into(),
        ),
        (
            vec![
                "--html".into(),
                x.display().to_string(),
                "--hlog".into(),
                x.display().to_string(),
            ],
            format!("--html and --hlog both name {}", x.display()),
        ),
        (
            vec!["--hlog".into(), doc.display().to_string()],
            format!(
                "--hlog {} names the input file {}: it would be overwritten",
                doc.display(),
                doc.display()
            ),
        ),
    ];
    let before = fs::read(doc).unwrap();
    for (args, needle) in cases {
        let out = evbench()
            .arg("report")
            .arg(doc)
            .args(&args)
            .output()
            .unwrap();
        assert_one_line_refusal(&out, &needle);
    }
    assert_eq!(
        names(&tmp.0),
        ["a-file", "doc.json", "ro", "src-ro"],
        "nothing written"
    );
    assert_eq!(
        fs::read(doc).unwrap(),
        before,
        "the document read is untouched"
    );
}

trait TapCreate {
    fn tap_create(self) -> Self;
}

impl TapCreate for PathBuf {
    /// Creates the directory and returns its path.
    fn tap_create(self) -> Self {
        fs::create_dir_all(&self).unwrap();
        self
    }
}

/// `-o` naming a FIFO nobody reads neither hangs nor loses the measurement: the write
/// fails at once ("a FIFO with no reader"), exit 2 naming the file, and the document
/// is kept in $TMPDIR (its path printed); with a reader, the reader gets the document.
#[test]
fn run_into_a_fifo_without_a_reader_fails_at_once_and_keeps_the_document() {
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("doc.fifo");
    let tmp = dir.0.join("tmp");
    fs::create_dir(&tmp).unwrap();
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path this test owns.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let t = Instant::now();
    let out = evbench()
        .args([
            "run", "pingpong", "--rounds", "200", "--probes", "none", "-q", "-o",
        ])
        .arg(&fifo)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "a bound, not a speed test"
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "cannot write {}: a FIFO with no reader (start its reader first)",
            fifo.display()
        )),
        "{err}"
    );
    let kept = names(&tmp);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(err.contains(&kept[0]), "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.join(&kept[0])).unwrap()).unwrap();
    assert_eq!(doc["cases"][0]["id"], "pingpong/pipe/block/pin=none");
}

/// Issue 14: the interval stream keeps whole lines only: when the disk fills part-way
/// through a line, the part written is taken back (a tester found a 30-byte cut line).
#[test]
fn interval_json_on_a_disk_filling_mid_line_keeps_whole_lines_only() {
    let tmp = TempDir::new("trace-midline");
    let full = tmp.0.join("full");
    let _m = Mount::tmpfs_with_one_page(&full);
    let jl = full.join("iv.jsonl");
    let mut target = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = target.id().to_string();
    let out = evbench()
        .args(["trace", "-q", "--pid", &pid, "--duration", "3s"])
        .args(["--interval", "50ms", "--interval-json"])
        .arg(&jl)
        .output()
        .unwrap();
    let _ = target.kill();
    let _ = target.wait();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let stream = format!(
        "evbench: error: --interval-json: cannot write {}: No space left on device; no more interval lines (the session goes on)",
        jl.display()
    );
    assert_eq!(err.lines().filter(|l| *l == stream).count(), 1, "{err}");
    let body = fs::read_to_string(&jl).unwrap();
    assert!(
        !body.is_empty() && body.ends_with('\n'),
        "whole lines only: {body:?}"
    );
    for l in body.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["t_s"].is_number(), "{l}");
    }
}

/// A file only root may read (mode 0600), the target of an attacker's symlinks.
fn plant_victim(dir: &Path) -> (PathBuf, Vec<u8>) {
    use std::os::unix::fs::PermissionsExt;
    let v = dir.join("victim");
    fs::write(&v, b"root's own file\n").unwrap();
    fs::set_permissions(&v, fs::Permissions::from_mode(0o600)).unwrap();
    (v, b"root's own file\n".to_vec())
}

fn assert_victim_untouched(v: &(PathBuf, Vec<u8>)) {
    use std::os::unix::fs::PermissionsExt;
    let now = fs::read(&v.0).unwrap();
    assert!(
        now == v.1,
        "the victim was overwritten: {} bytes, starting {:?}",
        now.len(),
        text(&now[..now.len().min(40)])
    );
    let m = fs::symlink_metadata(&v.0).unwrap();
    assert!(m.file_type().is_file());
    assert_eq!(m.permissions().mode() & 0o7777, 0o600, "the victim's mode");
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// F1: an unprivileged user cannot redirect the $TMPDIR fallback of `run -o` on a
/// full disk. Symlinks to a root-only file are planted at every name the old code
/// could have used (`evbench-PID-START.json`) for a span of pids around this one and
/// of start times, and for the child's own pid as soon as it is known; the victim
/// keeps its bytes and mode, and the document is a regular file where the error line
/// says, the only entry of $TMPDIR that is not a planted link.
#[test]
fn the_tmpdir_fallback_follows_no_planted_symlink() {
    let tmp = TempDir::new("planted-fallback");
    let full = tmp.0.join("full");
    let _m = Mount::full_tmpfs(&full);
    let fallback_dir = tmp.0.join("tmpdir");
    fs::create_dir_all(&fallback_dir).unwrap();
    let v = plant_victim(&tmp.0);
    let base = std::process::id();
    let now = now_secs();
    let plant = |pid: u32| {
        for t in now - 1..now + 30 {
            let n = fallback_dir.join(format!("evbench-{pid}-{t}.json"));
            let _ = std::os::unix::fs::symlink(&v.0, n);
        }
    };
    for pid in base..base + 300 {
        plant(pid);
    }
    let c = full.join("c.json");
    let child = evbench()
        .args([
            "run", "pingpong", "--rounds", "20000", "--repeat", "3", "--probes", "none", "-q", "-o",
        ])
        .arg(&c)
        .env("TMPDIR", &fallback_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    plant(child.id());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_victim_untouched(&v);
    let kept: Vec<String> = names(&fallback_dir)
        .into_iter()
        .filter(|n| {
            !fs::symlink_metadata(fallback_dir.join(n))
                .unwrap()
                .file_type()
                .is_symlink()
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept = fallback_dir.join(&kept[0]);
    assert!(
        err.contains(&format!("kept in {} instead", kept.display())),
        "{err}"
    );
    assert!(fs::symlink_metadata(&kept).unwrap().file_type().is_file());
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&kept).unwrap()).unwrap();
    assert_eq!(doc["cases"][0]["repeats"].as_array().unwrap().len(), 3);
    assert_eq!(names(&full), ["filler"], "no temporary file left");
}

/// F2: the temporary files beside outputs and the probe files of the output checks
/// cannot be redirected either: symlinks to a root-only file planted at the old
/// names (`.NAME.evbench-PID.tmp`, `.evbench-probe-PID.tmp`) for a span of pids, in
/// the output directory and the --svg directory, change nothing but the outputs,
/// which are regular files; no temporary file is left on success.
#[test]
fn temporaries_beside_outputs_follow_no_planted_symlink() {
    let tmp = TempDir::new("planted-temps");
    let doc = &document(&tmp.0);
    let out = tmp.0.join("out");
    let svg = out.join("svg");
    fs::create_dir_all(&svg).unwrap();
    // The plot names this document gives, from a first run elsewhere.
    let first = tmp.0.join("first");
    run_ok(evbench().arg("report").arg(doc).arg("--svg").arg(&first));
    let plots = names(&first);
    assert!(!plots.is_empty());
    let v = plant_victim(&tmp.0);
    let base = std::process::id();
    let outputs = ["r.html", "r.hlog", "r.csv", "c.json"];
    let plant = |pid: u32| {
        for n in outputs {
            let _ = std::os::unix::fs::symlink(&v.0, out.join(format!(".{n}.evbench-{pid}.tmp")));
        }
        let _ = std::os::unix::fs::symlink(&v.0, out.join(format!(".evbench-probe-{pid}.tmp")));
        let _ = std::os::unix::fs::symlink(&v.0, svg.join(format!(".evbench-probe-{pid}.tmp")));
        for p in &plots {
            let _ = std::os::unix::fs::symlink(&v.0, svg.join(format!(".{p}.evbench-{pid}.tmp")));
        }
    };
    for pid in base..base + 500 {
        plant(pid);
    }
    let (links_out, links_svg) = (names(&out), names(&svg));
    run_ok(
        evbench()
            .arg("report")
            .arg(doc)
            .arg("--html")
            .arg(out.join("r.html"))
            .arg("--hlog")
            .arg(out.join("r.hlog"))
            .arg("--csv")
            .arg(out.join("r.csv"))
            .arg("--svg")
            .arg(&svg),
    );
    run_ok(
        evbench()
            .args([
                "run", "pingpong", "--rounds", "2000", "--probes", "none", "-q", "-o",
            ])
            .arg(out.join("c.json")),
    );
    assert_victim_untouched(&v);
    let mut want_out = links_out.clone();
    want_out.extend(outputs.iter().map(|s| s.to_string()));
    want_out.sort();
    assert_eq!(
        names(&out),
        want_out,
        "the outputs and the planted links only"
    );
    let mut want_svg = links_svg.clone();
    want_svg.extend(plots.iter().cloned());
    want_svg.sort();
    assert_eq!(
        names(&svg),
        want_svg,
        "the plots and the planted links only"
    );
    for n in outputs {
        let m = fs::symlink_metadata(out.join(n)).unwrap();
        assert!(m.file_type().is_file(), "{n}");
    }
    for p in &plots {
        assert_eq!(
            fs::read(svg.join(p)).unwrap(),
            fs::read(first.join(p)).unwrap(),
            "{p}"
        );
    }
}

/// F8: an output naming one of the plot files `--svg DIR` will write (`--svg . --html
/// ./pingpong-ops_per_sec.svg`) is refused in one line, exit 2, with nothing printed
/// or written, in `report` (each of --html, --hlog, --csv) and `compare` (--markdown,
/// --html): the plot names are known before anything is written.
#[test]
fn an_output_naming_a_plot_file_is_refused_before_writing() {
    let tmp = TempDir::new("plot-clash");
    let doc = &document(&tmp.0);
    // compare wants two different runs.
    let doc2 = &document(&tmp.0.join("b").tap_create());
    let first = tmp.0.join("first");
    run_ok(evbench().arg("report").arg(doc).arg("--svg").arg(&first));
    let plots = names(&first);
    assert!(
        plots.contains(&"pingpong-ops_per_sec.svg".to_string()),
        "{plots:?}"
    );
    let cmp_first = tmp.0.join("cmp-first");
    let out = evbench()
        .arg("compare")
        .arg(doc)
        .arg(doc2)
        .arg("--svg")
        .arg(&cmp_first)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    let cmp_plots = names(&cmp_first);
    assert!(!cmp_plots.is_empty());
    let work = tmp.0.join("work");
    fs::create_dir(&work).unwrap();
    let before = names(&tmp.0);
    for flag in ["--html", "--hlog", "--csv"] {
        for plot in &plots {
            let out = evbench()
                .current_dir(&work)
                .arg("report")
                .arg(doc)
                .args(["--svg", "."])
                .arg(flag)
                .arg(format!("./{plot}"))
                .output()
                .unwrap();
            assert_one_line_refusal(
                &out,
                &format!("--svg and {flag} both name ./{plot}: give each output its own file"),
            );
        }
    }
    for flag in ["--markdown", "--html"] {
        let plot = &cmp_plots[0];
        let out = evbench()
            .current_dir(&work)
            .arg("compare")
            .arg(doc)
            .arg(doc2)
            .args(["--svg", "."])
            .arg(flag)
            .arg(plot)
            .output()
            .unwrap();
        assert_one_line_refusal(
            &out,
            &format!("--svg and {flag} both name ./{plot}: give each output its own file"),
        );
    }
    assert_eq!(names(&work), Vec::<String>::new(), "nothing written");
    assert_eq!(names(&tmp.0), before);
    // Another name in the same directory is no clash: both are written.
    run_ok(evbench().current_dir(&work).arg("report").arg(doc).args([
        "--svg",
        ".",
        "--html",
        "./page.html",
    ]));
    let mut want = plots.clone();
    want.push("page.html".into());
    want.sort();
    assert_eq!(names(&work), want);
}
