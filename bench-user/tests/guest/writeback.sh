#!/bin/sh
# Guest side of tests/probes.rs: probes attached, then a memcg under memory.max pressure
# pushes pages through zswap and writeback; print the probe's last snapshot and the kernel's
# own counters for the same memcg.
set -e
ZB=$1; shift
mkswap /dev/vda >/dev/null && swapon /dev/vda
mkdir /sys/fs/cgroup/wbtest
echo 120M > /sys/fs/cgroup/wbtest/memory.max
# A small pool makes shrink_worker (and so shrink_memcg) run too.
echo 2 > /sys/module/zswap/parameters/max_pool_percent
"$ZB" probe --json --duration 45s --interval 44s "$@" > /tmp/probe.json 2> /tmp/probe.err &
P=$!
# Wait until the probes are attached (the JSON mode prints nothing before the first interval).
sleep 12
sh -c 'echo $$ > /sys/fs/cgroup/wbtest/cgroup.procs; exec python3 -c "
import os, time
b = bytearray(os.urandom(2048) + bytes(2048)) * 60000
t = time.time()
while time.time() - t < 12:
    for i in range(0, len(b), 4096 * 7):
        b[i] = (b[i] + 1) & 255
"'
wait $P
echo "PROBE_JSON $(tail -n 1 /tmp/probe.json)"
cat /tmp/probe.err
echo "MEMCG_ZSWPWB $(sed -n 's/^zswpwb //p' /sys/fs/cgroup/wbtest/memory.stat)"
echo "VMSTAT_ZSWPWB $(sed -n 's/^zswpwb //p' /proc/vmstat)"
