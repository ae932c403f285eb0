//! Kernel addresses to symbol names, from /proc/kallsyms (root sees real addresses).
use anyhow::{Context, Result};

pub struct Kallsyms {
    /// (address, name), sorted by address.
    syms: Vec<(u64, String)>,
}

impl Kallsyms {
    pub fn load() -> Result<Self> {
        let text =
            std::fs::read_to_string("/proc/kallsyms").context("cannot read /proc/kallsyms")?;
        let mut syms: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let addr = u64::from_str_radix(f.next()?, 16).ok()?;
                let kind = f.next()?;
                let name = f.next()?;
                // Text symbols only: a stack holds code addresses.
                matches!(kind, "t" | "T" | "w" | "W").then(|| (addr, name.to_string()))
            })
            .collect();
        syms.sort_unstable_by_key(|s| s.0);
        if syms.iter().all(|s| s.0 == 0) {
            anyhow::bail!(
                "/proc/kallsyms hides addresses (kptr_restrict): cannot name kernel stacks"
            );
        }
        Ok(Self { syms })
    }

    /// "function+0xoff" for a code address.
    pub fn name(&self, addr: u64) -> String {
        match self.syms.partition_point(|s| s.0 <= addr) {
            0 => format!("{addr:#x}"),
            i => {
                let (base, name) = &self.syms[i - 1];
                format!("{name}+{:#x}", addr - base)
            }
        }
    }

    /// Just the function name of a code address.
    pub fn function(&self, addr: u64) -> &str {
        match self.syms.partition_point(|s| s.0 <= addr) {
            0 => "?",
            i => &self.syms[i - 1].1,
        }
    }
}
