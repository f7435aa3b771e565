//! Library target only so bench-user can declare a build-dependency (aya-build rebuilds the
//! programs when this crate changes). The programs live in the `zswap-bench-probes` binary.
#![no_std]
