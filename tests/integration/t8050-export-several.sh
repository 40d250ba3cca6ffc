#!/bin/bash
# export DIR... --out FILE: one password-protected file holding the key of three volumes
# (each with its own key file, given in DIR order, or one key file for all); each volume
# opens from it (check-key, info, fsck and a mount), `slot add --unlock-export` imports a key
# into one of them, a volume not in the file is refused naming its UUID, a wrong password is
# refused, and a single export is still version 1.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
need_progs

pw=$T/pw badpw=$T/badpw ex=$T/three.export mnt=$T/mnt
printf 'export password\n' >"$pw"
printf 'not the password\n' >"$badpw"
chmod 600 "$pw" "$badpw"
register_mount "$mnt"
for i in 1 2 3 4; do
  make_vol "$T/vol$i" "$T/k$i" aes-256-gcm 4096
done
mount_vol "$T/vol2" "$mnt" "key_file=$T/k2"
head -c 50000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
umount_wait "$mnt"
uuid_of() { "$CTL" info "$1" | sed -n 's/^UUID: //p'; }

note "three volumes, one key file each in DIR order, one export"
expect_exit 0 "$CTL" export "$T/vol1" "$T/vol2" "$T/vol3" --unlock-key-file "$T/k1" \
  --unlock-key-file "$T/k2" --unlock-key-file "$T/k3" --passphrase-file "$pw" --out "$ex" \
  "${FAST_ARGON[@]}"
grep -q "wrote an export of 3 volumes" "$T/stdout" || { cat "$T/stdout" >&2; fail "stdout"; }
[ "$(stat -c %a "$ex")" = 600 ] || fail "the export has mode $(stat -c %a "$ex")"
grep -qF '"envcryptfs_export":2' "$ex" || { cat "$ex" >&2; fail "not a version 2 export"; }
[ "$(grep -c '"dek":' "$ex")" = 3 ] || fail "the export does not hold three keys"

note "each volume opens from it"
for i in 1 2 3; do
  expect_exit 0 "$CTL" check-key "$T/vol$i" --unlock-export "$ex" --unlock-passphrase-file "$pw"
  expect_exit 0 "$FSCK" -n --export-file "$ex" --passphrase-file "$pw" "$T/vol$i"
done
expect_exit 0 "$ECFS" "$T/vol2" "$mnt" -o "key_export=$ex,passphrase_file=$pw"
cmp "$T/data" "$mnt/data" || fail "content through the export"
umount_wait "$mnt"

note "slot add --unlock-export imports a key into one of them"
newkey "$T/k3b"
expect_exit 0 "$CTL" slot add "$T/vol3" --unlock-export "$ex" --unlock-passphrase-file "$pw" \
  --key-file "$T/k3b"
expect_exit 0 "$CTL" check-key "$T/vol3" --unlock-key-file "$T/k3b"

note "a volume not in the export is refused, naming its UUID; so is a wrong password"
expect_exit 3 "$CTL" check-key "$T/vol4" --unlock-export "$ex" --unlock-passphrase-file "$pw"
stderr_has "holds no key of volume $(uuid_of "$T/vol4")"
expect_exit 3 "$ECFS" "$T/vol4" "$mnt" -o "key_export=$ex,passphrase_file=$pw"
stderr_has "$(uuid_of "$T/vol4")"
expect_exit 3 "$CTL" check-key "$T/vol1" --unlock-export "$ex" --unlock-passphrase-file "$badpw"
stderr_has "wrong password"

note "the unlock options: one key file for every DIR, or one per DIR, never another count"
"$CTL" slot add "$T/vol2" --unlock-key-file "$T/k2" --key-file "$T/k1" >/dev/null ||
  fail "slot add"
expect_exit 0 "$CTL" export "$T/vol1" "$T/vol2" --unlock-key-file "$T/k1" \
  --passphrase-file "$pw" --out "$T/shared.export" "${FAST_ARGON[@]}"
expect_exit 0 "$CTL" check-key "$T/vol2" --unlock-export "$T/shared.export" \
  --unlock-passphrase-file "$pw"
expect_exit 2 "$CTL" export "$T/vol1" "$T/vol2" "$T/vol3" --unlock-key-file "$T/k1" \
  --unlock-key-file "$T/k2" --passphrase-file "$pw" --out "$T/bad.export" "${FAST_ARGON[@]}"
stderr_has "once per DIR"
expect_exit 3 "$CTL" export "$T/vol1" "$T/vol3" --unlock-key-file "$T/k1" \
  --passphrase-file "$pw" --out "$T/bad.export" "${FAST_ARGON[@]}"
[ -e "$T/bad.export" ] && fail "a refused export left a file"
expect_exit 1 "$CTL" export "$T/vol1" "$T/vol1" --unlock-key-file "$T/k1" \
  --passphrase-file "$pw" --out "$T/bad.export" "${FAST_ARGON[@]}"
stderr_has "the same volume is given twice"

note "one DIR still writes a version 1 export"
expect_exit 0 "$CTL" export "$T/vol1" --unlock-key-file "$T/k1" --passphrase-file "$pw" \
  --out "$T/one.export" "${FAST_ARGON[@]}"
grep -qF '"envcryptfs_export":1' "$T/one.export" || fail "a single export is not version 1"
expect_exit 3 "$CTL" check-key "$T/vol2" --unlock-export "$T/one.export" \
  --unlock-passphrase-file "$pw"
stderr_has "belongs to another volume"
