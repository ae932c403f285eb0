//! Just enough of a BTF reader to find struct member offsets in the running kernel
//! (`/sys/kernel/btf/vmlinux`). Rust eBPF programs have no CO-RE relocations, so the
//! loader reads `offsetof(struct task_struct, pid)` here and hands it to the programs
//! as a global. Format: Documentation/bpf/btf.rst.
use anyhow::{bail, Context, Result};

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_FUNC: u32 = 12;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;

pub struct KernelBtf {
    data: Vec<u8>,
    type_off: usize,
    type_len: usize,
    str_off: usize,
    str_len: usize,
}

fn u32_at(d: &[u8], off: usize) -> Result<u32> {
    let b = d.get(off..off + 4).context("BTF data truncated")?;
    Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

impl KernelBtf {
    pub const PATH: &'static str = "/sys/kernel/btf/vmlinux";

    pub fn from_sys_fs() -> Result<Self> {
        let data =
            std::fs::read(Self::PATH).with_context(|| format!("cannot read {}", Self::PATH))?;
        Self::parse(data)
    }

    pub fn parse(data: Vec<u8>) -> Result<Self> {
        if data.len() < 24 || u16::from_le_bytes([data[0], data[1]]) != BTF_MAGIC {
            bail!("not little-endian BTF data");
        }
        let hdr_len = u32_at(&data, 4)? as usize;
        let type_off = hdr_len + u32_at(&data, 8)? as usize;
        let type_len = u32_at(&data, 12)? as usize;
        let str_off = hdr_len + u32_at(&data, 16)? as usize;
        let str_len = u32_at(&data, 20)? as usize;
        if type_off + type_len > data.len() || str_off + str_len > data.len() {
            bail!("BTF sections exceed the data");
        }
        Ok(Self {
            data,
            type_off,
            type_len,
            str_off,
            str_len,
        })
    }

    fn name(&self, off: u32) -> &[u8] {
        let start = self.str_off + off as usize;
        let strs = &self.data[start.min(self.str_off + self.str_len)..self.str_off + self.str_len];
        let end = strs.iter().position(|&b| b == 0).unwrap_or(strs.len());
        &strs[..end]
    }

    /// Every type record: (name offset, info word, offset of its kind-specific data).
    fn types(&self) -> impl Iterator<Item = (u32, u32, usize)> + '_ {
        let end = self.type_off + self.type_len;
        let mut off = self.type_off;
        std::iter::from_fn(move || {
            if off + 12 > end {
                return None;
            }
            let name_off = u32_at(&self.data, off).ok()?;
            let info = u32_at(&self.data, off + 4).ok()?;
            let vlen = (info & 0xffff) as usize;
            // Kind-specific data that follows each btf_type (btf.rst, "Type Encoding").
            let extra = match (info >> 24) & 0x1f {
                1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
                3 => 12,                      // ARRAY
                4 | 5 | 15 | 19 => vlen * 12, // STRUCT, UNION, DATASEC, ENUM64
                6 | 13 => vlen * 8,           // ENUM, FUNC_PROTO
                _ => 0,
            };
            let item = (name_off, info, off + 12);
            off += 12 + extra;
            Some(item)
        })
    }

    /// Byte offset of `member` in `struct name` (a direct member, not a bitfield).
    pub fn member_offset(&self, name: &str, member: &str) -> Result<u32> {
        let (_, info, data) = self
            .types()
            .find(|&(n, info, _)| {
                (info >> 24) & 0x1f == KIND_STRUCT && self.name(n) == name.as_bytes()
            })
            .with_context(|| format!("struct {name} is not in this kernel's BTF"))?;
        let kind_flag = info >> 31 == 1;
        for m in 0..(info & 0xffff) as usize {
            let moff = data + m * 12;
            if self.name(u32_at(&self.data, moff)?) == member.as_bytes() {
                let raw = u32_at(&self.data, moff + 8)?;
                let bits = if kind_flag { raw & 0x00ff_ffff } else { raw };
                if !bits.is_multiple_of(8) {
                    bail!("struct {name}.{member} is a bitfield");
                }
                return Ok(bits / 8);
            }
        }
        bail!("struct {name} has no member '{member}' in this kernel's BTF")
    }

    /// Offsets of the per-CPU variables `names` inside the `.data..percpu` section (the
    /// kernel BTF's DATASEC of that name: `btf_var_secinfo.offset`), in that order.
    /// Two variables of one CPU lie as far apart as their offsets here. Errors: a
    /// variable absent from the section (pahole emits only per-CPU variables there).
    pub fn percpu_offsets(&self, names: &[&str]) -> Result<Vec<u32>> {
        // Type ids are 1-based positions in the type section.
        let mut ids = vec![None; names.len()];
        let mut sec = None;
        for (i, (n, info, data)) in self.types().enumerate() {
            let kind = (info >> 24) & 0x1f;
            if kind == KIND_VAR {
                if let Some(k) = names.iter().position(|x| self.name(n) == x.as_bytes()) {
                    ids[k].get_or_insert(i as u32 + 1);
                }
            } else if kind == KIND_DATASEC && self.name(n) == b".data..percpu" {
                sec = Some((info & 0xffff, data));
            }
        }
        let (vlen, data) = sec.context("the kernel's BTF has no .data..percpu section")?;
        names
            .iter()
            .zip(ids)
            .map(|(name, id)| {
                let id = id.with_context(|| {
                    format!("per-CPU variable {name} is not in this kernel's BTF")
                })?;
                for v in 0..vlen as usize {
                    if u32_at(&self.data, data + v * 12)? == id {
                        return u32_at(&self.data, data + v * 12 + 4);
                    }
                }
                bail!("{name} is not in the kernel BTF's .data..percpu section")
            })
            .collect()
    }

    /// Whether the kernel has a function (BTF_KIND_FUNC) named `name`: what fentry needs.
    pub fn has_func_named(&self, name: &str) -> bool {
        self.types()
            .any(|(n, info, _)| (info >> 24) & 0x1f == KIND_FUNC && self.name(n) == name.as_bytes())
    }

    /// Whether a BTF type of any kind is named `name` (e.g. a tracepoint's `btf_trace_*`).
    pub fn has_type_named(&self, name: &str) -> bool {
        self.types()
            .any(|(n, _, _)| self.name(n) == name.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running kernel's own BTF: task_struct.pid sits right before tgid (both pid_t),
    /// in every kernel since pids became per-thread.
    #[test]
    fn task_struct_pid_and_tgid_offsets_are_adjacent() {
        let btf = KernelBtf::from_sys_fs().expect("this kernel exposes BTF");
        let pid = btf.member_offset("task_struct", "pid").unwrap();
        let tgid = btf.member_offset("task_struct", "tgid").unwrap();
        assert_eq!(tgid, pid + 4);
        assert!(btf.member_offset("task_struct", "no_such_member").is_err());
        assert!(btf.has_type_named("btf_trace_sched_switch"));
        assert!(btf.has_func_named("do_nanosleep"));
        assert!(!btf.has_func_named("no_such_kernel_function"));
    }
}
