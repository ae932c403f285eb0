//! Probe sets (`--probes`): what the kernel side measures.
use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeSet {
    /// Voluntary / involuntary context switches and on-CPU time per target thread.
    Offcpu,
}

impl ProbeSet {
    pub const ALL: &'static [ProbeSet] = &[ProbeSet::Offcpu];
    /// What `--probes default` (and no `--probes`) means.
    pub const DEFAULT: &'static [ProbeSet] = &[ProbeSet::Offcpu];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeSet::Offcpu => "offcpu",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ProbeSet::Offcpu => "context switches (voluntary / involuntary) and on-CPU time per target thread [sched_switch]",
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
            "all" => return Ok(ProbeSet::ALL.iter().fold(Self::NONE, |s, &p| s.with(p))),
            _ => {}
        }
        let mut sets = Self::NONE;
        for word in s.split(',').map(str::trim) {
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
        assert_eq!(ProbeSets::default_sets().to_string(), "offcpu");
    }
}
