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

/// `t` without std's " (os error N)" tails (`io::Error`'s display of an errno),
/// wherever they stand: a message may quote an io::Error mid-sentence. Every one-line
/// error and warning evbench prints goes through it.
pub fn without_errno(t: String) -> String {
    const TAIL: &str = " (os error ";
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(i) = rest.find(TAIL) {
        let after = &rest[i + TAIL.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..i]);
        if digits > 0 && after[digits..].starts_with(')') {
            rest = &after[digits + 1..];
        } else {
            out.push_str(TAIL);
            rest = after;
        }
    }
    out.push_str(rest);
    out
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

#[cfg(test)]
mod tests {
    use super::without_errno;

    #[test]
    fn errno_tails_go_wherever_they_stand() {
        assert_eq!(
            without_errno("x: cannot execute: Permission denied (os error 13)".into()),
            "x: cannot execute: Permission denied"
        );
        assert_eq!(
            without_errno("a: No space left on device (os error 28); the document is kept".into()),
            "a: No space left on device; the document is kept"
        );
        // Not an errno tail: kept as typed.
        assert_eq!(
            without_errno("file (os error x) and (os error 5".into()),
            "file (os error x) and (os error 5"
        );
    }
}
