#!/bin/bash
# Times a program sets on a file it has just written stay set: tar and rsync set them after
# close(2), cp -p before it, and the daemon records the file's size (and a sparse file's
# holes map) when the kernel releases the file, after close(2) has returned, and at fsync.
# Checked after a remount, where stat reads the blobs' times.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

key=$T/key vol=$T/vol mnt=$T/mnt log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096 --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$log"

note "tar: 300 files of several sizes, each with a time of its own"
mkdir -p "$T/src/sub"
sizes=(0 1 4095 4096 4097 70000)
for i in $(seq 300); do
  f=$T/src/sub/f$i
  head -c "${sizes[i % 6]}" /dev/urandom >"$f"
  touch -m -d "@$((1000000000 + i * 1000))" "$f"
done
dd if=/dev/zero of="$T/src/sparse" bs=1 count=1 seek=$((1024 * 1024)) status=none
touch -m -d @1100000000 "$T/src/sparse"
tar -C "$T/src" -cf "$T/src.tar" . || fail "cannot make the archive"
tar -C "$mnt" -xf "$T/src.tar" || fail "tar -x into the mount failed"

note "python: utime after close, futimens before close, fsync after utime, sparse"
python3 - "$mnt" <<'PY' || fail "setting times through the mount failed"
import os, sys
d = sys.argv[1]
ns = lambda s, n: s * 10**9 + n
for i in range(50):
    p = f"{d}/after-close-{i}"
    with open(p, "wb") as f:
        f.write(os.urandom(5000 + i))
    os.utime(p, ns=(ns(900000000, i), ns(1200000000, 987654321 - i)))
for i in range(20):
    p = f"{d}/before-close-{i}"
    with open(p, "wb") as f:
        f.write(os.urandom(9000))
        f.flush()
        os.utime(f.fileno(), ns=(ns(900000000, i), ns(1200000001, i)))
p = f"{d}/fsynced"
with open(p, "wb") as f:
    f.write(os.urandom(10000))
os.utime(p, ns=(ns(900000000, 7), ns(1200000002, 7)))
with open(p, "r+b") as f:
    os.fsync(f.fileno())
p = f"{d}/sparse-py"
with open(p, "wb") as f:
    f.seek(3 * 1024 * 1024)
    f.write(b"end")
os.utime(p, ns=(ns(900000000, 8), ns(1200000003, 8)))
PY

umount_fg "$mnt"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"

note "after a remount every time is the one set"
lost=0
for i in $(seq 300); do
  want=$((1000000000 + i * 1000))
  got=$(stat -c %Y "$mnt/sub/f$i")
  [ "$got" = "$want" ] || { lost=$((lost + 1)); echo "sub/f$i: mtime $got, tar set $want" >&2; }
  cmp -s "$T/src/sub/f$i" "$mnt/sub/f$i" || fail "sub/f$i does not read what tar wrote"
done
[ "$lost" -eq 0 ] || fail "$lost of 300 files extracted by tar lost their mtime"
[ "$(stat -c %Y "$mnt/sparse")" = 1100000000 ] || fail "the sparse file tar made lost its mtime"
python3 - "$mnt" <<'PY' || fail "times set through the mount did not last"
import os, sys
d = sys.argv[1]
ns = lambda s, n: s * 10**9 + n
bad = []
def want(name, a, m):
    st = os.stat(f"{d}/{name}")
    if st.st_mtime_ns != m or (a is not None and st.st_atime_ns != a):
        bad.append(f"{name}: atime {st.st_atime_ns} mtime {st.st_mtime_ns}, set {a} {m}")
for i in range(50):
    want(f"after-close-{i}", ns(900000000, i), ns(1200000000, 987654321 - i))
for i in range(20):
    want(f"before-close-{i}", ns(900000000, i), ns(1200000001, i))
# Its reopen read the header, which counts as an access (relatime).
want("fsynced", None, ns(1200000002, 7))
want("sparse-py", ns(900000000, 8), ns(1200000003, 8))
if bad:
    sys.exit("\n".join(bad[:10]) + f"\n{len(bad)} files lost times set on them")
PY
umount_fg "$mnt"
log_clean "$log"
