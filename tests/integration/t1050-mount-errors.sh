#!/bin/bash
# Mount refusals and their exit codes (wrong key 3, damaged 4, usage 2, already mounted 5),
# recovery after kill -9, -o ro, clean exit on SIGTERM/SIGINT in the foreground, mount -t and
# fstab mounting through mount.fuse3, old_key_file and passphrase_file.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

vol=$T/vol
mnt=$T/mnt
key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096
newkey "$T/wrongkey"

# not_mounted MNT: MNT is not a mount point.
not_mounted() { ! mountpoint -q "$1" || fail "$1 is mounted but should not be"; }

# try_mount WANT OPTS...: runs the daemon on $vol/$mnt, asserting the exit code WANT.
try_mount() {
  local want=$1
  shift
  register_mount "$mnt"
  expect_exit "$want" "$ECFS" "$vol" "$mnt" "$@"
}

note "a file to find again after each mount"
mount_vol "$vol" "$mnt" "key_file=$key"
echo "persistent data" >"$mnt/file"
umount_wait "$mnt"

note "wrong key: exit 3, nothing mounted"
try_mount 3 -o "key_file=$T/wrongkey"
grep -q -i -e "wrong key" -e "no key slot" "$T/stderr" || { cat "$T/stderr" >&2; fail "no 'wrong key' message"; }
not_mounted "$mnt"

note "missing key file: exit 1 or 2, the message names the file"
register_mount "$mnt"
rc=0
"$ECFS" "$vol" "$mnt" -o "key_file=$T/no-such-key" 2>"$T/stderr" || rc=$?
[ $rc -eq 1 ] || [ $rc -eq 2 ] || { cat "$T/stderr" >&2; fail "missing key file: exit $rc, expected 1 or 2"; }
stderr_has "$T/no-such-key"
not_mounted "$mnt"

note "no key option at all, no terminal: refused"
rc=0
setsid -w "$ECFS" "$vol" "$mnt" </dev/null 2>"$T/stderr" || rc=$?
[ $rc -ne 0 ] || fail "mounting without any key succeeded"
not_mounted "$mnt"

note "a bad -o option: exit 2"
try_mount 2 -o "key_file=$key,no_such_option_xyz"
not_mounted "$mnt"
note "a missing backing directory and a missing mount point: refused"
rc=0
"$ECFS" "$T/no-such-vol" "$mnt" -o "key_file=$key" 2>"$T/stderr" || rc=$?
[ $rc -ne 0 ] || fail "mounting a missing directory succeeded"
not_mounted "$mnt"
rc=0
"$ECFS" "$vol" "$T/no-such-mnt" -o "key_file=$key" 2>"$T/stderr" || rc=$?
[ $rc -ne 0 ] || fail "mounting on a missing mount point succeeded"

note "a directory that is not a volume: exit 4"
mkdir "$T/empty"
rc=0
"$ECFS" "$T/empty" "$mnt" -o "key_file=$key" 2>"$T/stderr" || rc=$?
[ $rc -eq 4 ] || [ $rc -eq 1 ] || { cat "$T/stderr" >&2; fail "not a volume: exit $rc, expected 4 (or 1)"; }
not_mounted "$mnt"

note "damaged volume (both header copies truncated): exit 4"
cp -a "$vol" "$T/damaged"
truncate -s 100 "$T/damaged/envcryptfs.header" "$T/damaged/envcryptfs.header.copy"
register_mount "$mnt"
expect_exit 4 "$ECFS" "$T/damaged" "$mnt" -o "key_file=$key"
not_mounted "$mnt"

note "only the primary header damaged: the copy is used"
cp -a "$vol" "$T/halfdamaged"
truncate -s 100 "$T/halfdamaged/envcryptfs.header"
mount_vol "$T/halfdamaged" "$mnt" "key_file=$key"
[ "$(cat "$mnt/file")" = "persistent data" ] || fail "volume opened from the header copy reads wrong"
umount_wait "$mnt"

