#!/bin/bash
# A header copy that fails the header MAC (changed by someone without the key: its checksum
# recomputed), or that is stale, is never passed over in silence: once unlocked, each tool says
# which file and why in one line; envcryptfsctl, a read-write mount and fsck -p rewrite both
# copies from the authenticated one; a read-only mount refuses unless -o header_fallback allows
# it, and then leaves the volume untouched.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6000-attacker.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$FSCK" ] || skip "$FSCK not built"

key=$T/key vol=$T/vol mnt=$T/mnt
register_mount "$mnt"
make_vol "$vol" "$key" aes-256-gcm 4096 --label good
mount_vol "$vol" "$mnt" "key_file=$key"
echo data >"$mnt/file"
umount_wait "$mnt"

# tamper FILE: the label becomes "evil" with a valid checksum: the structure is fine, the MAC
# is not.
tamper() {
  plant_json "$vol/$1" <(tail -c +113 "$vol/$1" | sed 's/"label":"good"/"label":"evil"/')
  grep -q '"label":"evil"' "$vol/$1" || fail "tampering with $1 did not take"
}
repaired() {
  cmp -s "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" || fail "$1: the copies differ"
  ! grep -q '"label":"evil"' "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" ||
    fail "$1: the tampered copy is still there"
}

note "the copy fails the MAC: check-key says so and leaves it; a command that writes repairs"
tamper envcryptfs.header.copy
cp "$vol/envcryptfs.header.copy" "$T/tampered"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$key"
stderr_has "header file 'envcryptfs.header.copy' is damaged (it fails the header MAC"
stderr_has "using 'envcryptfs.header'"
cmp -s "$T/tampered" "$vol/envcryptfs.header.copy" || fail "check-key wrote the header"
newkey "$T/k1"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$key" --key-file "$T/k1"
stderr_has "fails the header MAC"
stderr_has "rewrote both header copies"
repaired "envcryptfsctl slot add"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$key"
[ ! -s "$T/stderr" ] || { cat "$T/stderr" >&2; fail "a repaired volume still draws a warning"; }

note "the primary fails the MAC: a read-write mount uses the copy, says so, repairs"
tamper envcryptfs.header
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=$key" </dev/null
stderr_has "header file 'envcryptfs.header' is damaged (it fails the header MAC"
stderr_has "using 'envcryptfs.header.copy'"
stderr_has "rewrote both header copies"
[ "$(cat "$mnt/file")" = data ] || fail "content after the repair"
umount_wait "$mnt"
repaired "read-write mount"

note "a read-only mount refuses, unless header_fallback; then nothing is written"
tamper envcryptfs.header.copy
cp "$vol/envcryptfs.header.copy" "$T/tampered"
expect_exit 4 "$ECFS" "$vol" "$mnt" -o "ro,key_file=$key" </dev/null
stderr_has "fails the header MAC"
stderr_has "header_fallback"
! mountpoint -q "$mnt" || fail "a read-only mount went on with a tampered copy"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "ro,header_fallback,key_file=$key" </dev/null
stderr_has "fails the header MAC"
[ "$(cat "$mnt/file")" = data ] || fail "content of the read-only mount"
umount_wait "$mnt"
cmp -s "$T/tampered" "$vol/envcryptfs.header.copy" || fail "a read-only mount wrote the header"

note "fsck -n reports the copy's MAC, -p repairs it"
expect_exit 4 "$FSCK" -n --key-file "$key" "$vol" </dev/null
grep -q "fails the header MAC" "$T/stdout" "$T/stderr" || { cat "$T/stdout" "$T/stderr" >&2; fail "fsck -n does not say the MAC fails"; }
expect_exit 1 "$FSCK" -p --key-file "$key" "$vol" </dev/null
repaired "fsck -p"
expect_exit 0 "$FSCK" -n --key-file "$key" "$vol" </dev/null
tamper envcryptfs.header
expect_exit 1 "$FSCK" -y --key-file "$key" "$vol" </dev/null
repaired "fsck -y"

note "a stale copy (an update it missed) is named and brought up to date"
cp "$vol/envcryptfs.header.copy" "$T/old"
newkey "$T/k2"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$key" --key-file "$T/k2"
cp "$T/old" "$vol/envcryptfs.header.copy"
expect_exit 0 "$CTL" slot remove "$vol" 1 --unlock-key-file "$T/k2"
stderr_has "header file 'envcryptfs.header.copy' is stale"
stderr_has "rewrote both header copies"
repaired "stale copy"
note "all header fallback checks passed"
