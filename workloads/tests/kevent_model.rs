//! Model-based test of the kevent emulation (issue 15, class fix (a)).
//!
//! proptest generates random sequences of `kevent_ctl` ADD / MODIFY / REMOVE / READY,
//! `kevent_get_events`, `kevent_wait`, `kevent_commit`, and pipe open / write / drain /
//! close (closing frees fd numbers that the next pipe — or the emulation's own fds —
//! reuse) from one thread, and compares every result with a small reference model
//! written from `Documentation/kevent.txt` (take35):
//!
//! * a request is keyed by type + id + user; ADD of an existing key is `EEXIST`, MODIFY /
//!   REMOVE / READY of a missing one `ENOENT` (BROKEN | DONE);
//! * a ready request is delivered once per wait; ONESHOT requests are removed when
//!   delivered, ET pipe requests are delivered at every wait while their pipe is
//!   readable; with `KEVENT_REQ_LAST_CHECK` an fd request is delivered iff its pipe is
//!   readable at the wait;
//! * a pipe request already ready at ADD is completed in place (DONE) unless
//!   `KEVENT_REQ_ALWAYS_QUEUE`;
//! * a wait delivers at most `room` events (`max_nr`, or the free ring slots for
//!   `kevent_wait`) and, when it delivers fewer, every ready request;
//! * `kevent_get_events` copies each event into the ring, `KEVENT_RET_COPY_FAILED` once it
//!   is full; `kevent_commit` frees slots and returns how many.
//!
//! The document says nothing about closing an fd that a request names, so requests on a
//! closed pipe are "don't care": they may or may not fire (the model follows what the
//! emulation did). Every *other* request must behave exactly as the model says — in
//! particular a request on a new pipe that reuses a closed pipe's fd number.
//!
//! Bounded for CI: a fixed number of cases (`CASES`), each at most `MAX_OPS` steps of
//! non-blocking calls.
use std::{
    collections::HashSet,
    os::fd::{AsRawFd, OwnedFd},
    sync::Arc,
    time::Duration,
};

use proptest::{prelude::*, test_runner::Config};
use workloads::{
    kevent::{consts::*, kevent_init, Kevent, KeventId, Ring, Ukevent},
    sys,
};

const CASES: u32 = 4000;
const MAX_OPS: usize = 60;
const PIPES: usize = 3;
const RING: u32 = 8;
const ZERO: Option<Duration> = Some(Duration::ZERO);

#[derive(Clone, Debug)]
enum Op {
    OpenPipe(usize),
    ClosePipe(usize),
    Write(usize),
    Drain(usize),
    AddUser {
        id: u32,
        user: u32,
        oneshot: bool,
        ready: bool,
    },
    AddPipe {
        pipe: usize,
        user: u32,
        oneshot: bool,
        always: bool,
    },
    ModifyUser {
        id: u32,
        user: u32,
        oneshot: bool,
    },
    ReadyUser {
        id: u32,
        user: u32,
        data: u32,
    },
    RemoveUser {
        id: u32,
        user: u32,
    },
    /// REMOVE the `nth` (modulo) pipe request the model knows, live or on a closed pipe.
    RemovePipe(usize),
    Get {
        max: u32,
    },
    Wait {
        num: u32,
    },
    Commit {
        n: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PIPES;
    prop_oneof![
        3 => p.clone().prop_map(Op::OpenPipe),
        2 => p.clone().prop_map(Op::ClosePipe),
        3 => p.clone().prop_map(Op::Write),
        1 => p.clone().prop_map(Op::Drain),
        2 => (0..3u32, 0..2u32, any::<bool>(), any::<bool>())
            .prop_map(|(id, user, oneshot, ready)| Op::AddUser { id, user, oneshot, ready }),
        4 => (p, 0..3u32, any::<bool>(), any::<bool>())
            .prop_map(|(pipe, user, oneshot, always)| Op::AddPipe { pipe, user, oneshot, always }),
        1 => (0..3u32, 0..2u32, any::<bool>())
            .prop_map(|(id, user, oneshot)| Op::ModifyUser { id, user, oneshot }),
        2 => (0..3u32, 0..2u32, 0..100u32)
            .prop_map(|(id, user, data)| Op::ReadyUser { id, user, data }),
        1 => (0..3u32, 0..2u32).prop_map(|(id, user)| Op::RemoveUser { id, user }),
        2 => (0..8usize).prop_map(Op::RemovePipe),
        3 => (1..=RING).prop_map(|max| Op::Get { max }),
        2 => (1..=RING).prop_map(|num| Op::Wait { num }),
        2 => (0..=RING).prop_map(|n| Op::Commit { n }),
    ]
}

/// A real pipe of the harness; `serial` tells pipes that reuse fd numbers apart.
struct Pipe {
    serial: u64,
    r: OwnedFd,
    w: OwnedFd,
    bytes: usize,
}

#[derive(Clone, Debug)]
struct MReq {
    type_: u32,
    id: u32,
    user: u32,
    oneshot: bool,
    /// User requests: in the ready queue.
    queued: bool,
    /// User requests: the payload READY gave.
    data: [u32; 2],
    /// Pipe requests: the serial of the pipe they watch.
    pipe: Option<u64>,
}

impl MReq {
    fn key(&self) -> (u32, u32, u32) {
        (self.type_, self.id, self.user)
    }
}

struct World {
    q: Kevent,
    ring: Arc<Ring>,
    pipes: Vec<Option<Pipe>>,
    next_serial: u64,
    reqs: Vec<MReq>,
    /// Absolute ring positions: written, committed.
    kabs: u64,
    uabs: u64,
}

fn key_of(uk: &Ukevent) -> (u32, u32, u32) {
    (uk.type_, uk.id.raw[0], uk.user[0])
}

fn user_req(id: u32, user: u32, flags: u32) -> Ukevent {
    let mut uk = Ukevent::new(KEVENT_USER, 1, KeventId::new(id, 0), flags);
    uk.user = [user, 0];
    uk
}

fn pipe_req(fd: u32, user: u32, flags: u32) -> Ukevent {
    let mut uk = Ukevent::new(KEVENT_PIPE, KEVENT_PIPE_READ, KeventId::new(fd, 0), flags);
    uk.user = [user, 0];
    uk
}

impl World {
    fn new() -> World {
        let ring = Arc::new(Ring::new(RING).expect("ring"));
        let q = kevent_init(Some(ring.clone()), RING, 0).expect("kevent_init");
        World {
            q,
            ring,
            pipes: (0..PIPES).map(|_| None).collect(),
            next_serial: 0,
            reqs: Vec::new(),
            kabs: 0,
            uabs: 0,
        }
    }

