#!/bin/bash
# -o io_uring together with the daemon's other ways of running (with the fuse module's
# enable_uring set; the old value comes back in the trap): SIGTERM with the write-back cache
# flushes what the kernel holds through the rings before the unmount (nothing lost); -s
# (single-threaded /dev/fuse loop) and -o clone_fd serve through the rings; a descriptor
# passed as /dev/fd/N (the daemon without capabilities) serves through the rings too.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
. "$ECFS_TESTS/t9100-io-uring.inc"
need_progs
command -v python3 >/dev/null || skip "python3 not installed"
uring_enable Y

key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
head -c 3000000 /dev/urandom >"$T/data"

note "SIGTERM with the write-back cache: cached writes reach the volume"
mount_fg "$vol" "$mnt" "key_file=$key,io_uring" "$T/term.log"
uring_wait_log "$T/term.log" "serving through io_uring"
for i in 1 2 3; do cp "$T/data" "$mnt/f$i"; done
kill -TERM "$DAEMON"
wait_exit "$DAEMON" 60
[ "$WAIT_RC" -eq 0 ] || { cat "$T/term.log" >&2; fail "the daemon exited $WAIT_RC on SIGTERM"; }
! is_mounted "$mnt" || fail "SIGTERM left $mnt mounted"
mount_vol "$vol" "$mnt" "key_file=$key"
for i in 1 2 3; do cmp "$T/data" "$mnt/f$i" || fail "f$i lost data written before SIGTERM"; done
umount_wait "$mnt"

for mode in -s clone_fd; do
  note "$mode: served through the rings"
  if [ "$mode" = -s ]; then extra=(-s) opts="key_file=$key,io_uring"; else extra=() opts="key_file=$key,io_uring,clone_fd"; fi
  register_mount "$mnt"
  "$ECFS" "${extra[@]}" "$vol" "$mnt" -o "$opts,log_file=$T/$mode.log"
  uring_wait_log "$T/$mode.log" "serving through io_uring"
  cp "$T/data" "$mnt/m$mode"
  cmp "$T/data" "$mnt/m$mode" || fail "$mode: read back differs"
  umount_wait "$mnt"
done

note "a descriptor passed as /dev/fd/N"
cat >"$T/parent.py" <<'PY'
import ctypes, os, sys
backing, mnt = sys.argv[1:3]
cmd = sys.argv[3:]
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/dev/fuse", os.O_RDWR)
os.set_inheritable(fd, True)
opts = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions" % fd
if libc.mount(backing.encode(), mnt.encode(), b"fuse.envcryptfs", 6, opts.encode()) != 0:
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
os.execvp(cmd[0], [a.replace("{fd}", str(fd)) for a in cmd])
PY
register_mount "$mnt"
python3 "$T/parent.py" "$vol" "$mnt" "$ECFS" "$vol" "/dev/fd/{fd}" -f -o "key_file=$key,io_uring" \
  >"$T/fd.log" 2>&1 &
PARENT=$!
# The daemon is no process of this shell's: end it, and unmount, when this fails.
(uring_wait_log "$T/fd.log" "serving through io_uring") ||
  { kill -TERM "$PARENT"; wait_exit "$PARENT"; umount "$mnt"; fail "/dev/fd/N: not through io_uring"; }
timeout "$HANG_SECS" cp "$T/data" "$mnt/fd" || { fuse_abort "$mnt"; fail "a write through /dev/fd/N hung or failed"; }
cmp "$T/data" "$mnt/fd" || fail "/dev/fd/N: read back differs"
kill -TERM "$PARENT"
wait_exit "$PARENT"
[ "$WAIT_RC" -eq 0 ] || { cat "$T/fd.log" >&2; fail "the /dev/fd/N daemon exited $WAIT_RC on SIGTERM"; }
umount "$mnt" || fail "cannot unmount the /dev/fd/N mount"
mount_vol "$vol" "$mnt" "key_file=$key"
cmp "$T/data" "$mnt/fd" || fail "/dev/fd/N: the file differs after a remount"
umount_wait "$mnt"
