#!/bin/bash
# SIGTERM with files open and written data the kernel still holds (the writeback cache, then
# without it): the daemon flushes, unmounts lazily (the mount point leaves the mount table at
# once although a file is open), exits 0; the program holding the file gets ENOTCONN
# afterwards; every byte written before the signal is in the volume, and fsck -n is clean.
# With the writeback cache each write takes the daemon 600 ms (in test builds; WRITE_DELAY_MS
# changes it), as on a slow disk, one at a time (a file's writes hold its io lock), and
# the writer leaves 12 separate pages dirty: syncfs(2) on FUSE returns once their writes are
# queued, and the daemon must serve them all before it ends, although none is answered for
# longer than half a second.
# This is the test of the kernel's count of unanswered requests (fusectl), t7051 of its
# absence: where fusectl is not mounted, the test mounts it in a mount namespace of its own.
if ! mountpoint -q /sys/fs/fuse/connections && unshare -m true 2>/dev/null; then
  exec unshare -m --propagation private bash -c '
    mount -t fusectl none /sys/fs/fuse/connections && exec bash "$0"' "$0"
fi
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v python3 >/dev/null || skip "python3 not installed"

key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096

# holder.py FILE DIR READY GO OUT: writes 3 MB, some odd-sized tail and 12 pages apart into
# FILE without fsync or close, holds DIR open too, says READY, waits for GO, then tries one
# more write.
cat >"$T/holder.py" <<'PY'
import os, sys, time
path, d, ready, go, out = sys.argv[1:6]
f = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.write(f, bytes(range(256)) * 12288)
os.write(f, b"tail" * 1001)
for i in range(12):
    os.pwrite(f, b"page %03d" % i, (4 << 20) + i * 8192)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
try:
    os.write(f, b"late")
    os.fsync(f)
    res = "late write stored"
except OSError as e:
    res = "late write: errno %d" % e.errno
open(out, "w").write(res + "\n")
PY
python3 -c '
import os, sys
f = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.write(f, bytes(range(256)) * 12288 + b"tail" * 1001)
for i in range(12):
    os.pwrite(f, b"page %03d" % i, (4 << 20) + i * 8192)' "$T/expected"

for opts in writeback_cache no_writeback_cache; do
  note "SIGTERM with $opts, a file open with unflushed data and a directory open"
  rm -f "$T/ready" "$T/go" "$T/late"
  delay=0
  [ $opts = writeback_cache ] && delay=${WRITE_DELAY_MS:-600}
  ECFS_FAULT_WRITE_DELAY_MS=$delay mount_fg "$vol" "$mnt" "key_file=$key,$opts" "$T/daemon.log"
  mkdir -p "$mnt/d"
  python3 "$T/holder.py" "$mnt/d/f-$opts" "$mnt/d" "$T/ready" "$T/go" "$T/late" &
  holder=$!
  for ((i = 0; i < HANG_SECS * 10; i++)); do [ -e "$T/ready" ] && break; sleep 0.1; done
  [ -e "$T/ready" ] || fail "the writer did not get going"
  kill -TERM "$DAEMON"
  wait_exit "$DAEMON"
  [ "$WAIT_RC" -eq 0 ] || { cat "$T/daemon.log" >&2; fail "the daemon exited $WAIT_RC on SIGTERM"; }
  ! is_mounted "$mnt" || fail "$mnt is still in the mount table with a file open"
  touch "$T/go"
  wait_exit "$holder"
  # ENOTCONN, or ECONNABORTED (103) for a request the kernel had sent when the daemon went.
  case $(cat "$T/late") in "late write: errno 107" | "late write: errno 103") ;;
    *) fail "after the unmount the writer got '$(cat "$T/late")', not ENOTCONN (107)" ;;
  esac
  log_clean "$T/daemon.log"
  clean_after "$vol" --key-file "$key"
  mount_vol "$vol" "$mnt" "key_file=$key"
  cmp "$T/expected" "$mnt/d/f-$opts" || fail "data written before SIGTERM ($opts) was lost"
  umount_wait "$mnt"
done

note "a second SIGTERM does not wait for the flush; the volume stays consistent"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/daemon.log"
kill -TERM "$DAEMON"
kill -TERM "$DAEMON" 2>/dev/null || true
wait_exit "$DAEMON"
[ "$WAIT_RC" -eq 0 ] || fail "the daemon exited $WAIT_RC on two SIGTERMs"
! is_mounted "$mnt" || fail "$mnt is still mounted"
clean_after "$vol" --key-file "$key"
