//! Builds the eBPF object with the pinned nightly (kernels/toolchain.env) and bpf-linker, and
//! embeds it into the zswap-bench binary.
use std::{fs, path::Path};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let env_file = root.join("kernels/toolchain.env");
    println!("cargo:rerun-if-changed={}", env_file.display());
    // aya-build watches bench-ebpf only; the shared ABI crate changes the programs too.
    println!(
        "cargo:rerun-if-changed={}",
        root.join("bench-common/src").display()
    );
    let text = fs::read_to_string(&env_file)?;
    let toolchain = text
        .lines()
        .find_map(|l| l.strip_prefix("EBPF_TOOLCHAIN="))
        .ok_or_else(|| anyhow::anyhow!("EBPF_TOOLCHAIN= missing in {}", env_file.display()))?
        .trim()
        .to_string();
    let ebpf_dir = root.join("bench-ebpf");
    let pkg = aya_build::Package {
        name: "bench-ebpf",
        root_dir: ebpf_dir.to_str().unwrap(),
        ..Default::default()
    };
    aya_build::build_ebpf([pkg], aya_build::Toolchain::Custom(&toolchain))
}
