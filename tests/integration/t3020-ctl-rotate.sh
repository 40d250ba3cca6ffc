#!/bin/bash
# rotate: a slot's key is replaced and its KEK generation bumped, with no data re-encrypted;
# and a key-file rollout across machines: mounts with key_file=NEW,old_key_file=OLD work
# before and after the rotate, and afterwards OLD no longer opens the volume.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
need_progs

vol=$T/vol k0=$T/k0 k1=$T/k1 k2=$T/k2 wrong=$T/wrong pass=$T/pass
make_vol "$vol" "$k0" aes-256-gcm 4096
newkey "$k1"
newkey "$k2"
newkey "$wrong"
printf 'rotated passphrase' >"$pass"
chmod 600 "$pass"

# gen_of N: slot N's KEK generation and type, as "TYPE GEN".
gen_of() {
  "$CTL" slot list "$vol" >"$T/slots" || fail "slot list"
  sed -n "s/^  slot $1: \([a-z]*\), KEK generation \([0-9]*\),.*/\1 \2/p" "$T/slots"
}

note "rotate --slot: the new key opens the slot, the old one no longer does"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$k0" --key-file "$k2"
expect_exit 0 "$CTL" rotate "$vol" --slot 0 --unlock-key-file "$k0" --key-file "$k1"
grep -qF "rotated key slot 0 to KEK generation 2" "$T/stdout" || fail "rotate output"
[ "$(gen_of 0)" = "keyfile 2" ] || fail "slot 0 is '$(gen_of 0)' after a rotate"
[ "$(gen_of 1)" = "keyfile 1" ] || fail "rotating slot 0 touched slot 1"
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file "$k0"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k1"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k2"

note "rotate without --slot rotates the slot the key opened; the type may change"
expect_exit 0 "$CTL" rotate "$vol" --unlock-key-file "$k1" --passphrase-file "$pass" \
  "${FAST_ARGON[@]}"
[ "$(gen_of 0)" = "passphrase 3" ] || fail "slot 0 is '$(gen_of 0)'"
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file "$k1"
expect_exit 0 "$CTL" check-key "$vol" --unlock-passphrase-file "$pass"

note "refusals: a wrong key, an unused slot"
expect_exit 3 "$CTL" rotate "$vol" --slot 1 --unlock-key-file "$wrong" --key-file "$k1"
expect_exit 1 "$CTL" rotate "$vol" --slot 6 --unlock-key-file "$k2" --key-file "$k1"
stderr_has "key slot 6 is not in use"
[ "$(gen_of 1)" = "keyfile 1" ] || fail "a refused rotate changed slot 1"

note "key-file rollout: OLD deployed with NEW beside it, rotate while mounted"
rv=$T/rollout old=$T/old.key new=$T/new.key mnt=$T/mnt
make_vol "$rv" "$old" aes-256-gcm 4096
newkey "$new"
mount_vol "$rv" "$mnt" "key_file=$new,old_key_file=$old"
head -c 100000 /dev/urandom >"$T/before"
cp "$T/before" "$mnt/before"
expect_exit 0 "$CTL" rotate "$rv" --slot 0 --unlock-key-file "$old" --key-file "$new"
# The daemon holds the volume key, which a rotate never changes.
head -c 70000 /dev/urandom >"$T/after"
cp "$T/after" "$mnt/after"
cmp "$mnt/before" "$T/before" || fail "reading through the mount after the rotate"
umount_wait "$mnt"

note "after the rotate: NEW,OLD mounts; OLD alone is refused; NEW alone mounts"
mount_vol "$rv" "$mnt" "key_file=$new,old_key_file=$old"
cmp "$mnt/before" "$T/before" && cmp "$mnt/after" "$T/after" || fail "data after the rotate"
umount_wait "$mnt"
expect_exit 3 "$ECFS" "$rv" "$mnt" -o "key_file=$old"
mountpoint -q "$mnt" && fail "the old key mounted the volume"
expect_exit 3 "$CTL" check-key "$rv" --unlock-key-file "$old"
mount_vol "$rv" "$mnt" "key_file=$new"
cmp "$mnt/after" "$T/after" || fail "data with the new key alone"
umount_wait "$mnt"
note "ok"
