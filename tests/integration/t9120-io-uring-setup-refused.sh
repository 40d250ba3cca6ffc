#!/bin/bash
# -o io_uring where the kernel offers the transport but the daemon cannot make a ring
# (io_uring_setup(2) refused, as a container's seccomp profile or the kernel.io_uring_disabled
# sysctl do; tests/tools/nouring): the daemon must not accept the transport in INIT, since the
# kernel then holds every request until each CPU queue has a ring entry. The mount serves
# through /dev/fuse, one log line says why, and nothing hangs.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
. "$ECFS_TESTS/t9100-io-uring.inc"
need_progs
NOURING=$(ecfs_tool nouring)
uring_enable Y

key=$T/key
vol=$T/vol
mnt=$T/mnt
log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096
register_mount "$mnt"
"$NOURING" "$ECFS" "$vol" "$mnt" -o "key_file=$key,io_uring,log_file=$log"
# Not mountpoint(1): its stat would wait like any request.
is_mounted "$mnt" || fail "$mnt is not mounted"
uring_wait_log "$log" "io_uring not used, serving through /dev/fuse: cannot set up a ring"

# A kernel waiting for ring entries that never come holds these for ever.
head -c 200000 /dev/urandom >"$T/data"
rc=0
timeout "$HANG_SECS" cp "$T/data" "$mnt/file" || rc=$?
if [ $rc -ne 0 ]; then
  fuse_abort "$mnt"
  [ $rc -eq 124 ] && fail "a write through the mount hung: the kernel waits for ring entries"
  fail "a write through the mount failed ($rc)"
fi
timeout "$HANG_SECS" cmp "$T/data" "$mnt/file" || { fuse_abort "$mnt"; fail "read back differs or hung"; }
[ "$(grep -c io_uring "$log")" -eq 1 ] || { cat "$log" >&2; fail "not one io_uring line"; }
pid=$(daemon_pid "$mnt")
[ -z "$(find /proc/"$pid"/fd -lname 'anon_inode:\[io_uring\]')" ] ||
  fail "the daemon holds an io_uring descriptor though it serves /dev/fuse"
umount_wait "$mnt"
