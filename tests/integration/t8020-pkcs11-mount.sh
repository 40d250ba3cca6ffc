#!/bin/bash
# A PKCS#11 key slot against a real SoftHSM2 token: mkfs makes the key on the token only when
# --pkcs11-create-key says so; the volume mounts through -o pkcs11_module alone, keeps what
# was written across a remount, and envcryptfsctl unlocks with --unlock-pkcs11; `slot add`
# gives a key-file volume a slot on an existing key, after which the token alone opens it;
# the key made is an AES-256 key the token never lets out.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t8020-pkcs11.inc"
need_progs
p11_setup

vol=$T/vol mnt=$T/mnt
note "mkfs: a missing key is made only with --pkcs11-create-key"
expect_exit 1 "$MKFS" $(p11_new K) "$vol"
stderr_has "no key 'K' on PKCS#11 token 'T'"
[ ! -e "$vol/envcryptfs.header" ] || fail "mkfs left a header after failing"
expect_exit 2 "$MKFS" --pkcs11-module "$P11_MODULE" --pkcs11-key K "$vol"
stderr_has "--pkcs11-token is missing"
expect_exit 0 "$MKFS" $(p11_new K) --pkcs11-create-key "$vol"
expect_exit 0 "$CTL" info "$vol"
grep -qF "slot 0: pkcs11, KEK generation 1" "$T/stdout" &&
  grep -qF "token 'T', key 'K', aes-key-wrap-pad" "$T/stdout" || { cat "$T/stdout"; fail "info"; }
expect_exit 0 "$CTL" info "$vol" --json
tr -d ' \n' <"$T/stdout" | in_output -F '"pkcs11":{"token":"T","key":"K","mechanism":"aes-key-wrap-pad"}' ||
  { cat "$T/stdout"; fail "info --json"; }
! grep -q "softhsm\|$P11_MODULE" "$vol/envcryptfs.header" || fail "the header names the module"

if command -v pkcs11-tool >/dev/null; then
  note "the key on the token: AES-256, sensitive, never extractable, wraps and unwraps only"
  out=$(pkcs11-tool --module "$P11_MODULE" --token-label T --login --pin 1234 --list-objects \
    --type secrkey 2>/dev/null)
  grep -q "AES length 32" <<<"$out" || fail "the key is not AES-256: $out"
  grep -q "Usage: *wrap, unwrap$" <<<"$out" || fail "the key's usage: $out"
  grep -q "sensitive, always sensitive, never extractable" <<<"$out" || fail "the key's access: $out"
fi

note "mount through the token, write, remount, read back"
register_mount "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$P11_O" </dev/null
mountpoint -q "$mnt" || fail "not mounted"
head -c 100000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/file"
mkdir "$mnt/dir" && echo hello >"$mnt/dir/small"
umount_wait "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$P11_O" </dev/null
cmp "$T/data" "$mnt/file" || fail "content after the remount"
[ "$(cat "$mnt/dir/small")" = hello ] || fail "small file after the remount"
umount_wait "$mnt"

note "envcryptfsctl: --unlock-pkcs11"
expect_exit 0 "$CTL" check-key "$vol" "${P11_UNLOCK[@]}"
grep -qF "opens key slot 0" "$T/stdout" || fail "check-key"
expect_exit 2 "$CTL" check-key "$vol" --unlock-pkcs11 --pkcs11-pin-file "$PIN"
stderr_has "--unlock-pkcs11 needs --pkcs11-module"
expect_exit 0 "$CTL" export "$vol" "${P11_UNLOCK[@]}" --out "$T/export" \
  --passphrase-file "$PIN" "${FAST_ARGON[@]}"

note "fsck: --pkcs11-module and --pkcs11-pin-file unlock, so contents are verified"
expect_exit 0 "$FSCK" -n --pkcs11-module "$P11_MODULE" --pkcs11-pin-file "$PIN" "$vol"
grep -qF "clean: 2 directories, 2 files" "$T/stdout" || { cat "$T/stdout" "$T/stderr"; fail "fsck"; }
! grep -q "not verified" "$T/stderr" || { cat "$T/stderr"; fail "fsck did not unlock"; }

note "rotate: the slot moves to another key on the token, made for it"
expect_exit 0 "$CTL" rotate "$vol" "${P11_UNLOCK[@]}" --pkcs11-token T --pkcs11-key K3 \
  --pkcs11-create-key
expect_exit 0 "$CTL" info "$vol"
grep -qF "slot 0: pkcs11, KEK generation 2" "$T/stdout" && grep -qF "key 'K3'" "$T/stdout" ||
  { cat "$T/stdout"; fail "rotate"; }
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$P11_O" </dev/null
cmp "$T/data" "$mnt/file" || fail "content after the rotation"
umount_wait "$mnt"

note "labels a slot cannot hold are refused before anything is written"
expect_exit 2 "$CTL" slot add "$vol" "${P11_UNLOCK[@]}" \
  --pkcs11-token 123456789012345678901234567890123 --pkcs11-key K
stderr_has "must be 1 to 32 bytes"

note "slot add: a key-file volume gets a slot on the existing key, then opens by the token alone"
kvol=$T/kvol
make_vol "$kvol" "$T/k" aes-256-gcm 4096
expect_exit 0 "$CTL" slot add "$kvol" --unlock-key-file "$T/k" $(p11_new K)
grep -qF "added key slot 1 (pkcs11)" "$T/stdout" || fail "slot add"
expect_exit 1 "$CTL" slot add "$kvol" --unlock-key-file "$T/k" $(p11_new K2)
stderr_has "no key 'K2' on PKCS#11 token 'T'"
expect_exit 0 "$CTL" check-key "$kvol" "${P11_UNLOCK[@]}"
grep -qF "opens key slot 1" "$T/stdout" || fail "the token does not open slot 1"
expect_exit 0 "$ECFS" "$kvol" "$mnt" -o "key_file=$T/k" </dev/null
echo via-key-file >"$mnt/f"
umount_wait "$mnt"
expect_exit 0 "$ECFS" "$kvol" "$mnt" -o "$P11_O" </dev/null
[ "$(cat "$mnt/f")" = via-key-file ] || fail "content through the PKCS#11 slot"
umount_wait "$mnt"
expect_exit 0 "$CTL" slot remove "$kvol" 0 "${P11_UNLOCK[@]}"
expect_exit 0 "$CTL" check-key "$kvol" "${P11_UNLOCK[@]}"
expect_exit 3 "$CTL" check-key "$kvol" --unlock-key-file "$T/k"
note "all PKCS#11 mount checks passed"