    fn ctl1(&self, cmd: u32, mut uk: Ukevent) -> Ukevent {
        let n = self
            .q
            .kevent_ctl(cmd, 1, std::slice::from_mut(&mut uk))
            .expect("kevent_ctl");
        assert_eq!(n, 1);
        uk
    }

    fn find(&self, key: (u32, u32, u32)) -> Option<usize> {
        self.reqs.iter().position(|r| r.key() == key)
    }

    fn pipe_open(&self, serial: u64) -> Option<&Pipe> {
        self.pipes.iter().flatten().find(|p| p.serial == serial)
    }

    /// A live request (not on a closed pipe).
    fn live(&self, r: &MReq) -> bool {
        r.pipe.is_none_or(|s| self.pipe_open(s).is_some())
    }

    /// What the model says is ready now.
    fn ready_set(&self) -> HashSet<(u32, u32, u32)> {
        self.reqs
            .iter()
            .filter(|r| match r.pipe {
                None => r.queued,
                Some(s) => self.pipe_open(s).is_some_and(|p| p.bytes > 0),
            })
            .map(MReq::key)
            .collect()
    }

    /// Checks one wait's delivered events against the model and applies them.
    fn delivered(&mut self, what: &str, evs: &[Ukevent], room: usize) {
        let ready = self.ready_set();
        let mut seen = HashSet::new();
        assert!(
            evs.len() <= room,
            "{what}: {} events for room {room}",
            evs.len()
        );
        for ev in evs {
            let k = key_of(ev);
            assert!(seen.insert(k), "{what}: {k:?} delivered twice in one wait");
            let i = self
                .find(k)
                .unwrap_or_else(|| panic!("{what}: event {k:?} for no request"));
            let r = self.reqs[i].clone();
            assert!(
                ready.contains(&k) || !self.live(&r),
                "{what}: {k:?} delivered but not ready (model {r:?})"
            );
            if self.live(&r) {
                assert_eq!(ev.ret_flags, KEVENT_RET_DONE, "{what}: {k:?} ret_flags");
            } else {
                // A request on a closed fd may also come back BROKEN (EBADF).
                assert_eq!(
                    ev.ret_flags & KEVENT_RET_DONE,
                    KEVENT_RET_DONE,
                    "{what}: {k:?}"
                );
            }
            match r.pipe {
                None => assert_eq!(ev.ret_data, r.data, "{what}: {k:?} payload"),
                Some(_) if self.live(&r) => {
                    assert_eq!(ev.ret_data[0], KEVENT_PIPE_READ, "{what}: {k:?} ret_data")
                }
                Some(_) => {}
            }
            if r.oneshot {
                self.reqs.remove(i);
            } else {
                self.reqs[i].queued = false;
            }
        }
        if evs.len() < room {
            let missing: Vec<_> = ready.difference(&seen).collect();
            assert!(
                missing.is_empty(),
                "{what}: returned {} of room {room} but ready {missing:?} not delivered",
                evs.len()
            );
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::OpenPipe(i) => {
                if self.pipes[i].is_none() {
                    let (r, w) = sys::pipe(true).expect("pipe");
                    self.next_serial += 1;
                    self.pipes[i] = Some(Pipe {
                        serial: self.next_serial,
                        r,
                        w,
                        bytes: 0,
                    });
                }
            }
            Op::ClosePipe(i) => self.pipes[i] = None,
            Op::Write(i) => {
                if let Some(p) = self.pipes[i].as_mut() {
                    assert_eq!(sys::write(p.w.as_raw_fd(), b"x").expect("write"), 1);
                    p.bytes += 1;
                }
            }
            Op::Drain(i) => {
                if let Some(p) = self.pipes[i].as_mut() {
                    let mut b = [0u8; 256];
                    let _ = sys::read(p.r.as_raw_fd(), &mut b);
                    p.bytes = 0;
                }
            }
            Op::AddUser {
                id,
                user,
                oneshot,
                ready,
            } => {
                let flags = if oneshot { KEVENT_REQ_ONESHOT } else { 0 }
                    | if ready { KEVENT_REQ_READY } else { 0 };
                let out = self.ctl1(KEVENT_CTL_ADD, user_req(id, user, flags));
                let k = (KEVENT_USER, id, user);
                if self.find(k).is_some() {
                    assert_eq!(out.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE, "{op:?}");
                    assert_eq!(out.ret_data[0], libc::EEXIST as u32, "{op:?}");
                } else {
                    assert_eq!(out.ret_flags, 0, "{op:?} armed");
                    self.reqs.push(MReq {
                        type_: KEVENT_USER,
                        id,
                        user,
                        oneshot,
                        queued: ready,
                        data: [0, 0],
                        pipe: None,
                    });
                }
            }
            Op::AddPipe {
                pipe,
                user,
                oneshot,
                always,
            } => {
                let Some(p) = self.pipes[pipe].as_ref() else {
                    return;
                };
                let (fd, serial, bytes) = (p.r.as_raw_fd() as u32, p.serial, p.bytes);
                let flags = KEVENT_REQ_LAST_CHECK
                    | if oneshot {
                        KEVENT_REQ_ONESHOT
                    } else {
                        KEVENT_REQ_ET
                    }
                    | if always { KEVENT_REQ_ALWAYS_QUEUE } else { 0 };
                let out = self.ctl1(KEVENT_CTL_ADD, pipe_req(fd, user, flags));
                let k = (KEVENT_PIPE, fd, user);
                if self.find(k).is_some() {
                    assert_eq!(out.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE, "{op:?}");
                    assert_eq!(out.ret_data[0], libc::EEXIST as u32, "{op:?}");
                } else if bytes > 0 && !always {
                    assert_eq!(out.ret_flags, KEVENT_RET_DONE, "{op:?}: ready at ADD");
                    assert_eq!(out.ret_data[0], KEVENT_PIPE_READ, "{op:?}");
                } else {
                    assert_eq!(out.ret_flags, 0, "{op:?} armed");
                    self.reqs.push(MReq {
                        type_: KEVENT_PIPE,
                        id: fd,
                        user,
                        oneshot,
                        queued: false,
                        data: [0, 0],
                        pipe: Some(serial),
                    });
                }
            }
            Op::ModifyUser { id, user, oneshot } => {
                let flags = if oneshot { KEVENT_REQ_ONESHOT } else { 0 };
                let out = self.ctl1(KEVENT_CTL_MODIFY, user_req(id, user, flags));
                match self.find((KEVENT_USER, id, user)) {
                    Some(i) => {
                        assert_eq!(out.ret_flags, KEVENT_RET_DONE, "{op:?}");
                        self.reqs[i].oneshot = oneshot;
                    }
                    None => {
                        assert_eq!(out.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE, "{op:?}");
                        assert_eq!(out.ret_data[0], libc::ENOENT as u32, "{op:?}");
                    }
                }
            }
            Op::ReadyUser { id, user, data } => {
                let mut uk = user_req(id, user, 0);
                uk.ret_data = [data, data + 1];
                let out = self.ctl1(KEVENT_CTL_READY, uk);
                match self.find((KEVENT_USER, id, user)) {
                    Some(i) => {
                        assert_eq!(out.ret_flags, KEVENT_RET_DONE, "{op:?}");
                        self.reqs[i].queued = true;
                        self.reqs[i].data = [data, data + 1];
                    }
                    None => {
                        assert_eq!(out.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE, "{op:?}");
                        assert_eq!(out.ret_data[0], libc::ENOENT as u32, "{op:?}");
                    }
                }
            }
            Op::RemoveUser { id, user } => {
                let out = self.ctl1(KEVENT_CTL_REMOVE, user_req(id, user, 0));
                match self.find((KEVENT_USER, id, user)) {
                    Some(i) => {
                        assert_eq!(out.ret_flags, KEVENT_RET_DONE, "{op:?}");
                        self.reqs.remove(i);
                    }
                    None => {
                        assert_eq!(out.ret_flags, KEVENT_RET_BROKEN | KEVENT_RET_DONE, "{op:?}");
                        assert_eq!(out.ret_data[0], libc::ENOENT as u32, "{op:?}");
                    }
                }
            }
            Op::RemovePipe(nth) => {
                let pipes: Vec<usize> = (0..self.reqs.len())
                    .filter(|&i| self.reqs[i].pipe.is_some())
                    .collect();
                if pipes.is_empty() {
                    return;
                }
                let i = pipes[nth % pipes.len()];
                let r = self.reqs[i].clone();
                let out = self.ctl1(KEVENT_CTL_REMOVE, pipe_req(r.id, r.user, 0));
                assert_eq!(out.ret_flags, KEVENT_RET_DONE, "{op:?} of {r:?}");
                self.reqs.remove(i);
            }
            Op::Get { max } => {
                let mut buf = vec![Ukevent::default(); max as usize];
                let n = self
                    .q
                    .kevent_get_events(max, max, ZERO, &mut buf, 0)
                    .expect("get_events") as usize;
                let evs = &buf[..n];
                let free = (RING as u64 - (self.kabs - self.uabs)) as usize;
                for (i, ev) in evs.iter().enumerate() {
                    let failed = ev.ret_flags & KEVENT_RET_COPY_FAILED != 0;
                    assert_eq!(failed, i >= free, "{op:?}: COPY_FAILED of event {i}");
                    if !failed {
                        let slot = ((self.kabs + i as u64) % RING as u64) as u32;
                        assert_eq!(self.ring.read(slot), Some(*ev), "{op:?}: ring copy {i}");
                    }
                }
                let mut plain: Vec<Ukevent> = evs.to_vec();
                for e in &mut plain {
                    e.ret_flags &= !KEVENT_RET_COPY_FAILED;
                }
                self.kabs += n.min(free) as u64;
                self.delivered(&format!("{op:?}"), &plain, max as usize);
                self.check_ring_header();
            }
            Op::Wait { num } => {
                let free = (RING as u64 - (self.kabs - self.uabs)) as usize;
                let old_uidx = (self.uabs % RING as u64) as u32;
                let n = self
                    .q
                    .kevent_wait(num, old_uidx, ZERO, 0)
                    .expect("kevent_wait") as usize;
                let evs: Vec<Ukevent> = (0..n)
                    .map(|i| {
                        let slot = ((self.kabs + i as u64) % RING as u64) as u32;
                        self.ring.read(slot).expect("slot")
                    })
                    .collect();
                self.kabs += n as u64;
                self.delivered(&format!("{op:?}"), &evs, (num as usize).min(free));
                self.check_ring_header();
            }
            Op::Commit { n } => {
                let pos = (self.uabs + n as u64).min(self.kabs);
                let (idx, over) = ((pos % RING as u64) as u32, (pos / RING as u64) as u32);
                let got = self.q.kevent_commit(idx, over).expect("commit");
                assert_eq!(got as u64, pos - self.uabs, "{op:?}");
                self.uabs = pos;
                self.check_ring_header();
            }
        }
    }

    fn check_ring_header(&self) {
        assert_eq!(
            self.ring.kidx() as u64,
            self.kabs % RING as u64,
            "ring_kidx"
        );
        assert_eq!(
            self.ring.over() as u64,
            self.uabs / RING as u64,
            "ring_over"
        );
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

proptest! {
    #![proptest_config(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })]

    /// Every step of a random single-thread sequence matches the reference model, and
    /// dropping the queue and the pipes leaves no fd behind.
    #[test]
    fn random_sequences_match_the_reference_model(ops in proptest::collection::vec(op(), 1..MAX_OPS)) {
        let before = open_fds();
        {
            let mut w = World::new();
            for op in &ops {
                w.step(op);
            }
        }
        prop_assert_eq!(open_fds(), before, "fd leak");
    }
}
