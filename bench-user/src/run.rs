//! placeholder until the workload runner lands
use anyhow::Result;
use std::process::ExitCode;
pub fn run(_a: &crate::cli::RunArgs) -> Result<ExitCode> { anyhow::bail!("run: not implemented yet") }
pub fn matrix(_p: &std::path::Path, _o: Option<&std::path::Path>) -> Result<ExitCode> { anyhow::bail!("matrix: not implemented yet") }
