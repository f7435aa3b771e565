//! One-shot reader of kernel variables no file shows (the `virt_spin_lock_key` static key
//! that decides whether spinlocks are queued or test-and-set). Userspace fills KVARS with
//! addresses from kallsyms, attaches this, makes one syscall and detaches; the program only
//! acts for that one thread group, and only once.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_kernel},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use bench_common::KVAR_SLOTS;

use crate::common::*;

#[btf_tracepoint(function = "sys_enter")]
pub fn tp_btf_kvar_sys_enter(_ctx: BtfTracePointContext) -> u32 {
    if (bpf_get_current_pid_tgid() >> 32) != g(&KVAR_TGID) {
        return 0;
    }
    for i in 0..KVAR_SLOTS {
        let Some(v) = KVARS.get_ptr_mut(i) else {
            continue;
        };
        let v = unsafe { &mut *v };
        if v.addr == 0 || v.done != 0 {
            continue;
        }
        match unsafe { bpf_probe_read_kernel(v.addr as *const u64) } {
            Ok(x) => {
                v.value = x;
                v.ok = 1;
            }
            Err(_) => v.ok = 0,
        }
        v.done = 1;
    }
    0
}
