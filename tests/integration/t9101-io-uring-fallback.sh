#!/bin/bash
# -o io_uring where the kernel does not offer it (the fuse module's enable_uring is N; the old
# value comes back in the trap): the mount works through /dev/fuse, with one log line that
# says so and why, and no io_uring descriptor in the daemon.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
. "$ECFS_TESTS/t9100-io-uring.inc"
need_progs
uring_enable N

key=$T/key
vol=$T/vol
mnt=$T/mnt
log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096
mount_vol "$vol" "$mnt" "key_file=$key,io_uring,log_file=$log"
uring_wait_log "$log" "io_uring not used, serving through /dev/fuse: it is disabled ($URING_PARAM is N)"
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
