//! `[swap]`: a device choice the runner knows, enough slots for zswap to use (unless the
//! machine's existing swap is used), and an absolute swap file path.
use bench_results::human::fmt_bytes;

use crate::scenario::errors::{Problems, Seg::Key};
use crate::scenario::plan::Swap;
use crate::scenario::spec::{SwapChoice, SwapSpec};
use crate::scenario::values::PAGE;

pub(super) fn check(sw: &SwapSpec, p: &mut Problems) -> Swap {
    if sw.choice().is_none() {
        p.push(
            &[Key("swap"), Key("device")],
            format!("unknown swap device {:?}", sw.device),
            "use \"auto\", \"file\", \"existing\" or a block device path such as \"/dev/vda\"",
        );
    }
    if sw.size.0 < 16 * PAGE && sw.choice() != Some(SwapChoice::Existing) {
        p.push(
            &[Key("swap"), Key("size")],
            format!("swap size {} is too small", fmt_bytes(sw.size.0)),
            "use at least 64K; zswap needs swap slots for every page it stores",
        );
    }
    if let Some(f) = &sw.file
        && !f.is_absolute()
    {
        p.push(
            &[Key("swap"), Key("file")],
            format!("swap file {} is not absolute", f.display()),
            "give an absolute path on a disk filesystem (not tmpfs)",
        );
    }
    Swap {
        // An unknown device is a problem above: the plan is discarded.
        choice: sw.choice().unwrap_or(SwapChoice::Auto),
        size: sw.size.0,
        file: sw.file.clone(),
    }
}
