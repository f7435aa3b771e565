#!/bin/bash
# Build the static guest helpers used by guest-check.sh.
# usage: build-guest-tools.sh <kernel source tree> [out dir]
set -e
SRC=$1 OUT=${2:-/var/cache/zswap-bench/work/guest}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
gcc -static -O2 -Wall -o "$OUT/zsb" "$HERE/zsb.c"
ST=$SRC/tools/testing/selftests/cgroup
gcc -static -O2 -I"$ST/.." -I"$ST/lib/include" -o "$OUT/test_zswap" \
	"$ST/test_zswap.c" "$ST/lib/cgroup_util.c"
echo "built $OUT/zsb $OUT/test_zswap"
