#!/bin/bash
# Format 2 sparse files stay sparse on the backing (thin provisioning) and read back: a 1 GiB
# file made by truncate with writes at scattered offsets takes a few chunks of backing space,
# lists its holes in a holes map, and reads back after a remount; fsync drops the chunks
# written since from the map; punched ranges read as zeros; truncating to 0 and removing the
# file remove its map (once the kernel forgets it); a dense file written front to back never gets one.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

CS=4096
key=$T/key
mnt=$T/mnt
vol=$T/vol
blob_of() { find "$vol" -maxdepth 1 -inum "$(stat -c %i "$mnt/$1")" -print -quit; }
maps() { find "$vol" -maxdepth 1 -name 'envcryptfs.holes.*' | wc -l; }
map_of() {
  local id
  id=$(dd if="$1" bs=1 skip=8 count=16 status=none | base64 -w0 | tr '+/' '-_' | tr -d '=')
  echo "$vol/envcryptfs.holes.$id"
}
# write_at FILE OFFSET BYTES: writes BYTES bytes of $T/rand at OFFSET without truncating.
write_at() { dd if="$T/rand" of="$1" bs=1 seek="$2" count="$3" conv=notrunc status=none; }

head -c $((64 * 1024)) /dev/urandom >"$T/rand"
make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log"

note "a dense file written front to back has no holes map"
head -c $((256 * 1024)) /dev/urandom >"$T/dense"
cp "$T/dense" "$mnt/dense"
for i in $(seq 1 20); do head -c 1000 "$T/rand" >>"$mnt/appends"; done
[ "$(maps)" -eq 0 ] || fail "a dense file got a holes map"

note "a 1 GiB sparse file with scattered writes stays sparse"
truncate -s 1G "$mnt/big"
cp /dev/null "$T/big-expect"
offsets="0 5000 123456789 536870912 1073737000"
for o in $offsets; do write_at "$mnt/big" $o 3000; done
sync "$mnt/big"
b=$(blob_of big)
[ "$(stat -c %s "$b")" -gt $((1024 * 1024 * 1024)) ] || fail "the big blob is not 1 GiB long"
used=$(du -k "$b" | cut -f1)
[ "$used" -lt 1024 ] || fail "the 1 GiB sparse file takes ${used} KiB of backing space"
[ -e "$(map_of "$b")" ] || fail "the sparse file has no holes map"
check_big() {
  for o in $offsets; do
    dd if="$mnt/big" bs=1 skip=$o count=3000 status=none | cmp - <(head -c 3000 "$T/rand") ||
      fail "big: the data at $o reads back wrong"
  done
  dd if="$mnt/big" bs=$CS skip=1000 count=4 status=none | cmp - <(head -c $((4 * CS)) /dev/zero) ||
    fail "big: a hole does not read as zeros"
  [ "$(stat -c %s "$mnt/big")" -eq $((1024 * 1024 * 1024)) ] || fail "big: the size changed"
}
check_big

note "a write past the end and a punched range"
head -c $CS "$T/rand" >"$mnt/past"
write_at "$mnt/past" $((10 * CS + 17)) 100
cp "$T/dense" "$mnt/punched"
fallocate -p -o $((CS + 10)) -l $((5 * CS)) "$mnt/punched"
{ head -c $((CS + 10)) "$T/dense"; head -c $((5 * CS)) /dev/zero
  tail -c +$((6 * CS + 11)) "$T/dense"; } >"$T/punched-expect"
cmp "$T/punched-expect" "$mnt/punched" || fail "punched: reads back wrong"
pb=$(blob_of punched)
[ "$(du -k "$pb" | cut -f1)" -lt $(( $(du -k "$(blob_of dense)" | cut -f1) - 8)) ] ||
  fail "punched: the hole was not punched in the backing"

note "fsync drops filled holes from the map"
head -c $CS "$T/rand" >"$mnt/fill"
truncate -s $((8 * CS)) "$mnt/fill"
fb=$(blob_of fill)
before=$(stat -c %s "$(map_of "$fb")")
dd if="$T/rand" of="$mnt/fill" bs=$CS seek=3 count=1 conv=notrunc,fsync status=none
after=$(stat -c %s "$(map_of "$fb")")
[ "$after" -gt "$before" ] || fail "fill: the map did not split around the written chunk ($before -> $after bytes)"
umount_fg "$mnt"
log_clean "$T/log"

note "everything reads back after a remount; fsck finds the volume clean"
expect_exit 0 "$FSCK" -n --key-file "$key" "$vol"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2"
cmp "$T/dense" "$mnt/dense" || fail "dense: reads back wrong"
check_big
{ head -c $CS "$T/rand"; head -c $((9 * CS + 17)) /dev/zero; head -c 100 "$T/rand"; } |
  cmp - "$mnt/past" || fail "past: reads back wrong"
cmp "$T/punched-expect" "$mnt/punched" || fail "punched: reads back wrong after a remount"
{ head -c $CS "$T/rand"; head -c $((2 * CS)) /dev/zero; head -c $CS "$T/rand"
  head -c $((4 * CS)) /dev/zero; } | cmp - "$mnt/fill" || fail "fill: reads back wrong"

note "truncating to 0 and removing the file remove its map"
n=$(maps)
: >"$mnt/fill"
[ "$(maps)" -eq $((n - 1)) ] || fail "truncating to 0 left the holes map"
[ -e "$(map_of "$fb")" ] && fail "truncating to 0 left the holes map"
printf 'again' >"$mnt/fill" && truncate -s $((3 * CS)) "$mnt/fill"
[ "$(head -c 5 "$mnt/fill")" = again ] || fail "fill: cannot be used again"
rm "$mnt/big" "$mnt/past"
# A removed file's map goes once the kernel forgets the inode (at the latest, at unmount).
umount_fg "$mnt"
[ "$(maps)" -eq $((n - 2)) ] || fail "removing sparse files left their maps ($(maps) left)"
log_clean "$T/log2"
expect_exit 0 "$FSCK" -n --key-file "$key" "$vol"
