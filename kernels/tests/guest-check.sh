#!/bin/bash
# Functional checks of proactive zswap writeback, run inside the guest.
# usage: guest-check.sh <key> [checks...]
#   key: "source=zswap" (default) or "zswap_writeback_only" (ref-key-v2);
#        "none" on baseline (interface checks skipped)
#   checks: iface selftest churn (default: iface selftest)
# A single comma-separated argument is accepted too (kernel command line).
BIN=${ZSB_BIN:-/var/cache/zswap-bench/work/guest}
ZSB=$BIN/zsb
[ $# = 1 ] && set -- ${1//,/ }
KEY=${1:-source=zswap}
shift
CHECKS=${*:-iface selftest}
FAIR_VERBOSE=
R=/sys/fs/cgroup
PASS=0 FAIL=0
ok() { echo "PASS: $*"; PASS=$((PASS + 1)); }
ko() { echo "FAIL: $*"; FAIL=$((FAIL + 1)); }
st() { $ZSB stat "$1" "$2"; }
if [ "$KEY" = source=zswap ]; then OTHER=zswap_writeback_only; else OTHER=source=zswap; fi

fill() { # fill <cg> <MiB>
	$ZSB fill "$1" "$2" > /tmp/fill.$$ &
	FILLPID=$!
	for i in $(seq 600); do grep -q filled /tmp/fill.$$ && return 0; sleep 0.5; done
	return 1
}

check_iface() {
	local CG=$R/t wb0 p0 wb1 p1 r
	# keep the data in zswap: no dynamic shrinker writeback while filling
	echo N > /sys/module/zswap/parameters/shrinker_enabled
	mkdir $CG
	echo 100M > $CG/memory.max
	fill $CG 200 || ko "fill did not finish"
	echo "zswap=$(st $CG zswap) zswapped=$(st $CG zswapped) zswpout=$(st $CG zswpout) zswpwb=$(st $CG zswpwb)"
	[ "$(st $CG zswpwb_proactive_b)" != missing ] && ok "memory.stat has zswpwb_proactive_b" ||
		ko "memory.stat lacks zswpwb_proactive_b"

	wb0=$(st $CG zswpwb); p0=$(st $CG zswpwb_proactive_b)
	r=$($ZSB write $CG/memory.reclaim "2M $KEY")
	wb1=$(st $CG zswpwb); p1=$(st $CG zswpwb_proactive_b)
	echo "2M $KEY -> $r; zswpwb $wb0 -> $wb1; zswpwb_proactive_b $p0 -> $p1"
	[ "$r" = OK ] && ok "2M $KEY returns 0" || ko "2M $KEY returned $r"
	[ $((p1 - p0)) -ge $((2 << 20)) ] && ok "proactive_b grew by >= 2M" || ko "proactive_b grew by $((p1 - p0))"
	[ $((wb1 - wb0)) -gt 0 ] && ok "zswpwb grew" || ko "zswpwb did not grow"
	[ "$p1" -le $((wb1 * 4096)) ] && ok "proactive_b <= zswpwb*4096" || ko "proactive_b > zswpwb*4096"

	local n=0 all=
	for i in 1 2 3 4 5; do
		r=$($ZSB write $CG/memory.reclaim "2M $KEY"); [ "$r" = OK ] && n=$((n + 1))
		all="$all $r"
	done
	echo "5 x 2M:$all; zswpwb_proactive_b now $(st $CG zswpwb_proactive_b), zswap $(st $CG zswap)"
	[ $n = 5 ] && ok "5 more 2M calls return 0" || ko "only $n/5 2M calls returned 0"

	r=$($ZSB write $CG/memory.reclaim "1M $OTHER")
	[ "$r" = EINVAL ] && ok "'$OTHER' rejected (EINVAL)" || ko "'$OTHER' -> $r"
	r=$($ZSB write $CG/memory.reclaim "1M source=foo")
	[ "$r" = EINVAL ] && ok "source=foo rejected" || ko "source=foo -> $r"
	r=$($ZSB write $CG/memory.reclaim "1M $KEY swappiness=60")
	[ "$r" = EINVAL ] && ok "$KEY + swappiness= EINVAL" || ko "$KEY + swappiness= -> $r"
	r=$($ZSB write $CG/memory.reclaim "1M swappiness=60 $KEY")
	[ "$r" = EINVAL ] && ok "swappiness= + $KEY EINVAL" || ko "swappiness= + $KEY -> $r"
	echo 0 > $CG/memory.zswap.writeback
	r=$($ZSB write $CG/memory.reclaim "1M $KEY")
	[ "$r" = EINVAL ] && ok "memory.zswap.writeback=0 -> EINVAL" || ko "writeback=0 -> $r"
	echo 1 > $CG/memory.zswap.writeback
	if [ -e /sys/devices/system/node/node0/reclaim ]; then
		r=$($ZSB write /sys/devices/system/node/node0/reclaim "1M $KEY")
		[ "$r" = EINVAL ] && ok "per-node reclaim -> EINVAL" || ko "per-node reclaim -> $r"
	else
		echo "SKIP: no per-node reclaim file (CONFIG_NUMA off)"
	fi
	r=$($ZSB write-int $CG/memory.reclaim "100G $KEY" 300)
	echo "100G $KEY with SIGALRM after 300ms -> $r"
	[ "$r" = EINTR ] && ok "signal -> EINTR" || ko "signal -> $r (EAGAIN means it finished first)"
	p0=$(st $CG zswpwb_proactive_b)
	r=$($ZSB write $CG/memory.reclaim "100G $KEY")
	p1=$(st $CG zswpwb_proactive_b)
	echo "100G $KEY -> $r; proactive_b +$((p1 - p0)); zswap now $(st $CG zswap)"
	[ "$r" = EAGAIN ] && ok "huge budget -> EAGAIN" || ko "huge budget -> $r"
	r=$($ZSB write $CG/memory.reclaim "1M")
	echo "plain 1M memory.reclaim -> $r"
	[ "$r" = OK ] || [ "$r" = EAGAIN ] && ok "plain memory.reclaim still works" || ko "plain reclaim -> $r"
	kill $FILLPID; wait $FILLPID 2>/dev/null
	rmdir $CG
	echo Y > /sys/module/zswap/parameters/shrinker_enabled
}

# Repeated small budgets on a parent: which children are written back from?
# Without a cursor every call restarts at the first child.
check_fair() {
	local P=$R/fair c pids= i r out=
	echo N > /sys/module/zswap/parameters/shrinker_enabled
	mkdir $P
	echo "+memory" > $P/cgroup.subtree_control
	for c in a b c; do
		mkdir $P/$c
		echo 20M > $P/$c/memory.max
		fill $P/$c 50 || ko "fill $c"
		pids="$pids $FILLPID"
	done
	for i in $(seq 30); do
		r=$($ZSB write $P/memory.reclaim "100K $KEY"); out="$out $r"
		[ -n "$FAIR_VERBOSE" ] && echo "call $i: $r a=$(st $P/a zswpwb_proactive_b) b=$(st $P/b zswpwb_proactive_b) c=$(st $P/c zswpwb_proactive_b) parent=$(st $P zswpwb_proactive_b)"
	done
	echo "30 x 100K on parent:$out"
	for c in a b c; do
		echo "fair: child $c zswpwb_proactive_b=$(st $P/$c zswpwb_proactive_b) zswap=$(st $P/$c zswap)"
	done
	kill $pids; wait $pids 2>/dev/null
	rmdir $P/a $P/b $P/c $P
	echo Y > /sys/module/zswap/parameters/shrinker_enabled
}

check_iface_base() {
	local CG=$R/t r
	mkdir $CG
	r=$($ZSB write $CG/memory.reclaim "1M source=zswap")
	echo "baseline: 1M source=zswap -> $r (expected EINVAL: unknown key)"
	rmdir $CG
}

check_selftest() {
	echo "=== test_zswap"
	(cd /tmp && $BIN/test_zswap) 2>&1 | sed 's/^/selftest: /'
}

check_churn() {
	local P=$R/churn r i n=0 e=0 end
	echo 5 > /sys/module/zswap/parameters/max_pool_percent
	mkdir $P
	echo 150M > $P/memory.max
	mkdir $P/keep
	fill $P/keep 200
	local KEEP=$FILLPID
	end=$(( $(date +%s) + ${CHURN_SECS:-60} ))
	# proactive writeback walkers: on the parent and on the root cgroup
	( while [ $(date +%s) -lt $end ]; do $ZSB write $P/memory.reclaim "1M $KEY"; done ) > /tmp/w1 2>&1 &
	local W1=$!
	( while [ $(date +%s) -lt $end ]; do $ZSB write $R/memory.reclaim "512K $KEY"; done ) > /tmp/w2 2>&1 &
	local W2=$!
	( while [ $(date +%s) -lt $end ]; do $ZSB write $P/memory.reclaim "4M $KEY"; done ) > /tmp/w3 2>&1 &
	local W3=$!
	i=0
	while [ $(date +%s) -lt $end ]; do
		i=$((i + 1))
		mkdir -p $P/c$i/d
		$ZSB fill $P/c$i/d 4 > /dev/null &
		local f=$!
		sleep 0.2
		kill $f; wait $f 2>/dev/null
		rmdir $P/c$i/d $P/c$i && n=$((n + 1)) || e=$((e + 1))
	done
	wait $W1 $W2 $W3 2>/dev/null
	echo "churn: created+removed $n memcg pairs ($e rmdir failures)"
	echo "walker results: $(cat /tmp/w1 /tmp/w2 /tmp/w3 | sort | uniq -c | tr '\n' ' ')"
	kill $KEEP; wait $KEEP 2>/dev/null
	rmdir $P/keep $P
	sleep 2
	echo "root cgroup.stat: $(tr '\n' ' ' < $R/cgroup.stat)"
	echo 20 > /sys/module/zswap/parameters/max_pool_percent
	[ $e = 0 ] && ok "churn rmdir" || ko "churn rmdir failures $e"
}

for c in $CHECKS; do
	if [ "$KEY" = none ] && [ $c = iface ]; then check_iface_base; else check_$c; fi
done
if dmesg | grep -E "BUG|WARNING|Oops|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lock held when returning|refcount_t|list_add corruption|list_del corruption|general protection|INFO: task|Call Trace"; then
	ko "dmesg has warnings"
else
	ok "dmesg clean"
fi
echo "RESULT: $PASS passed, $FAIL failed"
