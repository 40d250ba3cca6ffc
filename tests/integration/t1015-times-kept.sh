#!/bin/bash
# Times a program sets on a file stay set. tar sets them after close(2), cp -p before it, and
# the daemon records the file's size (and a sparse file's holes map) when the kernel releases
# the file, after close(2) has returned, and at fsync; rsync renames a file after setting
# them, cp -a and tar make hard links after; format 2 rewrites a file's header when it is
# renamed or first linked, and a directory's ID file when the directory is renamed. Checked
# after a remount, where stat reads the backing objects' times, with and without the
# write-back cache (without it the kernel sends no times of its own).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

key=$T/key vol=$T/vol mnt=$T/mnt log=$T/daemon.log

mkdir -p "$T/src/sub"
sizes=(0 1 4095 4096 4097 70000)
for i in $(seq 300); do
  f=$T/src/sub/f$i
  head -c "${sizes[i % 6]}" /dev/urandom >"$f"
  touch -m -d "@$((1000000000 + i * 1000))" "$f"
done
ln "$T/src/sub/f7" "$T/src/sub/f7-link"
dd if=/dev/zero of="$T/src/sparse" bs=1 count=1 seek=$((1024 * 1024)) status=none
touch -m -d @1100000000 "$T/src/sparse" "$T/src/sub"
tar -C "$T/src" -cf "$T/src.tar" . || fail "cannot make the archive"

# write_times: sets times on files and directories through the mount in every way above.
write_times() {
  tar -C "$mnt" -xf "$T/src.tar" || fail "tar -x into the mount failed"
  if command -v rsync >/dev/null; then
    rsync -a "$T/src/sub/" "$mnt/rsynced/" || fail "rsync -a into the mount failed"
  fi
  python3 - "$mnt" <<'PY' || fail "setting times through the mount failed"
import ctypes, os, sys
d = sys.argv[1]
ns = lambda s, n: s * 10**9 + n
def new(p, size=5000):
    with open(p, "wb") as f:
        f.write(os.urandom(size))
for i in range(50):
    p = f"{d}/after-close-{i}"
    new(p, 5000 + i)
    os.utime(p, ns=(ns(900000000, i), ns(1200000000, 987654321 - i)))
for i in range(20):
    p = f"{d}/before-close-{i}"
    with open(p, "wb") as f:
        f.write(os.urandom(9000))
        f.flush()
        os.utime(f.fileno(), ns=(ns(900000000, i), ns(1200000001, i)))
p = f"{d}/fsynced"
new(p, 10000)
os.utime(p, ns=(ns(900000000, 7), ns(1200000002, 7)))
with open(p, "r+b") as f:
    os.fsync(f.fileno())
p = f"{d}/sparse-py"
with open(p, "wb") as f:
    f.seek(3 * 1024 * 1024)
    f.write(b"end")
os.utime(p, ns=(ns(900000000, 8), ns(1200000003, 8)))
# Renames (in a directory, across directories, an exchange), a first hard link, and
# directories renamed, each after its times were set.
os.mkdir(f"{d}/r1")
os.mkdir(f"{d}/r2")
for n in ("same", "across", "x1", "x2", "linked"):
    new(f"{d}/r1/{n}")
    os.utime(f"{d}/r1/{n}", ns=(ns(900000000, 9), ns(1200000004, 9)))
os.rename(f"{d}/r1/same", f"{d}/r1/same-renamed")
os.rename(f"{d}/r1/across", f"{d}/r2/across")
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, f"{d}/r1/x1".encode(), -100, f"{d}/r1/x2".encode(), 2) != 0:
    sys.exit("RENAME_EXCHANGE failed: " + os.strerror(ctypes.get_errno()))
os.link(f"{d}/r1/linked", f"{d}/r2/linked-too")
for n in ("dir-same", "dir-across"):
    os.mkdir(f"{d}/r1/{n}")
    new(f"{d}/r1/{n}/inside")
    os.utime(f"{d}/r1/{n}", ns=(ns(900000000, 10), ns(1200000005, 10)))
os.rename(f"{d}/r1/dir-same", f"{d}/r1/dir-same-renamed")
os.rename(f"{d}/r1/dir-across", f"{d}/r2/dir-across")
PY
}

# check_times: after a remount, every time is the one set.
check_times() {
  local i want got lost=0
  for i in $(seq 300); do
    want=$((1000000000 + i * 1000))
    got=$(stat -c %Y "$mnt/sub/f$i")
    [ "$got" = "$want" ] || { lost=$((lost + 1)); echo "sub/f$i: mtime $got, tar set $want" >&2; }
    cmp -s "$T/src/sub/f$i" "$mnt/sub/f$i" || fail "sub/f$i does not read what tar wrote"
  done
  [ "$lost" -eq 0 ] || fail "$1: $lost of 300 files extracted by tar lost their mtime"
  [ "$(stat -c %Y "$mnt/sub/f7-link")" = 1000007000 ] || fail "$1: a hard link tar made lost its mtime"
  [ "$(stat -c %Y "$mnt/sparse")" = 1100000000 ] || fail "$1: the sparse file tar made lost its mtime"
  [ "$(stat -c %Y "$mnt/sub")" = 1100000000 ] || fail "$1: the directory tar made lost its mtime"
  if command -v rsync >/dev/null; then
    [ -z "$(rsync -ai --dry-run "$T/src/sub/" "$mnt/rsynced/")" ] ||
      { rsync -ai --dry-run "$T/src/sub/" "$mnt/rsynced/" | head -n 5 >&2; fail "$1: rsync would copy again"; }
  else
    note "rsync not installed: its part is not checked"
  fi
  python3 - "$mnt" "$1" <<'PY' || fail "$1: times set through the mount did not last"
import os, sys
d, mode = sys.argv[1], sys.argv[2]
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
for n in ("r1/same-renamed", "r2/across", "r1/x1", "r1/x2", "r1/linked", "r2/linked-too"):
    want(n, ns(900000000, 9), ns(1200000004, 9))
for n in ("r1/dir-same-renamed", "r2/dir-across"):
    want(n, None, ns(1200000005, 10))
if bad:
    sys.exit("\n".join(bad[:10]) + f"\n{mode}: {len(bad)} objects lost times set on them")
PY
}

for opts in "" ",no_writeback_cache"; do
  mode=${opts:-,write-back cache}
  note "${mode#,}: tar, rsync, utime after close, futimens before close, fsync, renames, links"
  rm -rf "$vol"
  make_vol "$vol" "$key" aes-256-gcm 4096 --format-version 2
  mount_fg "$vol" "$mnt" "key_file=$key$opts" "$log"
  write_times
  umount_fg "$mnt"
  mount_fg "$vol" "$mnt" "key_file=$key$opts" "$log"
  check_times "${mode#,}"
  umount_fg "$mnt"
  log_clean "$log"
done
