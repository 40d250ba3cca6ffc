#!/bin/bash
# fsck.envcryptfs and a write that was interrupted (the daemon killed, the machine down) while
# it grew a file's partial last chunk: the chunk holds its old bytes followed by part of the
# new ones. fsck -n reports an interrupted write with the range that did not finish (not a
# chunk that fails authentication), -p keeps every byte stored before and zeros the rest, and
# the file then reads as before; a tampered chunk is still reported as tampering.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
CS=4096
SC=$((CS + 28))
HDR=24
vol=$T/vol
mnt=$T/mnt
key=$T/key
# Format 1: a format-2 write past the end lists the holes it leaves before it grows the file,
# so the interrupted write simulated below is not one format 2 can leave (t6620 crashes it).
make_vol "$vol" "$key" aes-256-gcm $CS --format-version 1
mount_vol "$vol" "$mnt" "key_file=$key"
head -c 5000 /dev/urandom >"$T/app"
head -c 6000 /dev/urandom >"$T/gap"
head -c $((3 * CS)) /dev/urandom >"$T/bad"
cp "$T/app" "$mnt/app"
cp "$T/gap" "$mnt/gap"
cp "$T/bad" "$mnt/bad"
umount_wait "$mnt"

# blob_of SIZE: the one blob of SIZE bytes.
blob_of() {
  local f found= n=0
  for f in "$vol"/*; do
    case ${f##*/} in envcryptfs.*) continue ;; esac
    if [ -f "$f" ] && [ "$(stat -c %s "$f")" -eq "$1" ]; then found=$f; n=$((n + 1)); fi
  done
  [ $n -eq 1 ] || fail "expected one blob of $1 bytes, found $n"
  echo "$found"
}
app=$(blob_of $((HDR + SC + 904 + 28)))
gap=$(blob_of $((HDR + SC + 1904 + 28)))
bad=$(blob_of $((HDR + 3 * SC)))

note "an append stopped after 3000 of its new bytes; a write past the end stopped after growing the file"
head -c 3000 /dev/urandom >>"$app"
truncate -s $((HDR + 3 * SC)) "$gap"
printf 'X' | dd of="$bad" bs=1 seek=500 conv=notrunc status=none

expect_exit 4 "$FSCK" -n --key-file "$key" "$vol"
stderr_has "/app: chunk holds an interrupted write: chunk 1 at plaintext offset 4096: plaintext bytes 4096-4999 are as stored before, bytes 5000-7999 belong to a write that did not finish"
stderr_has "/gap: chunk holds an interrupted write: chunk 1 at plaintext offset 4096: plaintext bytes 4096-5999 are as stored before, bytes 6000-8191 belong to a write that did not finish"
stderr_has "/bad: chunk fails authentication: chunk 0"
grep -q "/app: chunk fails authentication" "$T/stderr" && fail "the interrupted write is reported as tampering"

note "-p keeps the stored bytes"
expect_exit 5 "$FSCK" -p --key-file "$key" "$vol"
stderr_has "rewritten with the stored bytes and zeros"
expect_exit 4 "$FSCK" -n --key-file "$key" "$vol"
grep -q "interrupted write" "$T/stderr" && fail "fsck -p left an interrupted write"
mount_vol "$vol" "$mnt" "key_file=$key"
[ "$(stat -c %s "$mnt/app")" -eq 8000 ] || fail "app is $(stat -c %s "$mnt/app") bytes, expected 8000"
[ "$(stat -c %s "$mnt/gap")" -eq $((3 * CS)) ] || fail "gap is not three chunks long"
cmp -n 5000 "$mnt/app" "$T/app" || fail "app lost bytes stored before"
cmp -i 5000 -n 3000 "$mnt/app" /dev/zero || fail "app's unfinished bytes are not zeros"
cmp -n 6000 "$mnt/gap" "$T/gap" || fail "gap lost bytes stored before"
cmp -i 6000 -n $((3 * CS - 6000)) "$mnt/gap" /dev/zero || fail "gap's unfinished bytes are not zeros"
umount_wait "$mnt"
