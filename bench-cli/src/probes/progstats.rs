//! Each program's own figures from the kernel: run time and run count (BPF stats, on
//! only while a `Probes` is alive) and `recursion_misses`, the runs the kernel skipped
//! because a program was already running on that CPU. aya 0.14 has no accessor for the
//! latter, so `bpf_prog_info` is read here with BPF_OBJ_GET_INFO_BY_FD.
use std::{
    io,
    os::fd::{AsRawFd, BorrowedFd},
};

use aya_obj::generated::{bpf_cmd, bpf_prog_info};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgCounters {
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
}

impl ProgCounters {
    pub fn since(self, earlier: ProgCounters) -> ProgCounters {
        ProgCounters {
            run_time_ns: self.run_time_ns.saturating_sub(earlier.run_time_ns),
            run_cnt: self.run_cnt.saturating_sub(earlier.run_cnt),
            recursion_misses: self
                .recursion_misses
                .saturating_sub(earlier.recursion_misses),
        }
    }
}

/// The `info` member of `union bpf_attr` for BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
struct InfoByFd {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

pub fn read(fd: BorrowedFd<'_>) -> io::Result<ProgCounters> {
    // SAFETY: bpf_prog_info is plain data; zero is a valid value.
    let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
    let attr = InfoByFd {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<bpf_prog_info>() as u32,
        info: &mut info as *mut bpf_prog_info as u64,
    };
    // SAFETY: attr points at a live, correctly sized info buffer for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            bpf_cmd::BPF_OBJ_GET_INFO_BY_FD as libc::c_long,
            &attr as *const InfoByFd,
            std::mem::size_of::<InfoByFd>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ProgCounters {
        run_time_ns: info.run_time_ns,
        run_cnt: info.run_cnt,
        recursion_misses: info.recursion_misses,
    })
}
