#!/bin/sh
# Inside the guest (scripts/bench-probes): the overhead scenario with probes off, on, and under
# bpftrace, alternating, ROUNDS times, in one boot.
set -u
ZB=$1 OUT=$2 ROUNDS=$3 ROOT=$4
S=$ROOT/scenarios/overhead.toml
for r in $(seq 1 "$ROUNDS"); do
  "$ZB" run "$S" --host --no-probes --out "$OUT/off-$r" || echo "off-$r failed"
  "$ZB" run "$S" --host --out "$OUT/on-$r" || echo "on-$r failed"
  if command -v bpftrace >/dev/null; then
    bpftrace "$ROOT/scripts/guest/zswap.bt" > "$OUT/bpftrace-$r.log" 2>&1 &
    BT=$!
    sleep 20   # bpftrace compiles and attaches slowly under TCG
    "$ZB" run "$S" --host --no-probes --out "$OUT/bpftrace-$r" || echo "bpftrace-$r failed"
    kill -INT $BT; wait $BT
  fi
done
