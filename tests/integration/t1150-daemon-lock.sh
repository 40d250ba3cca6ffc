#!/bin/bash
# The volume lock holds: a second daemon on a mounted volume is refused (exit 5), a read-write
# mount that cannot take envcryptfs.lock (a directory in its place, a read-only backing) is
# refused with a message that says why, and a read-only backing mounts with -o ro.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
need_progs

vol=$T/vol
mnt=$T/mnt
mnt2=$T/mnt2
ro=$T/ro
key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096

# The read-only bind mount must go before the scratch directory is removed, and after the
# FUSE mounts on top of it.
on_exit() {
  local rc=$?
  unmount_registered
  if grep -qF " $ro " /proc/self/mounts; then umount -l "$ro" || true; fi
  (exit $rc)
  finish_test
}
trap on_exit EXIT

not_mounted() { ! mountpoint -q "$1" || fail "$1 is mounted but should not be"; }

note "two daemons on one volume: the second is refused with exit 5 and the holder's pid"
mount_vol "$vol" "$mnt" "key_file=$key"
pid=$(daemon_pid "$mnt")
register_mount "$mnt2"
expect_exit 5 "$ECFS" "$vol" "$mnt2" -o "key_file=$key"
stderr_has "already mounted"
[ -z "$pid" ] || stderr_has "pid $pid"
not_mounted "$mnt2"
note "... also in the foreground and read-only"
expect_exit 5 "$ECFS" -f "$vol" "$mnt2" -o "key_file=$key"
expect_exit 5 "$ECFS" "$vol" "$mnt2" -o "key_file=$key,ro"
not_mounted "$mnt2"
note "... also from another mount namespace (another node's view of shared storage)"
expect_exit 5 unshare -m --propagation private "$ECFS" -f "$vol" "$mnt2" -o "key_file=$key"
stderr_has "already mounted"
echo data >"$mnt/file"
umount_wait "$mnt"

note "a directory in place of the lock file: read-write and read-only mounts are refused"
rm -f "$vol/envcryptfs.lock"
mkdir "$vol/envcryptfs.lock"
register_mount "$mnt"
expect_exit 5 "$ECFS" "$vol" "$mnt" -o "key_file=$key"
stderr_has "envcryptfs.lock"
stderr_has "Is a directory"
not_mounted "$mnt"
expect_exit 5 "$ECFS" "$vol" "$mnt" -o "key_file=$key,ro"
stderr_has "not a regular file"
not_mounted "$mnt"
rmdir "$vol/envcryptfs.lock"
note "... the directory gone, a read-write mount makes the lock file again"
mount_vol "$vol" "$mnt" "key_file=$key"
umount_wait "$mnt"

note "a read-only backing (a read-only bind mount): read-write is refused, -o ro mounts"
mkdir -p "$ro"
mount --bind "$vol" "$ro"
mount -o remount,ro,bind "$ro"
touch "$ro/x" 2>/dev/null && fail "the bind mount is writable"
expect_exit 5 "$ECFS" "$ro" "$mnt" -o "key_file=$key"
stderr_has "read-only file system"
stderr_has "-o ro"
not_mounted "$mnt"
note "... -o ro with the lock file there (left by earlier mounts): mounts and takes the lock"
[ -f "$vol/envcryptfs.lock" ] || fail "no lock file left by the earlier mounts"
mount_vol "$ro" "$mnt" "key_file=$key,ro"
[ "$(cat "$mnt/file")" = data ] || fail "the read-only mount does not show the file"
register_mount "$mnt2"
expect_exit 5 "$ECFS" "$vol" "$mnt2" -o "key_file=$key"
stderr_has "already mounted"
umount_wait "$mnt"
note "... -o ro with no lock file at all: mounts with a warning"
umount "$ro"
rm -f "$vol/envcryptfs.lock"
mount --bind "$vol" "$ro"
mount -o remount,ro,bind "$ro"
register_mount "$mnt"
"$ECFS" "$ro" "$mnt" -o "key_file=$key,ro" 2>"$T/stderr" || fail "read-only mount failed: $(cat "$T/stderr")"
stderr_has "without it"
[ "$(cat "$mnt/file")" = data ] || fail "the read-only mount does not show the file"
umount_wait "$mnt"
umount "$ro"

note "the lock file is back: read-write mounts work again"
mount_vol "$vol" "$mnt" "key_file=$key"
[ "$(cat "$mnt/file")" = data ] || fail "the file is gone"
umount_wait "$mnt"
