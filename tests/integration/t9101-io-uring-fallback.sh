#!/bin/bash
# -o io_uring where the kernel does not offer it (the fuse module's enable_uring is N; the old
# value comes back in the trap): the mount works through /dev/fuse, with one log line that
# says so and why, and no io_uring descriptor in the daemon.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
param=/sys/module/fuse/parameters/enable_uring
[ -w "$param" ] || skip "no writable $param: this kernel has no FUSE over io_uring"
old=$(cat "$param")
restore() {
  local rc=$?
  echo "$old" >"$param" 2>/dev/null || true
  (exit $rc)
  finish_test
}
trap restore EXIT
need_progs
echo N >"$param"

key=$T/key
vol=$T/vol
mnt=$T/mnt
log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096
mount_vol "$vol" "$mnt" "key_file=$key,io_uring,log_file=$log"
grep -q "io_uring not used, serving through /dev/fuse: it is disabled ($param is N)" "$log" ||
  { cat "$log" >&2; fail "no log line naming why io_uring is not used"; }
[ "$(grep -c io_uring "$log")" -eq 1 ] || { cat "$log" >&2; fail "more than one io_uring line"; }
pid=$(daemon_pid "$mnt")
[ -z "$(find /proc/"$pid"/fd -lname 'anon_inode:\[io_uring\]')" ] ||
  fail "the daemon holds an io_uring descriptor though it serves /dev/fuse"
head -c 200000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/file"
mkdir "$mnt/dir"
mv "$mnt/file" "$mnt/dir/file"
remount "$vol" "$mnt" "key_file=$key,io_uring,log_file=$log"
cmp "$T/data" "$mnt/dir/file" || fail "the data differs after a remount"
umount_wait "$mnt"
