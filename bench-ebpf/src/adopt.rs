//! Kernel-side target selection for `evbench trace --cgroup PATH` and `--comm NAME`:
//! a task that is not a target becomes one (is adopted) when it matches, so tasks that
//! join the cgroup, start, exec or get renamed after the session began are followed
//! without user space polling for them.
//!
//! - `--cgroup`: the task's cgroup v2 ancestor at the directory's level has the
//!   directory's id (`bpf_get_current_ancestor_cgroup_id`, which covers descendant
//!   cgroups). Checked for the *current* task, once per on-CPU stint of a task that is
//!   not a target (`Current::checked`): at its first syscall (sys_enter) or, if it makes
//!   none, when it switches out (sched_switch's prev side). A task that joins is counted
//!   from the first of those; a wakeup of it before that is not seen.
//! - `--comm`: `sched_process_exec` (the name after exec) and `task_rename`
//!   (prctl(PR_SET_NAME), writes to /proc/PID/comm; exec renames through it too) adopt
//!   a process's main thread named NAME; its other threads are adopted at their next
//!   stint (their process's main thread is a target).
//!
//! An adopted task's name is recorded in `COMMS` when it is adopted, and a target's
//! name again when it execs or is renamed (these two programs also count their runs on
//! targets for the session's cost estimate), so the per-thread table names it after
//! it exits. Its CPU time counts from its adoption (`ThreadSched::base_ns`).
//!
//! Adoption is sticky, as a child of a target stays a target: a task that leaves the
//! cgroup or changes its name later stays a target until it exits. Re-checking targets
//! would add a helper call to every traced event; the figures a task gathered live in
//! its entry, so dropping it would lose them.
//!
//! Cost: nothing when `ADOPT` is 0 (a load-time constant: the verifier prunes this
//! code). With `--cgroup`, one helper call per stint of every other task of the machine
//! (not per syscall); with `--comm`, one direct read and one array lookup per stint.
//! evbench's own process (`SELF_TGID`) is never adopted.
use aya_ebpf::{
    helpers::{
        bpf_get_current_ancestor_cgroup_id, bpf_get_current_comm, bpf_get_current_task_btf,
        bpf_probe_read_kernel_str_bytes,
    },
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use aya_log_ebpf::warn;
use bench_common::{adopt as mode, prog, rare, Current, Target, COMM_LEN};

use crate::maps::{
    adopt, bump_gen, cur, current_tid, find, global, lookup_cached, measuring, rare_event,
    target_run, task_runtime,
};
use crate::wakeup::set_comm;

/// Enabled selections (`bench_common::adopt`), set at load time.
#[unsafe(no_mangle)]
static ADOPT: u32 = 0;

/// `offsetof(struct task_struct, tgid)`, set at load time from the kernel's BTF.
#[unsafe(no_mangle)]
static TASK_TGID_OFFSET: u32 = 0;

/// evbench's own process: never adopted.
#[unsafe(no_mangle)]
static SELF_TGID: u32 = 0;

/// `--cgroup`: the directory's cgroup id and level below the cgroup2 root.
#[unsafe(no_mangle)]
static ADOPT_CGROUP_ID: u64 = 0;
#[unsafe(no_mangle)]
static ADOPT_CGROUP_LEVEL: u32 = 0;
#[unsafe(no_mangle)]
static ADOPT_CGROUP_LABEL: u32 = 0;

/// `--comm`: the name, NUL-padded to 16 bytes, as two native-endian words.
#[unsafe(no_mangle)]
static ADOPT_COMM: [u64; 2] = [0; 2];
#[unsafe(no_mangle)]
static ADOPT_COMM_LABEL: u32 = 0;

#[inline(always)]
fn enabled(bit: u32) -> bool {
    global(&ADOPT) & bit != 0
}

#[inline(always)]
fn global64(g: &u64) -> u64 {
    // SAFETY: a plain static (see `maps::global`).
    unsafe { core::ptr::read_volatile(g) }
}

/// The tgid (process id) of a BTF-typed task pointer, read directly.
#[inline(always)]
fn task_tgid(task: *const u8) -> u32 {
    // SAFETY: a trusted BTF pointer; the offset is the kernel's own.
    unsafe { core::ptr::read_volatile(task.add(global(&TASK_TGID_OFFSET) as usize) as *const u32) }
}

/// Whether a NUL-padded command name is `--comm`'s.
#[inline(always)]
fn comm_matches(c: &[u8; COMM_LEN]) -> bool {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&c[..8]);
    b.copy_from_slice(&c[8..]);
    // SAFETY: a plain static array.
    let want = unsafe { core::ptr::read_volatile(&ADOPT_COMM) };
    u64::from_ne_bytes(a) == want[0] && u64::from_ne_bytes(b) == want[1]
}

/// Adopts `tid` (`task`) with `label` unless it already is a target; false when the
/// table is full. Every CPU's cached answer is invalidated, since one may say "not a
/// target". Its CPU time counts from now (`ThreadSched::base_ns`).
#[inline(always)]
fn adopt_new(tid: u32, task: *const u8, label: u32) -> bool {
    if find(tid).1.is_some() {
        return true;
    }
    if !adopt(tid, label, task_runtime(task)) {
        return false;
    }
    bump_gen();
    true
}

