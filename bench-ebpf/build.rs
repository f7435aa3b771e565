//! Re-run when bpf-linker changes: the object it links is what the loader embeds.
fn main() {
    if let Ok(linker) = which::which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", linker.display());
    } else {
        println!("cargo:warning=bpf-linker not found: run scripts/setup");
    }
}
