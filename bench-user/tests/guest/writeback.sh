#!/bin/sh
# Guest side of tests/probes.rs: probes attached, then a memcg under memory.max pressure
# pushes pages through zswap and writeback; print the probe's last snapshot and the kernel's
# own counters for the same memcg.
set -e
ZB=$1; shift
mkswap /dev/vda >/dev/null && swapon /dev/vda
mkdir /sys/fs/cgroup/wbtest
echo 120M > /sys/fs/cgroup/wbtest/memory.max
# Two phases, so both writeback paths feed the per-memcg comparison. First the zswap shrinker is
# off: pages then pile up in a small pool until it hits max_pool_percent, and only the pool-limit
# path (shrink_worker -> shrink_memcg) writes back. With the shrinker on from the start it can
# keep the pool under the limit for the whole run, and shrink_memcg then never runs (seen in CI).
# Second, the shrinker is on and memcg reclaim writes back through it.
P=/sys/module/zswap/parameters
echo 2 > $P/max_pool_percent
echo N > $P/shrinker_enabled
"$ZB" probe --json --duration 55s --interval 54s "$@" > /tmp/probe.json 2> /tmp/probe.err &
PROBE=$!
# Wait until the probes are attached (the JSON mode prints nothing before the first interval).
sleep 12
churn() {
  sh -c 'echo $$ > /sys/fs/cgroup/wbtest/cgroup.procs; exec python3 -c "
import os, sys, time
b = bytearray(os.urandom(2048) + bytes(2048)) * 60000
t = time.time()
while time.time() - t < float(sys.argv[1]):
    for i in range(0, len(b), 4096 * 7):
        b[i] = (b[i] + 1) & 255
" '"$1"
}
churn 12
echo Y > $P/shrinker_enabled
churn 10
wait $PROBE
echo "PROBE_JSON $(tail -n 1 /tmp/probe.json)"
cat /tmp/probe.err
echo "MEMCG_ZSWPWB $(sed -n 's/^zswpwb //p' /sys/fs/cgroup/wbtest/memory.stat)"
echo "VMSTAT_ZSWPWB $(sed -n 's/^zswpwb //p' /proc/vmstat)"
