#!/bin/bash
# The daemon mounts with an export file (-o key_export=FILE,passphrase_file=P), even when no
# key slot is left: disaster recovery without envcryptfsctl.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
need_progs

vol=$T/vol k0=$T/k0 pw=$T/pw ex=$T/vol.export mnt=$T/mnt
make_vol "$vol" "$k0" aes-256-gcm 4096
printf 'export password\n' >"$pw"
chmod 600 "$pw"
chmod 600 "$pw"
"$CTL" export "$vol" --unlock-key-file "$k0" --passphrase-file "$pw" --out "$ex" \
  "${FAST_ARGON[@]}" >/dev/null || fail "export"
mount_vol "$vol" "$mnt" "key_file=$k0"
echo "written with the key file" >"$mnt/note"
umount_wait "$mnt"
expect_exit 0 "$CTL" slot remove "$vol" 0 --unlock-key-file "$k0" --force

note "mount with key_export"
"$ECFS" --help 2>&1 | in_output key_export ||
  note "the daemon's --help does not mention key_export (not integrated yet?)"
register_mount "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_export=$ex,passphrase_file=$pw"
[ "$(cat "$mnt/note")" = "written with the key file" ] || fail "reading through the export mount"
umount_wait "$mnt"
note "ok"
