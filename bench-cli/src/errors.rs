//! One-line error text and the errno behind an error, for users and for `doctor`.
use std::{error::Error, io};

/// "outer: inner: innermost" in one line, without repeating a source that its parent
/// already quoted, and without std's " (os error N)" tails (the words say it; see
/// `files::cause`).
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut out = without_errno(e.to_string());
    let mut src = e.source();
    while let Some(s) = src {
        let t = without_errno(s.to_string());
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

/// `t` without a trailing " (os error N)" (std's `io::Error` display of an errno).
fn without_errno(mut t: String) -> String {
    if let Some(i) = t.rfind(" (os error ") {
        if t[i..].ends_with(')') && t[i + 11..t.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
            t.truncate(i);
        }
    }
    t
}

/// The first OS error number found in an error's chain.
pub fn errno(e: &anyhow::Error) -> Option<i32> {
    e.chain().find_map(|s| {
        s.downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
    })
}

/// The symbolic name of an errno (`EPERM`), for messages users can search for.
pub fn errno_name(code: i32) -> &'static str {
    match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::E2BIG => "E2BIG",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        524 => "ENOTSUPP",
        _ => "errno",
    }
}