note "a second mount of the same volume: exit 5 while the first is live"
mount_vol "$vol" "$mnt" "key_file=$key"
mnt2=$T/mnt2
register_mount "$mnt2"
expect_exit 5 "$ECFS" "$vol" "$mnt2" -o "key_file=$key"
not_mounted "$mnt2"
[ "$(cat "$mnt/file")" = "persistent data" ] || fail "the first mount broke after the refused second one"

note "kill -9 of the daemon, lazy unmount, then a new mount works"
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "cannot find the daemon process for $mnt"
echo "written before the kill" >"$mnt/before-kill"
sync
kill -9 "$pid"
for ((i = 0; i < HANG_SECS * 10; i++)); do proc_alive "$pid" || break; sleep 0.1; done
! proc_alive "$pid" || fail "the daemon survived kill -9"
fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" || fail "cannot unmount the dead mount"
not_mounted "$mnt"
mount_vol "$vol" "$mnt" "key_file=$key"
[ "$(cat "$mnt/file")" = "persistent data" ] &&
  [ "$(cat "$mnt/before-kill")" = "written before the kill" ] || fail "data lost across kill -9"
umount_wait "$mnt"

note "-o ro: reads work, writes fail with EROFS"
mount_vol "$vol" "$mnt" "key_file=$key,ro"
[ "$(cat "$mnt/file")" = "persistent data" ] || fail "read on a ro mount failed"
expect_exit 1 touch "$mnt/newfile"
stderr_has "Read-only file system"
expect_exit 1 dd if=/dev/zero of="$mnt/file" bs=1 count=1 conv=notrunc status=none
stderr_has "Read-only file system"
expect_exit 1 mkdir "$mnt/newdir"
stderr_has "Read-only file system"
expect_exit 1 rm "$mnt/file"
stderr_has "Read-only file system"
findmnt -n -o OPTIONS "$mnt" | tr , '\n' | in_output -x ro || fail "the mount is not flagged ro"
umount_wait "$mnt"
[ ! -e "$mnt/file" ] || fail "the unmounted mount point still shows the volume's files"

# fg_signal SIG [held]: a foreground daemon exits 0 on SIG and leaves nothing mounted; with
# "held", a file on the mount is still open when the signal arrives.
fg_signal() {
  local sig=$1 held=${2:-} pid
  note "foreground mode: SIG$sig unmounts and exits 0${held:+ (a file held open)}"
  register_mount "$mnt"
  # Background jobs of a script ignore SIGINT; give the daemon default dispositions.
  env --default-signal=INT,TERM "$ECFS" -f "$vol" "$mnt" -o "key_file=$key" >"$T/fg.log" 2>&1 &
  pid=$!
  wait_mounted "$mnt" "$pid"
  echo "foreground $sig" >"$mnt/fg-$sig"
  sync
  if [ -n "$held" ]; then
    exec 9>"$mnt/held-open"
    echo "held" >&9
  fi
  kill -"$sig" "$pid"
  wait_exit "$pid"
  [ -z "$held" ] || exec 9>&-
  [ "$WAIT_RC" -eq 0 ] || { cat "$T/fg.log" >&2; fail "after SIG$sig the foreground daemon exited $WAIT_RC, expected 0"; }
  not_mounted "$mnt"
}
fg_signal TERM
fg_signal INT
fg_signal TERM held
mount_vol "$vol" "$mnt" "key_file=$key"
[ "$(cat "$mnt/fg-TERM")" = "foreground TERM" ] && [ "$(cat "$mnt/fg-INT")" = "foreground INT" ] ||
  fail "data written in foreground mode did not persist"
umount_wait "$mnt"

