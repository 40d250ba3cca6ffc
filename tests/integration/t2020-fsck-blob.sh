#!/bin/bash
# fsck.envcryptfs, pass 3: a damaged blob header (4), chunks that fail authentication (4, with
# the plaintext path, chunk index and offset; a file split across both workers included), a
# blob cut inside a stored chunk (4 with -n and -p, 1 with -y, then it mounts and checks
# clean), a size no blob can have (found without a key too), and an XTS volume, whose
# contents cannot be verified.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

CS=4096
SC=$((CS + 28)) # a stored aes-256-gcm chunk
key=$T/key

# blob_of VOL SIZE: the one blob of SIZE bytes in VOL.
blob_of() {
  local f
  f=$(find "$1" -type f -size "$2c" ! -name 'envcryptfs.*')
  [ -n "$f" ] && [ "$(echo "$f" | wc -l)" -eq 1 ] || fail "expected one blob of $2 bytes in $1"
  echo "$f"
}

make_vol "$T/orig" "$key" aes-256-gcm $CS --format-version 1 # its offsets are format 1's
mount_vol "$T/orig" "$T/mnt" "key_file=$key"
mkdir -p "$T/mnt/dir"
head -c $((3 * CS + 100)) /dev/urandom >"$T/mnt/dir/data" # blob: 24 + 3 * SC + 128
head -c $((5 * CS)) /dev/urandom >"$T/mnt/five"             # blob: 24 + 5 * SC
head -c $((20 * CS)) /dev/urandom >"$T/mnt/twenty"          # blob: 24 + 20 * SC
# Larger than one 8 MiB job, so that both workers share it: 2100 chunks and 100 bytes.
head -c $((2100 * CS + 100)) /dev/urandom >"$T/mnt/large"
echo keep >"$T/mnt/keep"
umount_wait "$T/mnt"
DATA=$((24 + 3 * SC + 128))
LARGE=$((24 + 2100 * SC + 128))

expect_exit 0 fsck --key-file "$key" "$T/orig"

note "blob header magic"
fresh magic
flip_byte "$(blob_of "$vol" $((24 + 5 * SC)))" 0
expect_exit 4 fsck -y --key-file "$key" "$vol"
stderr_has "/five: blob header is damaged: blob header has a bad magic number"
expect_exit 4 fsck -n "$vol"
stderr_has "blob header is damaged"

note "a chunk: path, index and offset; one in the second job of the large file"
fresh chunk
flip_byte "$(blob_of "$vol" $DATA)" $((24 + SC + 20))
flip_byte "$(blob_of "$vol" $LARGE)" $((24 + 2050 * SC + 100))
expect_exit 4 fsck -p --key-file "$key" "$vol"
stderr_has "fsck.envcryptfs: /dir/data: chunk fails authentication: chunk 1 at plaintext offset 4096"
stderr_has "fsck.envcryptfs: /large: chunk fails authentication: chunk 2050 at plaintext offset $((2050 * CS))"
expect_exit 4 fsck -n --json --key-file "$key" "$vol"
grep -q '"path":"/dir/data"' "$T/stdout" || fail "JSON lacks the plaintext path: $(cat "$T/stdout")"
grep -q '"chunk":1,' "$T/stdout" || fail "JSON lacks the chunk index"
grep -q '"offset":4096,' "$T/stdout" || fail "JSON lacks the offset"
grep -q '"kind":"chunk-auth"' "$T/stdout" || fail "JSON lacks the kind"
expect_exit 0 fsck -n "$vol" # without a key chunks are not verified

note "many bad chunks: ten lines, then a count"
fresh many
b=$(blob_of "$vol" $((24 + 20 * SC)))
for i in $(seq 0 19); do flip_byte "$b" $((24 + i * SC + 30)); done
expect_exit 4 fsck -n --key-file "$key" "$vol"
[ "$(grep -c 'chunk fails authentication' "$T/stderr")" -eq 10 ] || fail "expected 10 chunk lines"
stderr_has "/twenty: chunks fail authentication: 10 more after the first 10"

note "cut inside a stored chunk: 4 with -n and -p, 1 with -y; then it mounts and is clean"
fresh cut
b=$(blob_of "$vol" $DATA)
truncate -s $((24 + SC + 2000)) "$b"
truncate -s $((LARGE - 20)) "$(blob_of "$vol" $LARGE)"
expect_exit 4 fsck -n --key-file "$key" "$vol"
stderr_has "/dir/data: blob is truncated: chunk 1 at plaintext offset 4096"
stderr_has "/large: blob is truncated: chunk 2100 at plaintext offset $((2100 * CS))"
expect_exit 4 fsck -p --key-file "$key" "$vol"
stderr_has "only -y or a yes does it"
expect_exit 1 fsck -y --json --key-file "$key" "$vol"
grep -q '"kind":"blob-truncated"' "$T/stdout" || fail "JSON: $(cat "$T/stdout")"
grep -q '"repaired":true' "$T/stdout" || fail "JSON: not repaired: $(cat "$T/stdout")"
[ "$(stat -c %s "$b")" -eq $((24 + SC)) ] || fail "not cut to the last whole chunk"
expect_exit 0 fsck --key-file "$key" "$vol"
mount_vol "$vol" "$T/mnt" "key_file=$key"
[ "$(stat -c %s "$T/mnt/dir/data")" -eq $CS ] || fail "data should now hold one chunk"
[ "$(stat -c %s "$T/mnt/large")" -eq $((2100 * CS)) ] || fail "large should lose its tail"
cat "$T/mnt/dir/data" "$T/mnt/large" >/dev/null || fail "the repaired files do not read"
umount_wait "$T/mnt"

note "a size no blob can have: found without a key, repaired by -y only"
fresh size
b=$(blob_of "$vol" $((24 + 5 * SC)))
truncate -s $((24 + 4 * SC + 10)) "$b"
echo -n 0123456789 >"$(blob_of "$vol" $((24 + 5 + 28)))" # a runt below the header's size
expect_exit 4 fsck -p "$vol"
stderr_has "blob size is not a valid encrypted size: $((24 + 4 * SC + 10)) bytes: 10 bytes after"
stderr_has "10 bytes, less than the 24-byte blob header"
expect_exit 4 fsck -p --key-file "$key" "$vol"
expect_exit 1 fsck -y "$vol"
[ "$(stat -c %s "$b")" -eq $((24 + 4 * SC)) ] || fail "not cut to the last whole chunk"
expect_exit 0 fsck --key-file "$key" "$vol"

note "aes-256-xts: sizes and headers are checked, contents cannot be"
make_vol "$T/xts" "$key" aes-256-xts $CS --format-version 1
mount_vol "$T/xts" "$T/mnt" "key_file=$key"
head -c $((2 * CS)) /dev/urandom >"$T/mnt/x"
umount_wait "$T/mnt"
b=$(blob_of "$T/xts" $((24 + 2 * CS)))
flip_byte "$b" 100
expect_exit 0 fsck --key-file "$key" "$T/xts"
stderr_has "chunk contents: aes-256-xts does not authenticate contents"
flip_byte "$b" 1
expect_exit 4 fsck --key-file "$key" "$T/xts"
stderr_has "blob header is damaged"
