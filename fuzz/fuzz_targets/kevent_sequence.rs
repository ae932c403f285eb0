//! Fuzzes the kevent emulation with command sequences (the idea of
//! workloads/tests/kevent_model.rs, driven by libFuzzer's coverage instead of proptest):
//! each 4 input bytes are one step — pipe open / close / write / drain, `kevent_ctl`
//! ADD / MODIFY / READY / REMOVE of user and pipe requests, `kevent_get_events`,
//! `kevent_wait`, `kevent_commit`, and malformed `kevent_ctl` calls (unknown commands and
//! types, `num` larger than the array) that must fail cleanly. At most 64 steps.
//!
//! Checked on every input: no panic; every call returns a value or an error; a READY (or
//! an ADD with `KEVENT_REQ_READY`) of a user request is delivered at most once — a user
//! event is only ever delivered while a READY is pending for it; dropping the queue and
//! the pipes leaves no fd open (`/proc/self/fd` counted before and after).
#![no_main]

use std::{
    collections::HashMap,
    os::fd::{AsRawFd, OwnedFd},
    sync::Arc,
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use workloads::{
    kevent::{consts::*, kevent_init, Kevent, KeventId, Ring, Ukevent},
    sys,
};

const PIPES: usize = 3;
const RING: u32 = 8;
const ZERO: Option<Duration> = Some(Duration::ZERO);
/// Ids of malformed requests start here, away from the tracked user requests (ids 0..4).
const UNTRACKED: u32 = 1000;

/// A tracked user request: is it ONESHOT, is a READY pending.
#[derive(Clone, Copy)]
struct UserReq {
    oneshot: bool,
    pending: bool,
}

struct World {
    q: Kevent,
    ring: Arc<Ring>,
    pipes: Vec<Option<(OwnedFd, OwnedFd)>>,
    users: HashMap<(u32, u32), UserReq>,
    kabs: u64,
    uabs: u64,
}

fn req(type_: u32, event: u32, id: u32, user: u32, flags: u32) -> Ukevent {
    let mut uk = Ukevent::new(type_, event, KeventId::new(id, 0), flags);
    uk.user = [user, 0];
    uk
}

impl World {
    fn ctl(&self, cmd: u32, uk: Ukevent) -> Ukevent {
        let mut one = [uk];
        let n = self
            .q
            .kevent_ctl(cmd, 1, &mut one)
            .expect("kevent_ctl of one event");
        assert_eq!(n, 1, "kevent_ctl processed {n} of 1");
        one[0]
    }

    fn delivered(&mut self, evs: &[Ukevent]) {
        for ev in evs {
            let (type_, id, user) = (ev.type_, ev.id.raw[0], ev.user[0]);
            if type_ != KEVENT_USER || id >= UNTRACKED {
                continue;
            }
            let r = self
                .users
                .get_mut(&(id, user))
                .unwrap_or_else(|| panic!("user event {id}/{user} delivered for no request"));
            assert!(
                r.pending,
                "user event {id}/{user} delivered twice for one READY"
            );
            r.pending = false;
            if r.oneshot {
                self.users.remove(&(id, user));
            }
        }
    }

    fn step(&mut self, s: &[u8]) {
        let (a, b, c) = (s[1], s[2], s[3]);
        let p = a as usize % PIPES;
        match s[0] % 14 {
            0 => {
                if self.pipes[p].is_none() {
                    self.pipes[p] = Some(sys::pipe(true).expect("pipe"));
                }
            }
            1 => self.pipes[p] = None,
            2 => {
                if let Some((_, w)) = &self.pipes[p] {
                    let _ = sys::write(w.as_raw_fd(), b"x");
                }
            }
            3 => {
                if let Some((r, _)) = &self.pipes[p] {
                    let _ = sys::read(r.as_raw_fd(), &mut [0u8; 256]);
                }
            }
            4 => {
                let (id, user) = (a as u32 % 4, b as u32 % 2);
                let oneshot = c & 1 != 0;
                let ready = c & 2 != 0;
                let flags = if oneshot { KEVENT_REQ_ONESHOT } else { 0 }
                    | if ready { KEVENT_REQ_READY } else { 0 };
                let out = self.ctl(KEVENT_CTL_ADD, req(KEVENT_USER, 1, id, user, flags));
                if out.ret_flags == 0 {
                    assert!(
                        !self.users.contains_key(&(id, user)),
                        "ADD of an existing key"
                    );
                    self.users.insert(
                        (id, user),
                        UserReq {
                            oneshot,
                            pending: ready,
                        },
                    );
                }
            }
            5 => {
                let Some((r, _)) = &self.pipes[p] else { return };
                let fd = r.as_raw_fd() as u32;
                let flags = if c & 1 != 0 {
                    KEVENT_REQ_ONESHOT
                } else {
                    KEVENT_REQ_ET
                } | if c & 2 != 0 {
                    KEVENT_REQ_ALWAYS_QUEUE
                } else {
                    0
                } | if c & 4 != 0 { KEVENT_REQ_LAST_CHECK } else { 0 };
                self.ctl(
                    KEVENT_CTL_ADD,
                    req(KEVENT_PIPE, KEVENT_PIPE_READ, fd, b as u32 % 3, flags),
                );
            }
            6 => {
                let (id, user) = (a as u32 % 4, b as u32 % 2);
                let oneshot = c & 1 != 0;
                let flags = if oneshot { KEVENT_REQ_ONESHOT } else { 0 };
                let out = self.ctl(KEVENT_CTL_MODIFY, req(KEVENT_USER, 1, id, user, flags));
                if out.ret_flags == KEVENT_RET_DONE {
                    if let Some(r) = self.users.get_mut(&(id, user)) {
                        r.oneshot = oneshot;
                    }
                }
            }
            7 => {
                let (id, user) = (a as u32 % 4, b as u32 % 2);
                let mut uk = req(KEVENT_USER, 1, id, user, 0);
                uk.ret_data = [c as u32, 0];
                let out = self.ctl(KEVENT_CTL_READY, uk);
                if out.ret_flags == KEVENT_RET_DONE {
                    self.users
                        .get_mut(&(id, user))
                        .expect("READY succeeded for no request")
                        .pending = true;
                }
            }
            8 => {
                let (id, user) = (a as u32 % 4, b as u32 % 2);
                let out = self.ctl(KEVENT_CTL_REMOVE, req(KEVENT_USER, 1, id, user, 0));
                if out.ret_flags == KEVENT_RET_DONE {
                    self.users.remove(&(id, user));
                }
            }
            9 => {
                // REMOVE of a pipe request by fd number: the pipe may be closed or reused.
                let fd = match &self.pipes[p] {
                    Some((r, _)) => r.as_raw_fd() as u32,
                    None => 3 + c as u32 % 16,
                };
                self.ctl(
                    KEVENT_CTL_REMOVE,
                    req(KEVENT_PIPE, KEVENT_PIPE_READ, fd, b as u32 % 3, 0),
                );
            }
            10 => {
                let max = 1 + a as u32 % RING;
                let min = b as u32 % (max + 1);
                let mut buf = vec![Ukevent::default(); max as usize];
                let n = self
                    .q
                    .kevent_get_events(min, max, ZERO, &mut buf, 0)
                    .expect("kevent_get_events") as usize;
                assert!(n <= max as usize, "{n} events for max_nr {max}");
                let free = (RING as u64 - (self.kabs - self.uabs)) as usize;
                self.kabs += n.min(free) as u64;
                self.delivered(&buf[..n]);
            }
            11 => {
                let num = 1 + a as u32 % RING;
                let kidx = self.ring.kidx();
                let n = self
                    .q
                    .kevent_wait(num, (self.uabs % RING as u64) as u32, ZERO, 0)
                    .expect("kevent_wait") as usize;
                assert!(n <= num as usize, "{n} events for num {num}");
                let evs: Vec<Ukevent> = (0..n)
                    .map(|i| self.ring.read((kidx + i as u32) % RING).expect("ring slot"))
                    .collect();
                self.kabs += n as u64;
                self.delivered(&evs);
            }
            12 => {
                let pos = (self.uabs + (a as u64 % (RING as u64 + 1))).min(self.kabs);
                let got = self
                    .q
                    .kevent_commit((pos % RING as u64) as u32, (pos / RING as u64) as u32)
                    .expect("kevent_commit");
                assert_eq!(got as u64, pos - self.uabs, "kevent_commit freed slots");
                self.uabs = pos;
            }
            _ => {
                // Malformed: any command and type, a num the array may not hold.
                let mut evs = [req(
                    b as u32 % 12,
                    c as u32,
                    UNTRACKED + a as u32,
                    0,
                    c as u32 >> 4,
                )];
                let _ = self.q.kevent_ctl(a as u32 % 6, b as u32 % 3, &mut evs);
            }
        }
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fuzz_target!(|data: &[u8]| {
    let before = open_fds();
    {
        let ring = Arc::new(Ring::new(RING).expect("ring"));
        let q = kevent_init(Some(ring.clone()), RING, 0).expect("kevent_init");
        let mut w = World {
            q,
            ring,
            pipes: (0..PIPES).map(|_| None).collect(),
            users: HashMap::new(),
            kabs: 0,
            uabs: 0,
        };
        for s in data.chunks_exact(4).take(64) {
            w.step(s);
        }
    }
    assert_eq!(open_fds(), before, "fd leak");
});
