#!/bin/sh
# Guest side of tests/probes.rs: force contention on a known lock (cgroup_mutex, taken by
# every cgroup mkdir/rmdir) from several processes while the probes watch it by name.
ZB=$1; shift
"$ZB" probe --json --duration 30s --interval 29s --watch-lock cgroup_mutex > /tmp/probe.json 2> /tmp/probe.err &
P=$!
sleep 10
for w in 1 2 3 4; do
  ( i=0; while [ $i -lt 150 ]; do mkdir /sys/fs/cgroup/c$w-$i && rmdir /sys/fs/cgroup/c$w-$i; i=$((i+1)); done ) &
done
wait $P
echo "PROBE_JSON $(tail -n 1 /tmp/probe.json)"
cat /tmp/probe.err
