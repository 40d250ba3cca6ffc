#!/bin/bash
# Format 2 blob headers: every file has its 128-byte header from creation on (an empty file's
# blob is 128 bytes, and stays so after truncation to 0), and a header that fails its MAC or
# a blob too short to hold one makes open fail with EIO and a log line naming the blob. On
# format 1 the same changes go unnoticed (shown first, as the baseline).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

CS=4096
vol=$T/vol
mnt=$T/mnt
key=$T/key

# backing_of NAME: the blob of file NAME, found by its inode number through the mount.
backing_of() {
  local ino
  ino=$(stat -c %i "$mnt/$1")
  find "$vol" -maxdepth 1 -inum "$ino" -print -quit
}

note "format 1 (baseline): a changed file ID reads as other bytes, a blob cut to 0 as empty"
make_vol "$T/vol1" "$key" aes-256-xts $CS --format-version 1
mount_vol "$T/vol1" "$mnt" "key_file=$key"
head -c 5000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/a"
cp "$T/data" "$mnt/b"
ino_a=$(stat -c %i "$mnt/a")
ino_b=$(stat -c %i "$mnt/b")
umount_wait "$mnt"
blob_a=$(find "$T/vol1" -maxdepth 1 -inum "$ino_a")
blob_b=$(find "$T/vol1" -maxdepth 1 -inum "$ino_b")
flip_byte "$blob_a" 10
: >"$blob_b"
mount_vol "$T/vol1" "$mnt" "key_file=$key"
cat "$mnt/a" >"$T/out" || fail "format 1: the changed file ID was detected (baseline changed?)"
! cmp -s "$T/out" "$T/data" || fail "format 1: a changed file ID read the same bytes"
[ "$(wc -c <"$mnt/b")" -eq 0 ] || fail "format 1: a blob cut to 0 bytes does not read empty"
umount_wait "$mnt"

note "format 2: headers at create, 128 bytes"
make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log"
: >"$mnt/empty"
cp "$T/data" "$mnt/data"
for f in flip cut0 cut100 swap trunc; do cp "$T/data" "$mnt/$f"; done
[ "$(stat -c %s "$(backing_of empty)")" -eq 128 ] || fail "an empty file's blob is not 128 bytes"
[ "$(stat -c %s "$(backing_of data)")" -eq $((128 + CS + 28 + 5000 - CS + 28)) ] ||
  fail "a 5000-byte file's blob has the wrong size: $(stat -c %s "$(backing_of data)")"
truncate -s 0 "$mnt/trunc"
[ "$(stat -c %s "$(backing_of trunc)")" -eq 128 ] || fail "truncate to 0 dropped the header"
printf 'again' >"$mnt/trunc"
[ "$(cat "$mnt/trunc")" = again ] || fail "a file truncated to 0 does not take new data"
cmp "$mnt/data" "$T/data" || fail "data reads back wrong"
[ "$(wc -c <"$mnt/empty")" -eq 0 ] || fail "empty is not empty"
for f in flip cut0 cut100 swap data; do
  eval "blob_$f=\$(backing_of $f)"
done
umount_fg "$mnt"
log_clean "$T/log"

note "format 2: a changed header, a cut header and a swapped header fail at open"
flip_byte "$blob_flip" 10
: >"$blob_cut0"
truncate -s 100 "$blob_cut100"
# Another file's header: its MAC holds, but the file ID is not this file's, so the chunks fail.
dd if="$blob_data" of="$blob_swap" bs=128 count=1 conv=notrunc status=none
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2"
for f in flip cut0 cut100; do
  expect_exit 1 cat "$mnt/$f"
  stderr_has "Input/output error"
  eval "b=\$blob_$f"
  grep -F -- "${b##*/}" "$T/log2" | in_output "blob header" ||
    { cat "$T/log2" >&2; fail "$f: no log line naming its blob and its header"; }
done
grep -F -- "${blob_flip##*/}" "$T/log2" | in_output "fails authentication" || fail "no MAC failure logged"
expect_exit 1 cat "$mnt/swap"
stderr_has "Input/output error"
cmp "$mnt/data" "$T/data" || fail "an untouched file no longer reads"
# A damaged file can still be emptied and reused.
: >"$mnt/cut0"
printf 'new' >"$mnt/cut0"
[ "$(cat "$mnt/cut0")" = new ] || fail "a damaged file cannot be rewritten after truncation"
umount_fg "$mnt"
