#!/bin/bash
# Every way a PKCS#11 unlock fails says what failed in one line, with the documented exit
# code, and mounts nothing: a wrong PIN (3, the key-rejected code), a PIN file others may read
# (1, unless allowed), a key no longer on the token, a token that is gone, a module path that
# was removed, and a library that is not a PKCS#11 module (1, each naming what is missing).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t8020-pkcs11.inc"
need_progs
p11_setup

vol=$T/vol mnt=$T/mnt
register_mount "$mnt"
# A module of our own, to remove later (the path is what counts, not the file's contents).
cp "$P11_MODULE" "$T/module.so"
O="pkcs11_module=$T/module.so,pkcs11_pin_file=$PIN"
expect_exit 0 "$MKFS" --pkcs11-module "$T/module.so" --pkcs11-token T --pkcs11-key K \
  --pkcs11-pin-file "$PIN" --pkcs11-create-key "$vol"
not_mounted() { ! mountpoint -q "$mnt" || fail "$1: mounted"; }

note "no module given: refused before anything is loaded, naming the options"
expect_exit 2 "$ECFS" "$vol" "$mnt" </dev/null
stderr_has "-o pkcs11_module=PATH,pkcs11_pin_file=FILE (its PKCS#11 slot)"
expect_exit 2 "$ECFS" "$vol" "$mnt" -o "pkcs11_module=$T/module.so" </dev/null
stderr_has "no PIN file given for the PKCS#11 module '$T/module.so'"
not_mounted "no module"

note "wrong PIN: exit 3, the token's answer named"
expect_exit 3 "$ECFS" "$vol" "$mnt" -o "pkcs11_module=$T/module.so,pkcs11_pin_file=$BADPIN" </dev/null
stderr_has "PKCS#11 token 'T' rejected the PIN from '$BADPIN' (CKR_PIN_INCORRECT)"
not_mounted "wrong PIN"
expect_exit 3 "$CTL" check-key "$vol" --unlock-pkcs11 --pkcs11-module "$T/module.so" \
  --pkcs11-pin-file "$BADPIN"
stderr_has "CKR_PIN_INCORRECT"
expect_exit 3 "$CTL" slot add "$vol" --unlock-pkcs11 --pkcs11-module "$T/module.so" \
  --pkcs11-pin-file "$BADPIN" --key-file "$T/k"
expect_exit 1 "$MKFS" --pkcs11-module "$T/module.so" --pkcs11-token T --pkcs11-key K \
  --pkcs11-pin-file "$BADPIN" "$T/vol2"
stderr_has "CKR_PIN_INCORRECT"

note "a PIN file group or others may read: refused unless allowed"
chmod 644 "$PIN"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "$O" </dev/null
stderr_has "PIN file '$PIN' has mode 0644"
stderr_has "-o allow_open_key_file"
not_mounted "open PIN file"
expect_exit 1 "$CTL" check-key "$vol" --unlock-pkcs11 --pkcs11-module "$T/module.so" \
  --pkcs11-pin-file "$PIN"
stderr_has "--allow-open-key-file"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$O,allow_open_key_file" </dev/null
umount_wait "$mnt"
chmod 600 "$PIN"

note "a module that is not a PKCS#11 module"
lib=$(ldd "$ECFS" | awk '/libjson-c/ {print $3}')
[ -n "$lib" ] || fail "no shared library to offer as a module"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "pkcs11_module=$lib,pkcs11_pin_file=$PIN" </dev/null
stderr_has "'$lib' is not a PKCS#11 module (no C_GetFunctionList)"
echo "not a library" >"$T/text.so"
expect_exit 1 "$CTL" check-key "$vol" --unlock-pkcs11 --pkcs11-module "$T/text.so" \
  --pkcs11-pin-file "$PIN"
stderr_has "cannot load PKCS#11 module '$T/text.so'"

note "the module path removed"
rm "$T/module.so"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "$O" </dev/null
stderr_has "cannot load PKCS#11 module '$T/module.so'"
not_mounted "module removed"
cp "$P11_MODULE" "$T/module.so"
expect_exit 0 "$CTL" check-key "$vol" --unlock-pkcs11 --pkcs11-module "$T/module.so" \
  --pkcs11-pin-file "$PIN"

if command -v pkcs11-tool >/dev/null; then
  note "the key deleted from the token"
  pkcs11-tool --module "$P11_MODULE" --token-label T --login --pin 1234 --delete-object \
    --type secrkey --label K >/dev/null 2>&1 || fail "pkcs11-tool --delete-object"
  expect_exit 1 "$ECFS" "$vol" "$mnt" -o "$O" </dev/null
  stderr_has "no key 'K' on PKCS#11 token 'T'"
  not_mounted "key deleted"
else
  note "pkcs11-tool (opensc) missing: the deleted-key case is not run"
fi

note "the token gone"
mv "$T/tokens" "$T/tokens.away"
mkdir "$T/tokens"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "$O" </dev/null
stderr_has "no token labelled 'T' in PKCS#11 module '$T/module.so'"
not_mounted "token gone"
expect_exit 1 "$CTL" check-key "$vol" --unlock-pkcs11 --pkcs11-module "$T/module.so" \
  --pkcs11-pin-file "$PIN"
stderr_has "no token labelled 'T'"
note "all PKCS#11 error checks passed"
