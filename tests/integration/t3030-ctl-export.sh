#!/bin/bash
# export: a new 0600 file, never an overwrite; the export opens the volume with its password
# when every key slot is gone, and authorizes `slot add` (the import) of a working key file.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
need_progs

vol=$T/vol k0=$T/k0 k1=$T/k1 pw=$T/pw badpw=$T/badpw ex=$T/vol.export mnt=$T/mnt
make_vol "$vol" "$k0" aes-256-gcm 4096
newkey "$k1"
printf 'export password\n' >"$pw"
chmod 600 "$pw"
printf 'not the password\n' >"$badpw"
chmod 600 "$badpw"
chmod 600 "$pw" "$badpw"
mount_vol "$vol" "$mnt" "key_file=$k0"
head -c 50000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
umount_wait "$mnt"

note "export writes a new 0600 file, whatever the umask"
expect_exit 3 "$CTL" export "$vol" --unlock-key-file "$k1" --passphrase-file "$pw" --out "$ex" \
  "${FAST_ARGON[@]}"
[ -e "$ex" ] && fail "a refused export left a file"
(umask 0 && "$CTL" export "$vol" --unlock-key-file "$k0" --passphrase-file "$pw" --out "$ex" \
  "${FAST_ARGON[@]}" >/dev/null) || fail "export"
[ "$(stat -c %a "$ex")" = 600 ] || fail "the export has mode $(stat -c %a "$ex")"
uuid=$("$CTL" info "$vol" | sed -n 's/^UUID: //p')
uuid64=$(printf '%s' "${uuid//-/}" | xxd -r -p | base64)
for t in '"envcryptfs_export":1' "\"uuid\":\"$uuid64\"" '"cipher":"aes-256-gcm"' \
  '"type":"argon2id"' '"memory":8192'; do
  grep -qF -- "$t" "$ex" || { cat "$ex" >&2; fail "the export lacks '$t'"; }
done

note "export never overwrites: not a file, not a symlink"
cp "$ex" "$T/ex.orig"
expect_exit 1 "$CTL" export "$vol" --unlock-key-file "$k0" --passphrase-file "$pw" --out "$ex" \
  "${FAST_ARGON[@]}"
stderr_has "exists; it is never overwritten"
cmp -s "$ex" "$T/ex.orig" || fail "export overwrote an existing file"
ln -s "$T/elsewhere" "$T/link"
expect_exit 1 "$CTL" export "$vol" --unlock-key-file "$k0" --passphrase-file "$pw" \
  --out "$T/link" "${FAST_ARGON[@]}"
[ -e "$T/elsewhere" ] && fail "export followed a symlink"

note "the export as the authorizing key: the right password, a wrong one, another volume"
expect_exit 0 "$CTL" check-key "$vol" --unlock-export "$ex" --unlock-passphrase-file "$pw"
grep -qF "export file opens the volume" "$T/stdout" || fail "check-key with the export"
expect_exit 3 "$CTL" check-key "$vol" --unlock-export "$ex" --unlock-passphrase-file "$badpw"
stderr_has "wrong password"
make_vol "$T/other" "$T/kother" aes-256-gcm 4096
expect_exit 3 "$CTL" check-key "$T/other" --unlock-export "$ex" --unlock-passphrase-file "$pw"
stderr_has "belongs to another volume"

note "a damaged export file exits 1, not 4 (a damaged volume); a changed one is named as a cause"
head -c 100 "$ex" >"$T/ex.cut"
chmod 600 "$T/ex.cut"
expect_exit 1 "$CTL" check-key "$vol" --unlock-export "$T/ex.cut" --unlock-passphrase-file "$pw"
stderr_has "export file"
# Change the first base64 character of the sealed key: the password is right, the tag fails.
first=$(sed -n 's/.*"dek": *"\(.\).*/\1/p' "$ex")
if [ "$first" = A ]; then repl=B; else repl=A; fi
sed "s/\(\"dek\": *\"\)./\1$repl/" "$ex" >"$T/ex.changed"
chmod 600 "$T/ex.changed"
cmp -s "$ex" "$T/ex.changed" && fail "the test did not change the export"
expect_exit 3 "$CTL" check-key "$vol" --unlock-export "$T/ex.changed" --unlock-passphrase-file "$pw"
stderr_has "or the file was modified"

note "the export password asked on a terminal: the second prompt says what it repeats"
# tty_wait TEXT: waits (30 s at most) for TEXT in what the terminal showed.
tty_wait() {
  for _ in $(seq 300); do grep -qF -- "$1" "$T/tty.out" 2>/dev/null && return 0; sleep 0.1; done
  cat "$T/tty.out" >&2
  fail "the terminal never showed '$1'"
}
mkfifo "$T/tty.in"
printf -v cmd '%q ' "$CTL" export "$vol" --unlock-key-file "$k0" --out "$T/ex.tty" "${FAST_ARGON[@]}"
script -qec "$cmd" /dev/null <"$T/tty.in" >"$T/tty.out" 2>&1 &
tty_pid=$!
exec 3>"$T/tty.in"
tty_wait "Export password: "
printf 'typed password\n' >&3
tty_wait "Repeat the export password: "
printf 'typed password\n' >&3
exec 3>&-
wait "$tty_pid" || fail "export with the password typed on a terminal"
grep -qF "Repeat the passphrase" "$T/tty.out" && fail "the export prompt asks to repeat a passphrase"
[ -s "$T/ex.tty" ] || fail "no export written from a typed password"

note "every slot removed: only the export opens the volume, and slot add imports a key"
expect_exit 0 "$CTL" slot remove "$vol" 0 --unlock-key-file "$k0" --force
expect_exit 3 "$CTL" check-key "$vol" --unlock-key-file "$k0"
expect_exit 0 "$CTL" check-key "$vol" --unlock-export "$ex" --unlock-passphrase-file "$pw"
expect_exit 3 "$CTL" slot add "$vol" --unlock-export "$ex" --unlock-passphrase-file "$badpw" \
  --key-file "$k1"
expect_exit 0 "$CTL" slot add "$vol" --unlock-export "$ex" --unlock-passphrase-file "$pw" \
  --key-file "$k1"
grep -qF "added key slot 0" "$T/stdout" || fail "the import did not add slot 0"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$k1"
mount_vol "$vol" "$mnt" "key_file=$k1"
cmp "$mnt/data" "$T/data" || fail "the data after the import"
umount_wait "$mnt"

note "rotate needs --slot when an export authorizes it"
expect_exit 2 "$CTL" rotate "$vol" --unlock-export "$ex" --unlock-passphrase-file "$pw" \
  --key-file "$k0"
stderr_has "--slot N"
note "ok"