# mount(8) drops PATH before it runs mount.fuse3, whose /bin/sh then finds "envcryptfs" only
# in the default PATH. So these run in a private mount namespace in which a directory holding
# envcryptfs is bind-mounted over /usr/local/sbin, as if installed; nothing outside changes.
note "mount -t fuse.envcryptfs and an fstab line (mount -T), through mount.fuse3"
sbin=
for d in /usr/local/sbin /usr/local/bin /usr/sbin; do [ -d "$d" ] && { sbin=$d; break; }; done
[ -n "$sbin" ] || fail "no directory of the default PATH to bind over"
mkdir "$T/sbin"
ln -s "$ECFS" "$T/sbin/envcryptfs"
printf '%s %s fuse.envcryptfs key_file=%s,noauto 0 0\n' "$vol" "$mnt" "$key" >"$T/fstab"
cat >"$T/nsmount.sh" <<'INNER'
# Runs in the private mount namespace: vol mnt key bindir target fstab
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
vol=$1 mnt=$2 key=$3
mount --bind "$4" "$5" || fail "cannot bind $4 over $5"
register_mount "$mnt"
mount -t fuse.envcryptfs "$vol" "$mnt" -o "key_file=$key" 2>"$T/stderr" ||
  { cat "$T/stderr" >&2; fail "mount -t fuse.envcryptfs $vol $mnt -o key_file=$key failed"; }
mountpoint -q "$mnt" || fail "mount -t fuse.envcryptfs: not mounted"
type=$(findmnt -n -o FSTYPE "$mnt")
[ "$type" = fuse.envcryptfs ] || fail "mount type is '$type', expected fuse.envcryptfs"
[ "$(cat "$mnt/file")" = "persistent data" ] || fail "mount -t: data does not read"
umount_wait "$mnt"
mount -T "$6" "$mnt" 2>"$T/stderr" || { cat "$T/stderr" >&2; fail "mount -T $6 $mnt failed"; }
mountpoint -q "$mnt" || fail "fstab mount: not mounted"
[ "$(cat "$mnt/file")" = "persistent data" ] || fail "fstab mount: data does not read"
echo "via fstab" >"$mnt/fstab-file"
umount_wait "$mnt"
INNER
unshare -m --propagation private bash "$T/nsmount.sh" "$vol" "$mnt" "$key" "$T/sbin" "$sbin" \
  "$T/fstab" || fail "mounting through mount(8) failed (above)"
not_mounted "$mnt"
mount_vol "$vol" "$mnt" "key_file=$key"
[ "$(cat "$mnt/fstab-file")" = "via fstab" ] || fail "data written through the fstab mount is lost"
umount_wait "$mnt"

note "old_key_file: a volume of key A opens with key_file=B,old_key_file=A"
make_vol "$T/vol-a" "$T/key-a" aes-256-xts 4096
newkey "$T/key-b"
mount_vol "$T/vol-a" "$mnt" "key_file=$T/key-b,old_key_file=$T/key-a"
echo old-key >"$mnt/f"
umount_wait "$mnt"
register_mount "$mnt"
expect_exit 3 "$ECFS" "$T/vol-a" "$mnt" -o "key_file=$T/key-b"
not_mounted "$mnt"
mount_vol "$T/vol-a" "$mnt" "key_file=$T/key-a"
[ "$(cat "$mnt/f")" = old-key ] || fail "old_key_file mount: data does not read back"
umount_wait "$mnt"

note "passphrase_file: right passphrase mounts, wrong one exits 3"
printf 'correct horse battery staple\n' >"$T/pass"
chmod 600 "$T/pass"
printf 'wrong horse\n' >"$T/badpass"
chmod 600 "$T/badpass"
chmod 600 "$T/pass" "$T/badpass"
"$MKFS" -q "${FAST_ARGON[@]}" --passphrase-file "$T/pass" "$T/vol-p" >/dev/null ||
  fail "mkfs with a passphrase file failed"
register_mount "$mnt"
expect_exit 3 "$ECFS" "$T/vol-p" "$mnt" -o "passphrase_file=$T/badpass"
not_mounted "$mnt"
mount_vol "$T/vol-p" "$mnt" "passphrase_file=$T/pass"
echo pp >"$mnt/f"
[ "$(cat "$mnt/f")" = pp ] || fail "passphrase mount: data does not read back"
umount_wait "$mnt"
