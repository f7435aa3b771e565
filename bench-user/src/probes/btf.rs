//! The running kernel's BTF (btf-rs): struct member offsets, function presence and
//! prototypes, enum values. Rust eBPF has no CO-RE, so every offset the programs use comes
//! from here and is passed in as a load-time global.
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use btf_rs::{Btf, BtfType, Type};

pub struct KernelBtf {
    btf: Btf,
}

/// A function as BTF describes it.
#[derive(Debug, Clone)]
pub struct FuncInfo {
    /// Size in bytes of the return type (0 = void).
    pub ret_size: usize,
    /// Parameter names in order (the series renamed and re-typed its budget argument between
    /// versions: `nr_to_writeback` pages in v3, `bytes` in v5).
    pub params: Vec<String>,
}

impl KernelBtf {
    pub fn load() -> Result<Self> {
        Self::from_file(Path::new("/sys/kernel/btf/vmlinux"))
    }

    pub fn from_file(p: &Path) -> Result<Self> {
        let btf = Btf::from_file(p).with_context(|| {
            format!(
                "reading {} (kernel BTF); fix: boot a kernel built with CONFIG_DEBUG_INFO_BTF=y",
                p.display()
            )
        })?;
        Ok(KernelBtf { btf })
    }

    fn name(&self, t: &dyn BtfType) -> String {
        self.btf.resolve_name(t).unwrap_or_default()
    }

    /// Follow typedefs/const/volatile to the underlying type.
    fn strip(&self, mut t: Type) -> Result<Type> {
        for _ in 0..16 {
            t = match &t {
                Type::Typedef(x) => self.btf.resolve_chained_type(x)?,
                Type::Const(x) | Type::Volatile(x) | Type::Restrict(x) => {
                    self.btf.resolve_chained_type(x)?
                }
                Type::TypeTag(x) => self.btf.resolve_chained_type(x)?,
                _ => return Ok(t),
            };
        }
        Ok(t)
    }

    fn struct_by_name(&self, name: &str) -> Result<btf_rs::Struct> {
        for t in self.btf.resolve_types_by_name(name).unwrap_or_default() {
            if let Type::Struct(s) = t
                && !s.members.is_empty()
            {
                return Ok(s);
            }
        }
        bail!("struct {name} not in the kernel's BTF")
    }

    /// Byte offset of `member` in `strukt`, searching anonymous struct/union members too.
    fn find_member(&self, s: &btf_rs::Struct, member: &str) -> Result<Option<(u64, Type)>> {
        for m in &s.members {
            let n = self.name(m);
            let ty = self.strip(self.btf.resolve_chained_type(m)?)?;
            let off = (m.bit_offset() / 8) as u64;
            if n == member {
                return Ok(Some((off, ty)));
            }
            if n.is_empty()
                && let Type::Struct(inner) | Type::Union(inner) = &ty
                && let Some((o, t)) = self.find_member(inner, member)?
            {
                return Ok(Some((off + o, t)));
            }
        }
        Ok(None)
    }

    /// Offset of a member path, e.g. ("mem_cgroup", ["css"]) or ("zswap_entry", ["length"]).
    pub fn offset(&self, strukt: &str, path: &[&str]) -> Result<u64> {
        let mut s = self.struct_by_name(strukt)?;
        let mut total = 0;
        for (i, m) in path.iter().enumerate() {
            let (off, ty) = self
                .find_member(&s, m)?
                .ok_or_else(|| anyhow!("struct {strukt}: no member {}", path[..=i].join(".")))?;
            total += off;
            if i + 1 < path.len() {
                s = match ty {
                    Type::Struct(x) | Type::Union(x) => x,
                    _ => bail!("struct {strukt}: {} is not a struct", path[..=i].join(".")),
                };
            }
        }
        Ok(total)
    }

    /// The per-memcg writeback cursor lock, on kernels that have one: a struct member of
    /// mem_cgroup whose struct type mentions zswap and has a spinlock member named `lock`
    /// (v3: `struct zswap_wb_iter { spinlock_t lock; ... }`). Returns (offset, "member.lock").
    pub fn memcg_cursor_lock(&self) -> Result<Option<(u64, String)>> {
        let s = self.struct_by_name("mem_cgroup")?;
        for m in &s.members {
            let ty = self.strip(self.btf.resolve_chained_type(m)?)?;
            if let Type::Struct(inner) = &ty {
                let tname = self.name(inner);
                if !tname.contains("zswap") {
                    continue;
                }
                if let Some((o, lt)) = self.find_member(inner, "lock")?
                    && let Type::Struct(l) = &lt
                    && self.name(l) == "spinlock"
                {
                    let name = format!("{}.lock", self.name(m));
                    return Ok(Some(((m.bit_offset() / 8) as u64 + o, name)));
                }
            }
        }
        Ok(None)
    }

    /// Whether the kernel's BTF has a struct of this name.
    pub fn has_struct(&self, name: &str) -> bool {
        self.struct_by_name(name).is_ok()
    }

    /// A function (BTF_KIND_FUNC) and its prototype, if the kernel has it.
    pub fn func(&self, name: &str) -> Option<FuncInfo> {
        let types = self.btf.resolve_types_by_name(name).ok()?;
        for t in types {
            if let Type::Func(f) = t {
                let proto = self.btf.resolve_chained_type(&f).ok()?;
                if let Type::FuncProto(p) = proto {
                    let ret_size = match p.return_type_id() {
                        0 => 0, // void
                        id => self
                            .btf
                            .resolve_type_by_id(id)
                            .ok()
                            .and_then(|t| self.strip(t).ok())
                            .map_or(0, |t| self.size_of(&t)),
                    };
                    let params = p.parameters.iter().map(|x| self.name(x)).collect();
                    return Some(FuncInfo { ret_size, params });
                }
            }
        }
        None
    }

    fn size_of(&self, t: &Type) -> usize {
        match t {
            Type::Int(i) => i.size(),
            Type::Enum(e) => e.size(),
            Type::Enum64(e) => e.size(),
            Type::Ptr(_) => 8,
            Type::Struct(s) | Type::Union(s) => s.size(),
            _ => 0,
        }
    }

    /// Value of an enumerator, e.g. ("vm_event_item", "ZSWPWB").
    pub fn enum_value(&self, enum_name: &str, member: &str) -> Result<u64> {
        for t in self
            .btf
            .resolve_types_by_name(enum_name)
            .unwrap_or_default()
        {
            if let Type::Enum(e) = &t {
                for m in &e.members {
                    if self.name(m) == member {
                        return Ok(m.val() as u64);
                    }
                }
            }
            if let Type::Enum64(e) = &t {
                for m in &e.members {
                    if self.name(m) == member {
                        return Ok(m.val());
                    }
                }
            }
        }
        bail!("enum {enum_name} has no {member} in the kernel's BTF")
    }
}

impl KernelBtf {
    /// All enumerators of an enum, e.g. lru_status -> [(LRU_REMOVED, 0), ...].
    pub fn enum_members(&self, enum_name: &str) -> Vec<(String, u64)> {
        for t in self
            .btf
            .resolve_types_by_name(enum_name)
            .unwrap_or_default()
        {
            if let Type::Enum(e) = &t {
                return e
                    .members
                    .iter()
                    .map(|m| (self.name(m), m.val() as u64))
                    .collect();
            }
        }
        vec![]
    }
}
