#!/bin/sh
# Guest side of tests/probes.rs: force contention on a watched *spinlock*. swap_lock is a static
# spinlock that sysinfo(2) takes in si_swapinfo(), so N processes calling sysinfo() in a loop
# contend on it, through the spin slow path only (no mutex, no sleeping). bpftrace counts the
# slow-path entries on the same address as a fully independent probe.
# Usage: spin-contention.sh ZSWAP_BENCH PROCS SECONDS
ZB=$1; N=$2; SECS=$3
grep -w swap_lock /proc/kallsyms | sed 's/^/KALLSYMS /'
cat > /tmp/hammer.py <<'PY'
import ctypes, sys, time
libc = ctypes.CDLL(None)
buf = ctypes.create_string_buffer(256)
end = time.time() + float(sys.argv[1])
n = 0
while time.time() < end:
    for _ in range(500):
        libc.sysinfo(buf)
    n += 500
print("HAMMER_CALLS", n)
PY
bpftrace -e 'kprobe:queued_spin_lock_slowpath /arg0 == (uint64)kaddr("swap_lock")/ { @n = count(); }' > /tmp/bt.out 2>&1 &
BT=$!
i=0; while ! grep -q Attaching /tmp/bt.out && [ $i -lt 240 ]; do sleep 0.5; i=$((i+1)); done
"$ZB" probe --json --crosscheck --duration $((SECS + 15))s --interval $((SECS + 14))s \
  --watch-lock swap_lock > /tmp/probe.json 2> /tmp/probe.err &
P=$!
i=0; while ! grep -q "probe: attached" /tmp/probe.err && [ $i -lt 480 ]; do sleep 0.5; i=$((i+1)); done
sleep 1
j=0; while [ $j -lt "$N" ]; do python3 /tmp/hammer.py "$SECS" & j=$((j+1)); done
wait $P
kill -INT $BT; wait $BT
echo "PROBE_JSON $(tail -n 1 /tmp/probe.json)"
echo "BPFTRACE_N $(sed -n 's/^@n: //p' /tmp/bt.out | tail -n 1)"
cat /tmp/probe.err /tmp/bt.out
