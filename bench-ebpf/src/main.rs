//! zswap-bench eBPF programs. One module per probe family; every program is a thin entry point
//! that aggregates into per-CPU maps (no per-event streaming, so nothing can be dropped except
//! on a full map, which is counted). Userspace picks, per metric, which of these to load:
//! fentry/fexit where the kernel allows, else kprobe/kretprobe, else tracepoints.
#![no_std]
#![no_main]

mod common;
mod context;
mod cursor;
mod kvar;
mod locks;
mod proactive;
mod shrink_memcg;
mod spinlock;
mod writeback;

// GPL: bpf_probe_read_kernel, bpf_get_stackid and the tracing attach types need it.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
