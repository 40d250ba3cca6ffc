#!/bin/bash
# slot add, slot remove, check-key: every kind of authorizing key, passphrase slots with the
# Argon2 costs given, and every refusal (wrong key, unused slot, the last slot, a full header).
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$MKFS" ] || skip "$MKFS not built"

vol=$T/vol k0=$T/k0 k1=$T/k1 wrong=$T/wrong pass=$T/pass
make_vol "$vol" "$k0" aes-256-gcm 4096
newkey "$k1"
newkey "$wrong"
printf 'correct horse battery\n' >"$pass"
chmod 600 "$pass"
chmod 600 "$pass"

# slots_are TYPE...: the volume's slots, in index order, have these types.
slots_are() {
  "$CTL" slot list "$vol" >"$T/slots" || fail "slot list"
  local got
  got=$(sed -n 's/^  slot \([0-9]\): \([a-z]*\),.*/\1:\2/p' "$T/slots" | tr '\n' ' ')
  got=${got% }
  [ "$got" = "$*" ] || fail "slots are '$got', expected '$*'"
}

note "check-key: 0 when the key opens the volume, 3 when not"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k0"
grep -qF "opens key slot 0" "$T/stdout" || fail "check-key does not name the slot"
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file "$wrong"
stderr_has "wrong key"
expect_exit 1 "$CTL" check-key "$vol" --unlock-key-file "$T/missing"
expect_exit 4 "$CTL" check-key "$T" --unlock-key-file "$k0"

note "slot add: a key file, then a passphrase with the costs given"
expect_exit 3 "$CTL" slot add "$vol" --unlock-key-file "$wrong" --key-file "$k1"
slots_are 0:keyfile
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$k0" --key-file "$k1"
grep -qF "added key slot 1" "$T/stdout" || fail "slot add does not name the slot"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$k1" --passphrase-file "$pass" \
  "${FAST_ARGON[@]}"
slots_are 0:keyfile 1:keyfile 2:passphrase
grep -qF "slot 2: passphrase, KEK generation 1, created " "$T/slots" &&
  grep -qF ", argon2id t=1 m=8192 KiB p=1" "$T/slots" || fail "the passphrase slot's Argon2 costs"
expect_exit 0 "$CTL" check-key "$vol" --unlock-passphrase-file "$pass"
grep -qF "opens key slot 2" "$T/stdout" || fail "the passphrase does not open slot 2"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$wrong" --unlock-passphrase-file "$pass"

note "slot remove: an unused slot, the slot of the key given, the last slot"
expect_exit 1 "$CTL" slot remove "$vol" 5 --unlock-key-file "$k0"
stderr_has "key slot 5 is not in use"
expect_exit 3 "$CTL" slot remove "$vol" 1 --unlock-key-file "$wrong"
slots_are 0:keyfile 1:keyfile 2:passphrase
expect_exit 0 "$CTL" slot remove "$vol" 1 --unlock-key-file "$k1"
stderr_has "no longer opens"
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file "$k1"
expect_exit 0 "$CTL" slot remove "$vol" 2 --unlock-key-file "$k0"
slots_are 0:keyfile
expect_exit 1 "$CTL" slot remove "$vol" 0 --unlock-key-file "$k0"
stderr_has "slot 0 is the last key slot"
stderr_has "--force"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k0"

note "an empty passphrase file is named as one, not as a key file"
: >"$T/empty"
chmod 600 "$T/empty"
expect_exit 1 "$CTL" slot add "$vol" --unlock-key-file "$k0" --passphrase-file "$T/empty"
stderr_has "passphrase file '$T/empty' is empty"
grep -qF "key file '$T/empty'" "$T/stderr" && fail "an empty passphrase file is called a key file"
slots_are 0:keyfile

note "slot add whose index cannot be printed fails, and names the slot it added on stderr"
rc=0
"$CTL" slot add "$vol" --unlock-key-file "$k0" --key-file "$k1" >/dev/full 2>"$T/stderr" || rc=$?
[ "$rc" -eq 1 ] || fail "slot add with stdout on /dev/full exited $rc, expected 1"
stderr_has "added key slot 1, but cannot print its index"
slots_are 0:keyfile 1:keyfile
rc=0
"$CTL" slot list "$vol" >/dev/full 2>"$T/stderr" || rc=$?
[ "$rc" -eq 1 ] || fail "slot list with stdout on /dev/full exited $rc, expected 1"
stderr_has "cannot write to standard output"
expect_exit 0 "$CTL" slot remove "$vol" 1 --unlock-key-file "$k0"
slots_are 0:keyfile

note "the last slot goes only with --force, and then no key opens the volume"
expect_exit 0 "$CTL" slot remove "$vol" 0 --unlock-key-file "$k0" --force
stderr_has "no key slot is left"
slots_are ""
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file "$k0"

note "slot add fills the first free index; a full header is refused"
full=$T/full
for i in 0 1 2 3 4 5 6 7; do newkey "$T/full$i"; done
"$MKFS" -q "${FAST_ARGON[@]}" --key-file "$T/full0" --key-file "$T/full1" \
  --key-file "$T/full2" --key-file "$T/full3" "$full" >/dev/null || fail "mkfs with 4 keys"
for i in 4 5 6 7; do
  expect_exit 0 "$CTL" slot add "$full" --unlock-key-file "$T/full0" --key-file "$T/full$i"
  grep -qF "added key slot $i" "$T/stdout" || fail "slot add did not use slot $i"
done
expect_exit 1 "$CTL" slot add "$full" --unlock-key-file "$T/full0" --key-file "$k1"
stderr_has "all 8 key slots are in use"
expect_exit 0 "$CTL" slot remove "$full" 3 --unlock-key-file "$T/full7"
expect_exit 0 "$CTL" slot add "$full" --unlock-key-file "$T/full5" --key-file "$k1"
grep -qF "added key slot 3" "$T/stdout" || fail "slot add did not reuse slot 3"
[ -z "$(find "$vol" -name 'envcryptfs.tmp.*')" ] || fail "temporary files left behind"
note "ok"
