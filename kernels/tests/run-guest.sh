#!/bin/bash
# usage: run-guest.sh <bzImage> <name> <guest command> [arg] [timeout s]
# Boots the kernel under QEMU TCG with the host / as read-only 9p root and
# a fresh 2G sparse swap disk; the guest log lands in $OUT/<name>.log.
K=$1 NAME=$2 CMD=$3 ARG=$4 TMO=${5:-1800}
OUT=${OUT:-/var/cache/zswap-bench/work/out}
mkdir -p $OUT
DISK=$(mktemp /var/cache/zswap-bench/tmp/swap.XXXXXX)
truncate -s 2G $DISK
rm -f $OUT/$NAME.log
timeout $TMO qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2G -nographic -no-reboot \
	-nodefaults -serial stdio -kernel $K \
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root \
	-fsdev local,id=out,path=$OUT,security_model=none \
	-device virtio-9p-pci,fsdev=out,mount_tag=out \
	-drive file=$DISK,format=raw,if=virtio \
	-append "console=ttyS0 root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro init=/work/main/kernels/tests/guest-init.sh panic=-1 zsbname=$NAME zsbcmd=$CMD zsbarg=$ARG $EXTRA_CMDLINE" \
	> $OUT/$NAME.console 2>&1
echo "qemu rc=$?"
rm -f $DISK
