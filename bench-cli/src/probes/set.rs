//! Probe sets (`--probes`): what the kernel side measures.
use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeSet {
    /// Wakeup latency (same-CPU / cross-CPU), wakeup counts, who woke whom.
    Wakeup,
    /// Blocked time, voluntary / involuntary switches, on-CPU time.
    Offcpu,
    /// Per-syscall latency, counts, and on-CPU time inside each syscall.
    Syscalls,
    /// The kernel stack of each wakeup (costly).
    Wakestacks,
    /// fentry/fexit latency of one kernel function (`--kfunc NAME`).
    Kfunc,
    /// Empty programs on the default sets' tracepoints: this machine's floor. Stands
    /// alone (refused beside another set) and is not part of `all`.
    Nop,
}

impl ProbeSet {
    pub const ALL: &'static [ProbeSet] = &[
        ProbeSet::Wakeup,
        ProbeSet::Offcpu,
        ProbeSet::Syscalls,
        ProbeSet::Wakestacks,
        ProbeSet::Kfunc,
        ProbeSet::Nop,
    ];
    /// What `--probes default` (and no `--probes`) means.
    pub const DEFAULT: &'static [ProbeSet] =
        &[ProbeSet::Wakeup, ProbeSet::Offcpu, ProbeSet::Syscalls];
    /// What `--probes all` means: the default plus the costly ones (`kfunc` needs `--kfunc`).
    pub const EVERYTHING: &'static [ProbeSet] = &[
        ProbeSet::Wakeup,
        ProbeSet::Offcpu,
        ProbeSet::Syscalls,
        ProbeSet::Wakestacks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeSet::Wakeup => "wakeup",
            ProbeSet::Offcpu => "offcpu",
            ProbeSet::Syscalls => "syscalls",
            ProbeSet::Wakestacks => "wakestacks",
            ProbeSet::Kfunc => "kfunc",
            ProbeSet::Nop => "nop",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ProbeSet::Wakeup => "wakeup latency split same-CPU / cross-CPU, wakeups per thread, who woke whom [sched_waking, sched_switch]",
            ProbeSet::Offcpu => "blocked time, voluntary / involuntary switches, on-CPU time per thread [sched_switch]",
            ProbeSet::Syscalls => "per-syscall latency and counts, and on-CPU time inside each syscall [sys_enter, sys_exit]",
            ProbeSet::Wakestacks => "kernel stack of each wakeup, aggregated (costly; in `all`) [sched_waking]",
            ProbeSet::Kfunc => "fentry/fexit latency of the kernel function --kfunc NAME (needs BPF trampolines)",
            ProbeSet::Nop => "empty programs on the default sets' tracepoints: this machine's floor (alone only; not in `all`) [sched_switch, sched_waking, sys_enter, sys_exit, sched_process_fork]",
        }
    }

    /// This set's bit in the kernel programs' `ENABLED` global.
    pub fn kernel_bit(self) -> u32 {
        use bench_common::sets;
        match self {
            ProbeSet::Wakeup => sets::WAKEUP,
            ProbeSet::Offcpu => sets::OFFCPU,
            ProbeSet::Syscalls => sets::SYSCALLS,
            ProbeSet::Wakestacks => sets::WAKESTACKS,
            ProbeSet::Kfunc => sets::KFUNC,
            ProbeSet::Nop => sets::NOP,
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of probe sets, as `--probes` names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeSets(u32);

impl ProbeSets {
    pub const NONE: ProbeSets = ProbeSets(0);

    pub fn default_sets() -> Self {
        ProbeSet::DEFAULT.iter().fold(Self::NONE, |s, &p| s.with(p))
    }

    pub fn with(self, p: ProbeSet) -> Self {
        Self(self.0 | p.bit())
    }

    pub fn without(self, p: ProbeSet) -> Self {
        Self(self.0 & !p.bit())
    }

    /// The `ENABLED` bitmask the kernel programs read.
    pub fn kernel_bits(self) -> u32 {
        self.iter().map(ProbeSet::kernel_bit).fold(0, |a, b| a | b)
    }

    pub fn contains(self, p: ProbeSet) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = ProbeSet> {
        ProbeSet::ALL
            .iter()
            .copied()
            .filter(move |&p| self.contains(p))
    }
}

impl fmt::Display for ProbeSets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<_> = self.iter().map(ProbeSet::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for ProbeSets {
    type Err = String;
    /// `none`, `default`, `all`, or a comma-separated list of set names.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => return Ok(Self::NONE),
            "default" => return Ok(Self::default_sets()),
            "all" => {
                return Ok(ProbeSet::EVERYTHING
                    .iter()
                    .fold(Self::NONE, |s, &p| s.with(p)))
            }
            _ => {}
        }
        let mut sets = Self::NONE;
        for word in s.split(',').map(str::trim) {
            // The keywords name whole selections: inside a list they would contradict
            // it (`all,nop`, `none,wakeup`) or repeat it.
            if matches!(word, "none" | "default" | "all") {
                return Err(format!(
                    "'{word}' stands alone and cannot be part of a list ('{s}'): use --probes {word}, or list set names only"
                ));
            }
            if word.is_empty() {
                return Err(format!("'{s}' has an empty name in its list"));
            }
            let set = ProbeSet::ALL
                .iter()
                .copied()
                .find(|p| p.as_str() == word)
                .ok_or_else(|| {
                    let names: Vec<_> = ProbeSet::ALL.iter().map(|p| p.as_str()).collect();
                    format!(
                        "unknown probe set '{word}' (one of: {}, or none, default, all)",
                        names.join(", ")
                    )
                })?;
            sets = sets.with(set);
        }
        if sets.contains(ProbeSet::Nop) && sets != Self::NONE.with(ProbeSet::Nop) {
            return Err(format!(
                "the nop probe set stands alone: '{s}' combines it with other sets (use --probes nop)"
            ));
        }
        Ok(sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_lists_and_keywords() {
        assert_eq!("none".parse::<ProbeSets>().unwrap(), ProbeSets::NONE);
        assert_eq!(
            "offcpu".parse::<ProbeSets>().unwrap(),
            ProbeSets::NONE.with(ProbeSet::Offcpu)
        );
        assert_eq!(
            "default".parse::<ProbeSets>().unwrap(),
            ProbeSets::default_sets()
        );
        assert!("offcpu,bogus"
            .parse::<ProbeSets>()
            .unwrap_err()
            .contains("'bogus'"));
        assert_eq!(
            ProbeSets::default_sets().to_string(),
            "wakeup,offcpu,syscalls"
        );
    }

    #[test]
    fn nop_stands_alone_and_is_not_in_all() {
        assert_eq!(
            "nop".parse::<ProbeSets>().unwrap(),
            ProbeSets::NONE.with(ProbeSet::Nop)
        );
        for bad in ["nop,wakeup", "syscalls,nop", "nop,nop,offcpu"] {
            let e = bad.parse::<ProbeSets>().unwrap_err();
            assert!(e.contains("stands alone"), "{bad}: {e}");
        }
        assert!(!"all".parse::<ProbeSets>().unwrap().contains(ProbeSet::Nop));
        // A keyword in a list says what is wrong in one line, whichever keyword.
        assert_eq!(
            "all,nop".parse::<ProbeSets>().unwrap_err(),
            "'all' stands alone and cannot be part of a list ('all,nop'): use --probes all, or list set names only"
        );
        for (bad, word) in [("none,wakeup", "none"), ("offcpu,default", "default")] {
            let e = bad.parse::<ProbeSets>().unwrap_err();
            assert!(
                e.starts_with(&format!("'{word}' stands alone")),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            "wakeup,".parse::<ProbeSets>().unwrap_err(),
            "'wakeup,' has an empty name in its list"
        );
        assert!(!ProbeSets::default_sets().contains(ProbeSet::Nop));
    }
}
