#!/bin/bash
# old_key_file is read only when key_file does not open the volume: once a key rotation is
# over and the old key file is deleted, mounts that still name it go on; when the new key
# does not open the volume, the old one is read and used, and a missing old file then says so.
# fsck.envcryptfs --old-key-file the same.
. "$ECFS_TESTS/lib.sh"
need_progs
sanitizer_logs
trap finish_test EXIT

vol=$T/vol mnt=$T/mnt
make_vol "$vol" "$T/new.key" aes-256-gcm 4096
newkey "$T/other.key"
register_mount "$mnt"

note "key_file opens: a missing old_key_file is never read"
mount_vol "$vol" "$mnt" "key_file=$T/new.key,old_key_file=$T/gone.key"
echo data >"$mnt/f"
umount_wait "$mnt"
note "an unreadable old_key_file (a directory) is not read either"
mkdir "$T/dir.key"
mount_vol "$vol" "$mnt" "key_file=$T/new.key,old_key_file=$T/dir.key"
[ "$(cat "$mnt/f")" = data ] || fail "data does not read back"
umount_wait "$mnt"

note "key_file does not open: the old key file is read and opens"
mount_vol "$vol" "$mnt" "key_file=$T/other.key,old_key_file=$T/new.key"
[ "$(cat "$mnt/f")" = data ] || fail "data does not read back through the old key"
umount_wait "$mnt"

note "key_file does not open and the old key file is missing: exit 1, naming it"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "key_file=$T/other.key,old_key_file=$T/gone.key" </dev/null
stderr_has "$T/gone.key"
! mountpoint -q "$mnt" || fail "mounted with neither key"

note "fsck.envcryptfs alike: a missing --old-key-file is read only when needed"
expect_exit 0 "$FSCK" -n --key-file "$T/new.key" --old-key-file "$T/gone.key" "$vol"
expect_exit 0 "$FSCK" -n --key-file "$T/other.key" --old-key-file "$T/new.key" "$vol"
expect_exit 8 "$FSCK" -n --key-file "$T/other.key" --old-key-file "$T/gone.key" "$vol"
stderr_has "$T/gone.key"

note "neither key opens: wrong key, exit 3"
newkey "$T/third.key"
expect_exit 3 "$ECFS" "$vol" "$mnt" -o "key_file=$T/other.key,old_key_file=$T/third.key" </dev/null
stderr_has "wrong key"
note "all old_key_file checks passed"
