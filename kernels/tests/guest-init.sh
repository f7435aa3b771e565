#!/bin/bash
# PID 1 of the test guest (host / shared read-only over 9p). Kernel command
# line parameters become environment variables:
#   zsbcmd=<script>  command to run (path on the host fs), zsbarg=<arg>
# A writable 9p share tagged "out" is mounted at /mnt/out.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /run
mount -t tmpfs tmp /tmp
mount -t tmpfs tmp /mnt
mkdir -p /mnt/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /mnt/out
mount -t debugfs none /sys/kernel/debug 2>/dev/null
mount -t tracefs none /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 none /sys/fs/cgroup
echo "+memory" > /sys/fs/cgroup/cgroup.subtree_control
mkswap /dev/vda >/dev/null && swapon /dev/vda
echo Y > /sys/module/zswap/parameters/enabled
cd /tmp
log=/mnt/out/${zsbname:-guest}.log
{
	echo "kernel: $(uname -r) $(cat /proc/version)"
	"$zsbcmd" $zsbarg
	echo "=== dmesg"
	dmesg
} > "$log" 2>&1
sync
# exiting PID 1 panics; with panic=-1 and -no-reboot QEMU then exits
exit 0
