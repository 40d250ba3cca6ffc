#!/bin/bash
# fsck.envcryptfs on a clean volume: exit 0 and a clean JSON report, with and without a key;
# usage errors (16), a wrong key (8), a mounted volume (8, but -n is allowed), and -n leaving
# every byte of a damaged volume as it was while exiting 4.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

vol=$T/vol
key=$T/key
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096

# fsck never gets a terminal here: without a key option it checks without a key.

mount_vol "$vol" "$mnt" "key_file=$key"
mkdir -p "$mnt/dir/sub"
head -c $((3 * 4096 + 100)) /dev/urandom >"$mnt/dir/data"
echo small >"$mnt/dir/sub/small"
echo long >"$mnt/$(printf 'L%.0s' $(seq 220))"
ln -s dir/data "$mnt/link"

note "a mounted volume is refused, except with -n"
expect_exit 8 fsck --key-file "$key" "$vol"
stderr_has "'$vol' is mounted; unmount it or use -n"
expect_exit 8 fsck -p --key-file "$key" "$vol"
expect_exit 0 fsck -n --key-file "$key" "$vol"
umount_wait "$mnt"

note "clean volume"
expect_exit 0 fsck --key-file "$key" "$vol"
grep -q "clean" "$T/stdout" || fail "no summary: $(cat "$T/stdout")"
expect_exit 0 fsck -f -n --json --key-file "$key" "$vol"
grep -q '"clean":true' "$T/stdout" || fail "JSON lacks clean: $(cat "$T/stdout")"
grep -q '"exit_code":0' "$T/stdout" || fail "JSON lacks exit_code 0"
grep -q '"directories":3' "$T/stdout" || fail "JSON: expected 3 directories: $(cat "$T/stdout")"
grep -q '"files":4' "$T/stdout" || fail "JSON: expected 4 files: $(cat "$T/stdout")"
grep -q '"uuid":"[0-9a-f-]\{36\}"' "$T/stdout" || fail "JSON lacks the UUID"
expect_exit 0 fsck -v --key-file "$key" "$vol"
for p in / /dir /dir/data /dir/sub/small /link "/$(printf 'L%.0s' $(seq 220))"; do
  grep -qxF -- "$p" "$T/stdout" || fail "-v does not list $p: $(cat "$T/stdout")"
done

note "no key: checks what it can, says what it did not"
expect_exit 0 fsck --json "$vol"
stderr_has "names, chunk contents and the header MAC were not verified: no key given"
grep -q '"not_checked":\[' "$T/stdout" || fail "JSON lacks not_checked"
grep -q 'no key given' "$T/stdout" || fail "JSON not_checked does not name the missing key"

note "usage errors and a wrong key"
expect_exit 16 fsck --bogus "$vol"
expect_exit 16 fsck -n -y "$vol"
expect_exit 16 fsck
expect_exit 16 fsck --no-key --key-file "$key" "$vol"
newkey "$T/wrong"
expect_exit 8 fsck --key-file "$T/wrong" "$vol"
stderr_has "wrong key"
expect_exit 8 fsck --json --key-file "$T/wrong" "$vol"
grep -q '"exit_code":8' "$T/stdout" || fail "JSON lacks exit_code 8"
expect_exit 8 fsck --key-file "$T/missing-key" "$vol"
expect_exit 8 fsck "$T/no-such-volume"

note "-n never writes: damage of every repairable kind stays, exit 4"
snapshot() {
  (cd "$1" && find . -type f -exec sha256sum {} + | sort && ls -lR --time-style=full-iso .)
}
blob=$(find "$vol" -type f -size $((128 + 3 * 4124 + 128))c) # format 2: a 128-byte header
[ -n "$blob" ] || fail "no blob of the expected size"
truncate -s $((128 + 4124 + 2000)) "$blob"
side=$(find "$vol" -name 'envcryptfs.long.*.name')
cp "$side" "$vol/envcryptfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name"
echo junk >"$vol/envcryptfs.tmp.0123456789abcdef"
cp "$vol/envcryptfs.header.copy" "$T/copy"
printf 'X' | dd of="$vol/envcryptfs.header.copy" bs=1 seek=40 conv=notrunc status=none
before=$(snapshot "$vol")
expect_exit 4 fsck -n --key-file "$key" "$vol"
stderr_has "not repaired (-n)"
expect_exit 4 fsck -n --json "$vol"
expect_exit 4 fsck --key-file "$key" "$vol" # no terminal: acts as -n
[ "$before" = "$(snapshot "$vol")" ] || fail "-n changed the backing directory"

note "-p repairs the safe ones and leaves the truncated blob (4 + 1 = 5)"
expect_exit 5 fsck -p --key-file "$key" "$vol"
[ ! -e "$vol/envcryptfs.tmp.0123456789abcdef" ] || fail "-p left the temporary file"
cmp -s "$vol/envcryptfs.header.copy" "$T/copy" && fail "-p did not rewrite the header copy"
expect_exit 1 fsck -y --key-file "$key" "$vol"
expect_exit 0 fsck --key-file "$key" "$vol"
mount_vol "$vol" "$mnt" "key_file=$key"
[ "$(stat -c %s "$mnt/dir/data")" -eq 4096 ] || fail "data is not cut to its first chunk"
[ "$(cat "$mnt/dir/sub/small")" = small ] || fail "small does not read after the repairs"
umount_wait "$mnt"
