#!/bin/bash
# A key file read once at mount and deleted right after (kept on a RAM disk that is wiped, as
# some storage systems do): the mount keeps working, new files included, through a KMS-less
# daemon's whole life; a remount, a rotation and a slot change then say which file they need
# and exit with the documented code (1: the file cannot be read), never hang or crash.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

ram=$T/ram
mkdir -p "$ram"
mount -t tmpfs -o size=1m,mode=0700 none "$ram" || skip "cannot mount a tmpfs"
trap 'rc=$?; umount "$ram" 2>/dev/null || true; (exit $rc); finish_test' EXIT

key=$ram/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
head -c 200000 /dev/urandom >"$T/data"

note "the key file goes right after the mount; the mount goes on"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/daemon.log"
rm -f "$key"
umount "$ram"
cp "$T/data" "$mnt/a"
mkdir -p "$mnt/d/e" && for i in $(seq 1 50); do echo "$i" >"$mnt/d/e/f$i"; done
sync
echo 3 >/proc/sys/vm/drop_caches # the next reads come from the volume, decrypted anew
cmp "$T/data" "$mnt/a" || fail "a file written after the key file went reads back wrong"
[ "$(cat "$mnt/d/e/f50")" = 50 ] || fail "small files written after the key file went are wrong"
mv "$mnt/d/e" "$mnt/moved" && ln "$mnt/a" "$mnt/a-link" && ln -s a "$mnt/sym"
cmp "$T/data" "$mnt/a-link" || fail "a hard link made after the key file went reads back wrong"
"$CTL" status "$mnt" --json --timeout 30 >/dev/null || fail "the status probe fails once the key file is gone"

note "what needs the key again says which file it needs"
mkdir "$T/other"
expect_exit 1 "$ECFS" "$vol" "$T/other" -o "key_file=$key"
stderr_has "$key"
stderr_has "No such file or directory"
[ "$(wc -l <"$T/stderr")" -le 2 ] || { cat "$T/stderr" >&2; fail "more than a line or two of error"; }
expect_exit 1 "$CTL" rotate "$vol" --unlock-key-file "$key" --key-file "$T/new"
stderr_has "$key"
expect_exit 1 "$CTL" slot add "$vol" --unlock-key-file "$key" --key-file "$T/new"
stderr_has "$key"
expect_exit 8 "$FSCK" -n --key-file "$key" "$vol"
stderr_has "$key"

umount_fg "$mnt"
log_clean "$T/daemon.log"
