#!/bin/bash
# A full backing file system after the primary header was written: the change took effect,
# and envcryptfsctl says so ("the change took effect (the header copy could not be updated:
# No space left on device)", exit 6) instead of reporting a refusal. The next key operation
# rewrites the copy. On a small tmpfs, filled so that exactly one page is free: the primary's
# old bytes stay allocated through a hard link, so only the copy finds no room.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$MKFS" ] || skip "$MKFS not built"
command -v fallocate >/dev/null || skip "fallocate not installed"
sanitizer_logs

fs=$T/fs
mkdir -p "$fs"
mount -t tmpfs -o size=20m tmpfs "$fs" || skip "cannot mount a tmpfs"
trap 'rc=$?; umount -l "$fs" 2>/dev/null; (exit $rc); finish_test' EXIT

vol=$fs/vol
make_vol "$vol" "$T/k0" aes-256-gcm 4096
newkey "$T/k1"
newkey "$T/k2"
# A first update leaves the lock file with its contents, so it needs no new page later.
"$CTL" slot add "$vol" --unlock-key-file "$T/k0" --key-file "$T/k1" >/dev/null || fail "slot add k1"
[ "$(stat -c %s "$vol/envcryptfs.header")" -le 4096 ] || skip "the header is larger than a page"

avail() { df -B1 --output=avail "$fs" | tail -n 1 | tr -d ' '; }
ln "$vol/envcryptfs.header" "$fs/hold"
fallocate -l $(($(avail) - 4096)) "$fs/filler"
[ "$(avail)" -eq 4096 ] || skip "cannot leave exactly one page free (free: $(avail))"

note "slot add with room for the primary only: exit 6, the change took effect"
expect_exit 6 "$CTL" slot add "$vol" --unlock-key-file "$T/k0" --key-file "$T/k2"
stderr_has "the change took effect (the header copy could not be updated: No space left on device)"
grep -qF "added key slot 2" "$T/stdout" || fail "the added slot is not named"
[ -z "$(find "$vol" -name 'envcryptfs.tmp.*')" ] || fail "a temporary file was left behind"

note "the new key opens the volume; the copy is behind"
"$CTL" check-key "$vol" --unlock-key-file "$T/k2" >/dev/null || fail "the new slot does not open the volume"
"$CTL" info "$vol" >"$T/info" 2>&1 || fail "info failed"
grep -q "header copy: stale" "$T/info" || { cat "$T/info" >&2; fail "info does not call the copy stale"; }

note "space freed: the next key operation rewrites both copies"
rm -f "$fs/filler" "$fs/hold"
expect_exit 0 "$CTL" slot remove "$vol" 1 --unlock-key-file "$T/k0"
"$CTL" info "$vol" >"$T/info" 2>&1 || fail "info failed"
grep -q "header copy: ok" "$T/info" || { cat "$T/info" >&2; fail "the copy was not rewritten"; }
cmp "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" || fail "the copies differ"
"$CTL" check-key "$vol" --unlock-key-file "$T/k2" >/dev/null || fail "slot 2 was lost"
