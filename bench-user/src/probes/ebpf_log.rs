//! The eBPF side's diagnostics: programs report a lost event (a full map, an unmatched spin
//! exit, a failed stack id) through aya-log on its 1st, 2nd, 4th... occurrence per CPU, next to
//! the counter the result reports. This drains aya-log's ring buffer into the runner's `log`, so
//! a run's log shows when events began to go missing, not only how many did.
use aya::Ebpf;
use aya_log::EbpfLogger;

/// aya-log's reader. Records wait in the ring buffer until `drain`; nothing is lost if it runs
/// late, only a full buffer drops records (and then the counters still count every event).
pub struct ProbeLog(EbpfLogger<&'static dyn log::Log>);

impl ProbeLog {
    /// Takes the log ring buffer from a loaded object. An object without one (no program logs)
    /// is not an error: there is simply nothing to drain.
    pub fn take(ebpf: &mut Ebpf) -> Option<Self> {
        match EbpfLogger::init(ebpf) {
            Ok(l) => Some(ProbeLog(l)),
            Err(e) => {
                log::debug!("eBPF log not read: {e}");
                None
            }
        }
    }

    /// Hands every record the programs wrote so far to the `log` crate (target: the program's
    /// module, so `RUST_LOG=bench_ebpf=warn` selects them).
    pub fn drain(&mut self) {
        self.0.flush();
    }
}