/// The current task `tid` (this CPU's cache `c` holds it, as not a target) becomes a
/// target if it matches a selection; checked once per stint. Returns its new entry.
#[inline(always)]
pub fn current(c: *mut Current, tid: u32, p: u32) -> Option<(u32, *mut Target)> {
    if global(&ADOPT) == 0 || tid == 0 {
        return None;
    }
    // SAFETY: this CPU's element; tracing programs do not nest on a CPU.
    let cr = unsafe { &mut *c };
    if cr.checked != 0 {
        return None;
    }
    cr.checked = 1;
    // SAFETY: the helper has no preconditions; its result is a trusted task pointer.
    let task = unsafe { bpf_get_current_task_btf() } as *const u8;
    let tgid = task_tgid(task);
    if tgid == global(&SELF_TGID) {
        return None;
    }
    let mut label = None;
    if enabled(mode::CGROUP) {
        let level = global(&ADOPT_CGROUP_LEVEL) as i32;
        // SAFETY: a helper with no preconditions (0 when the task is shallower).
        if unsafe { bpf_get_current_ancestor_cgroup_id(level) } == global64(&ADOPT_CGROUP_ID) {
            label = Some(global(&ADOPT_CGROUP_LABEL));
        }
    }
    if label.is_none() && enabled(mode::COMM) && tgid != tid {
        if let (_, Some(leader)) = find(tgid) {
            // SAFETY: the leader's entry; the label is set once.
            label = Some(unsafe { (*leader).label });
        }
    }
    let label = label?;
    if !adopt_new(tid, task, label) {
        // Counted (no program context here to log with).
        let _ = rare_event(p, rare::TARGETS_FULL);
        return None;
    }
    // Its name as it is now, kept for the per-thread table after it exits. (Before
    // the lookup: an entry held across a helper call spills an undefined register
    // the verifier refuses.)
    if let Ok(comm) = bpf_get_current_comm() {
        set_comm(tid, &comm);
    }
    let (place, t) = find(tid);
    cr.place = place;
    t.map(|t| (place, t))
}

/// The current task's id and entry, if it is a target or becomes one now (program `p`).
#[inline(always)]
pub fn current_target(p: u32) -> Option<(u32, *mut Target)> {
    let tid = current_tid();
    let c = cur()?;
    match lookup_cached(c, tid) {
        (_, Some(t)) => Some((tid, t)),
        (_, None) => current(c, tid, p).map(|(_, t)| (tid, t)),
    }
}

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`:
/// fires in the task that exec'd, with its new name already set (begin_new_exec).
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    if !enabled(mode::COMM) {
        return 0;
    }
    let task: *const u8 = ctx.arg(0);
    let tid = crate::maps::task_tid(task);
    if task_tgid(task) == global(&SELF_TGID) {
        return 0;
    }
    let Ok(comm) = bpf_get_current_comm() else {
        return 0;
    };
    if let (_, Some(_)) = find(tid) {
        // A target exec'd: its name is the new one from now on.
        set_comm(tid, &comm);
        if measuring() {
            target_run(prog::SCHED_PROCESS_EXEC);
        }
        return 0;
    }
    if !comm_matches(&comm) {
        return 0;
    }
    if adopt_new(tid, task, global(&ADOPT_COMM_LABEL)) {
        set_comm(tid, &comm);
        if measuring() {
            target_run(prog::SCHED_PROCESS_EXEC);
        }
    } else if rare_event(prog::SCHED_PROCESS_EXEC, rare::TARGETS_FULL) {
        warn!(
            &ctx,
            "sched_process_exec: tid {}: target table full: a process named as --comm is not followed",
            tid
        );
    }
    0
}

/// `task_rename(struct task_struct *task, const char *comm)`: fires before `comm`
/// replaces the task's name (__set_task_comm), for prctl(PR_SET_NAME), writes to
/// /proc/PID/comm and exec. Only a process's main thread counts: pgrep matches the
/// process's name, which is its main thread's.
#[btf_tracepoint(function = "task_rename")]
pub fn task_rename(ctx: BtfTracePointContext) -> i32 {
    if !enabled(mode::COMM) {
        return 0;
    }
    let task: *const u8 = ctx.arg(0);
    let tid = crate::maps::task_tid(task);
    let tgid = task_tgid(task);
    if tgid == global(&SELF_TGID) {
        return 0;
    }
    let target = find(tid).1.is_some();
    // Other threads only matter when they are targets (their name changes).
    if tid != tgid && !target {
        return 0;
    }
    let name: *const u8 = ctx.arg(1);
    let mut buf = [0u8; COMM_LEN];
    // SAFETY: a kernel string; the helper bounds the copy and NUL-terminates it.
    if unsafe { bpf_probe_read_kernel_str_bytes(name, &mut buf) }.is_err() {
        return 0;
    }
    if target {
        set_comm(tid, &buf);
        if measuring() {
            target_run(prog::TASK_RENAME);
        }
        return 0;
    }
    if !comm_matches(&buf) {
        return 0;
    }
    if adopt_new(tid, task, global(&ADOPT_COMM_LABEL)) {
        set_comm(tid, &buf);
        if measuring() {
            target_run(prog::TASK_RENAME);
        }
    } else if rare_event(prog::TASK_RENAME, rare::TARGETS_FULL) {
        warn!(
            &ctx,
            "task_rename: tid {}: target table full: a process renamed to --comm is not followed",
            tid
        );
    }
    0
}
