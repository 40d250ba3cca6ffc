#!/bin/bash
# Argon2 costs: mkfs and envcryptfsctl refuse costs below the floor unless --allow-weak-kdf,
# and costs over the cap always; a passphrase slot whose memory cost someone without the key
# raised to 16 GiB is not tried (the message names the slot and the keys that open the
# volume otherwise), while a key file slot still unlocks and finds the change. Key, passphrase and export files that
# group or others may read, or that another user owns, are refused by every tool unless the
# tool's allow option is given.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6000-attacker.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$FSCK" ] || skip "$FSCK not built"

vol=$T/vol mnt=$T/mnt key=$T/key pw=$T/pw
register_mount "$mnt"
newkey "$key"
printf 'a passphrase\n' >"$pw"
chmod 600 "$pw"
WEAK=(--argon2-time 1 --argon2-memory 8192 --argon2-parallel 1)

note "mkfs and slot add refuse a cost below the floor, naming --allow-weak-kdf"
expect_exit 2 "$MKFS" -q "${WEAK[@]}" --passphrase-file "$pw" "$vol"
stderr_has "below the floor of time 2 and memory 32768 KiB"
stderr_has "--allow-weak-kdf"
[ ! -e "$vol" ] || fail "a refused mkfs made the directory"
expect_exit 2 "$MKFS" -q --argon2-time 2 --argon2-memory 16384 --argon2-parallel 1 \
  --passphrase-file "$pw" "$vol"
stderr_has "below the floor"
note "and a cost over the cap even with --allow-weak-kdf"
expect_exit 2 "$MKFS" -q --argon2-time 1 --argon2-memory 8388608 --argon2-parallel 1 --allow-weak-kdf \
  --passphrase-file "$pw" "$vol"
stderr_has "above the cap"
expect_exit 2 "$MKFS" -q --argon2-time 101 --argon2-memory 32768 --argon2-parallel 1 \
  --passphrase-file "$pw" "$vol"
stderr_has "above the cap of 100"
expect_exit 0 "$MKFS" -q --argon2-time 2 --argon2-memory 32768 --argon2-parallel 1 \
  --key-file "$key" --passphrase-file "$pw" "$vol"
expect_exit 2 "$CTL" slot add "$vol" --unlock-key-file "$key" --passphrase-file "$pw" "${WEAK[@]}"
stderr_has "--allow-weak-kdf"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$key" --passphrase-file "$pw" "${FAST_ARGON[@]}"
expect_exit 2 "$CTL" export "$vol" --unlock-key-file "$key" --passphrase-file "$pw" --out "$T/ex" "${WEAK[@]}"
stderr_has "--allow-weak-kdf"
[ ! -e "$T/ex" ] || fail "a refused export wrote its file"

note "a passphrase slot whose memory cost was raised to 16 GiB is not tried"
cp -a "$vol" "$T/good"
for h in envcryptfs.header envcryptfs.header.copy; do
  plant_json "$vol/$h" <(tail -c +113 "$vol/$h" | sed 's/"memory":[0-9]*/"memory":16777216/g')
  grep -q '"memory":16777216' "$vol/$h" || fail "raising the memory cost in $h did not take"
done
expect_exit 1 timeout -k 5 "$HANG_SECS" "$CTL" check-key "$vol" --unlock-passphrase-file "$pw"
stderr_has "key slot 1 was not tried: Argon2id memory cost of 16777216 KiB is above the cap"
stderr_has "open the volume with another key (a key file, a KMS or a key export)"
expect_exit 1 timeout -k 5 "$HANG_SECS" "$ECFS" "$vol" "$mnt" -o "passphrase_file=$pw"
stderr_has "key slot 1 was not tried"
! mountpoint -q "$mnt" || fail "mounted through an over-cap slot"
note "the key file slot still unlocks, and then the header MAC names the change"
expect_exit 4 "$CTL" check-key "$vol" --unlock-key-file "$key"
stderr_has "header MAC mismatch"
rm -rf "$vol"
cp -a "$T/good" "$vol"

note "a key file that others may read is refused by every tool, naming the option"
chmod 644 "$key"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "key_file=$key"
stderr_has "key file '$key' has mode 0644: group or others may read or change it"
stderr_has "-o allow_open_key_file"
! mountpoint -q "$mnt" || fail "mounted with an open key file"
expect_exit 1 "$CTL" check-key "$vol" --unlock-key-file "$key"
stderr_has "--allow-open-key-file"
expect_exit 8 "$FSCK" -n --key-file "$key" "$vol"
stderr_has "has mode 0644"
expect_exit 1 "$MKFS" -q --key-file "$key" "$T/vol2"
stderr_has "has mode 0644"
note "unless allowed"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=$key,allow_open_key_file"
umount_wait "$mnt"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$key" --allow-open-key-file
expect_exit 0 "$FSCK" -n --allow-open-key-file --key-file "$key" "$vol"
chmod 620 "$key"
expect_exit 1 "$CTL" check-key "$vol" --unlock-key-file "$key"
stderr_has "has mode 0620"
chmod 600 "$key"

note "a key file another user owns is refused; a passphrase or export file others may read too"
chown nobody "$key"
expect_exit 1 "$CTL" check-key "$vol" --unlock-key-file "$key"
stderr_has "belongs to user $(id -u nobody), not to you or root"
chown 0 "$key"
chmod 604 "$pw"
expect_exit 1 "$CTL" check-key "$vol" --unlock-passphrase-file "$pw"
stderr_has "passphrase file '$pw' has mode 0604"
chmod 600 "$pw"
expect_exit 0 "$CTL" export "$vol" --unlock-key-file "$key" --passphrase-file "$pw" --out "$T/ex" \
  "${FAST_ARGON[@]}"
[ "$(stat -c %a "$T/ex")" = 600 ] || fail "export wrote mode $(stat -c %a "$T/ex")"
chmod 640 "$T/ex"
expect_exit 1 "$CTL" check-key "$vol" --unlock-export "$T/ex" --unlock-passphrase-file "$pw"
stderr_has "export file '$T/ex' has mode 0640"
note "a key from a pipe is fine"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file <(cat "$key")
