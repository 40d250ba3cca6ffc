#!/bin/bash
# header-backup and header-restore: a new 0600 file of the header in use; a restore brings
# back the slots of the backup, refuses another volume's backup, and with --force revives a
# volume whose two header copies are both damaged.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
need_progs

vol=$T/vol k0=$T/k0 k1=$T/k1 bk=$T/vol.header mnt=$T/mnt
make_vol "$vol" "$k0" aes-256-gcm 4096
newkey "$k1"
mount_vol "$vol" "$mnt" "key_file=$k0"
head -c 30000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
umount_wait "$mnt"

note "header-backup: the header in use, in a new 0600 file, never an overwrite"
expect_exit 0 "$CTL" header-backup "$vol" "$bk"
cmp -s "$bk" "$vol/envcryptfs.header" || fail "the backup is not the header"
[ "$(stat -c %a "$bk")" = 600 ] || fail "the backup has mode $(stat -c %a "$bk")"
expect_exit 1 "$CTL" header-backup "$vol" "$bk"
stderr_has "never overwritten"

note "restore after a slot add: the added slot is gone"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$k0" --key-file "$k1"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k1"
expect_exit 0 "$CTL" header-restore "$vol" "$bk"
stderr_has "brings back the key slots it had"
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file "$k1"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k0"
cmp -s "$bk" "$vol/envcryptfs.header" && cmp -s "$bk" "$vol/envcryptfs.header.copy" ||
  fail "the restore did not write both copies"

note "another volume's backup is refused, --force or not; so is a file that is no header"
make_vol "$T/other" "$T/kother" aes-256-gcm 4096
"$CTL" header-backup "$T/other" "$T/other.header" >/dev/null || fail "backup of other"
cp "$vol/envcryptfs.header" "$T/hdr.before"
expect_exit 1 "$CTL" header-restore "$vol" "$T/other.header"
stderr_has "belongs to another volume"
expect_exit 1 "$CTL" header-restore "$vol" "$T/other.header" --force
cmp -s "$T/hdr.before" "$vol/envcryptfs.header" || fail "a refused restore wrote the header"
head -c 3000 /dev/urandom >"$T/junk"
expect_exit 4 "$CTL" header-restore "$vol" "$T/junk"
stderr_has "not a valid header"
expect_exit 1 "$CTL" header-restore "$vol" "$T/missing"

note "a damaged primary: the backup comes from the copy"
printf 'x' >>"$vol/envcryptfs.header"
expect_exit 0 "$CTL" header-backup "$vol" "$T/from-copy.header"
stderr_has "using the copy"
cmp -s "$T/from-copy.header" "$vol/envcryptfs.header.copy" || fail "backup of the copy"

note "both copies damaged: restore needs --force, then the volume opens and mounts"
printf 'x' >>"$vol/envcryptfs.header.copy"
expect_exit 4 "$CTL" check-key "$vol" --unlock-key-file "$k0"
expect_exit 4 "$CTL" header-restore "$vol" "$bk"
stderr_has "--force"
expect_exit 0 "$CTL" header-restore "$vol" "$bk" --force
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k0"
expect_exit 0 "$CTL" info "$vol"
grep -qF "header copy: ok" "$T/stdout" || fail "the copy after the forced restore"
mount_vol "$vol" "$mnt" "key_file=$k0"
cmp "$mnt/data" "$T/data" || fail "the data after the forced restore"
umount_wait "$mnt"
note "ok"
