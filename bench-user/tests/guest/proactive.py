#!/usr/bin/env python3
"""Guest side of tests/series.rs: proactive writeback semantics on a patched kernel.

Prints one line per check: 'CHECK <name> <ok|FAIL> <detail>'. Arguments: the key the kernel
should accept ("source=zswap" or "zswap_writeback_only")."""
import ctypes, errno, os, signal, subprocess, sys, time

key = sys.argv[1]
subprocess.run(["mkswap", "/dev/vda"], check=True, stdout=subprocess.DEVNULL)
subprocess.run(["swapon", "/dev/vda"], check=True)
# Only proactive writeback should touch the entries: the dynamic shrinker would rotate and write
# back some of them during the push below.
with open("/sys/module/zswap/parameters/shrinker_enabled", "w") as fh:
    fh.write("N")
cg = "/sys/fs/cgroup/pw"
os.mkdir(cg)

def stat(name):
    for l in open(f"{cg}/memory.stat"):
        k, v = l.split()
        if k == name:
            return int(v)
    return None

def write(f, text):
    try:
        with open(f"{cg}/{f}", "w") as fh:
            fh.write(text)
        return 0
    except OSError as e:
        return e.errno

def check(name, ok, detail=""):
    print(f"CHECK {name} {'ok' if ok else 'FAIL'} {detail}", flush=True)

# Fill the memcg with half-compressible anonymous memory and push it into zswap.
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    with open(f"{cg}/cgroup.procs", "w") as fh:
        fh.write(str(os.getpid()))
    b = bytearray(os.urandom(2048) + bytes(2048)) * 24000   # ~94 MiB
    os.write(w, b"1")
    time.sleep(3600)
    os._exit(0)
os.read(r, 1)
write("memory.reclaim", "80M")
time.sleep(2)
zswapped = stat("zswapped") or 0
check("data_in_zswap", zswapped > 8 << 20, f"zswapped={zswapped}")

wb0, pb0 = stat("zswpwb"), stat("zswpwb_proactive_b")
check("stat_present", pb0 is not None, "memory.stat has zswpwb_proactive_b")
# Every entry was just stored, so it is referenced: a call gives the entries it meets their
# second chance (rotates them) and, as v5 does, gives up with EAGAIN after MAX_RECLAIM_RETRIES
# (16) batches that wrote nothing back. Later calls meet rotated entries and write them back.
# ~24000 entries, 16 x 64 rotated per call: writeback starts within ~24 calls.
rcs = []
for _ in range(40):
    rcs.append(write("memory.reclaim", f"2M {key}"))
    if rcs[-1] == 0:
        break
time.sleep(2.5)  # memory.stat is flushed every 2 s
wb1, pb1 = stat("zswpwb"), stat("zswpwb_proactive_b") or 0
names = [errno.errorcode.get(r, str(r)) if r else "0" for r in rcs]
check("second_chance_first", rcs[0] == errno.EAGAIN,
      f"first call on freshly stored (referenced) entries: {names[0]}")
check("budget_writes_back", rcs[-1] == 0 and wb1 > wb0 and pb1 >= (pb0 or 0) + (2 << 20),
      f"{len(rcs)} calls ({' '.join(names)}): zswpwb {wb0}->{wb1} proactive_b {pb0}->{pb1}")
check("proactive_le_total", pb1 <= (wb1 * 4096), f"proactive_b={pb1} zswpwb_bytes<={wb1 * 4096}")
rc = write("memory.reclaim", f"100G {key}")
check("eagain_when_short", rc == errno.EAGAIN, f"rc={errno.errorcode.get(rc, rc)}")
rc = write("memory.reclaim", f"2M {key} swappiness=10")
check("einval_with_swappiness", rc == errno.EINVAL, f"rc={errno.errorcode.get(rc, rc)}")
rc = write("memory.reclaim", f"2M swappiness=10 {key}")
check("einval_swappiness_first", rc == errno.EINVAL, f"rc={errno.errorcode.get(rc, rc)}")
# A signal during a long proactive writeback: libc write() directly (Python retries EINTR).
libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGALRM, lambda *_: None)
fd = os.open(f"{cg}/memory.reclaim", os.O_WRONLY)
req = f"100G {key}".encode()
signal.setitimer(signal.ITIMER_REAL, 0.2)
n = libc.write(fd, req, len(req))
rc = 0 if n >= 0 else ctypes.get_errno()
signal.setitimer(signal.ITIMER_REAL, 0)
os.close(fd)
check("eintr_on_signal", rc in (errno.EINTR, errno.EAGAIN), f"rc={errno.errorcode.get(rc, rc)} (EAGAIN: finished before the signal)")
write("memory.zswap.writeback", "0")
rc = write("memory.reclaim", f"2M {key}")
check("einval_writeback_disabled", rc == errno.EINVAL, f"rc={errno.errorcode.get(rc, rc)}")
write("memory.zswap.writeback", "1")
rc = write("memory.reclaim", "2M source=foo")
check("einval_unknown_source", rc == errno.EINVAL, f"rc={errno.errorcode.get(rc, rc)}")
other = "zswap_writeback_only" if key == "source=zswap" else "source=zswap"
rc = write("memory.reclaim", f"2M {other}")
check("other_key_rejected", rc == errno.EINVAL, f"{other}: rc={errno.errorcode.get(rc, rc)}")
os.kill(pid, 9)
os.waitpid(pid, 0)
