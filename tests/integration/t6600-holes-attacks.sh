#!/bin/bash
# Format 2 holes: a chunk that reads as zeros must be a hole the file's holes map lists.
# Zeroing a whole stored chunk of a dense file, punching a hole in its blob, appending a zero
# chunk or zero bytes, zeroing a data chunk of a sparse file, and swapping in an older or
# deleting the holes map all read as EIO with a log line naming the blob, and fsck reports
# each; the file's own holes (a write past the end, a growing truncate, a punched range) read
# as zeros, also after a remount. Format 1 (the baseline, first) reads a zeroed chunk as zeros.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

CS=4096
key=$T/key
mnt=$T/mnt

# blob_of VOL NAME: the blob of file NAME (mounted at $mnt), found by its inode number.
blob_of() { find "$1" -maxdepth 1 -inum "$(stat -c %i "$mnt/$2")" -print -quit; }
# map_of BLOB: the holes map of a blob (its file ID is bytes 8-23 of its header).
map_of() {
  local id
  id=$(dd if="$1" bs=1 skip=8 count=16 status=none | base64 -w0 | tr '+/' '-_' | tr -d '=')
  echo "${1%/*}/envcryptfs.holes.$id"
}
# zero_chunk BLOB IDX SC: overwrites stored chunk IDX with zeros in place.
zero_chunk() {
  dd if=/dev/zero of="$1" bs=1 seek=$((128 + $2 * $3)) count="$3" conv=notrunc status=none
}
# expect_eio FILE LOG BLOB WHAT: reading FILE fails with EIO and LOG names BLOB with WHAT.
expect_eio() {
  expect_exit 1 cat "$1"
  stderr_has "Input/output error"
  grep -F -- "${3##*/}" "$2" | in_output -F -- "$4" ||
    { cat "$2" >&2; fail "${1##*/}: no log line naming its blob with '$4'"; }
}

note "format 1 (baseline): a zeroed chunk reads as zeros"
make_vol "$T/vol1" "$key" aes-256-gcm $CS --format-version 1
mount_vol "$T/vol1" "$mnt" "key_file=$key"
head -c $((3 * CS)) /dev/urandom >"$T/data3"
cp "$T/data3" "$mnt/f"
b=$(blob_of "$T/vol1" f)
umount_wait "$mnt"
dd if=/dev/zero of="$b" bs=1 seek=$((24 + CS + 28)) count=$((CS + 28)) conv=notrunc status=none
mount_vol "$T/vol1" "$mnt" "key_file=$key"
{ head -c $CS "$T/data3"; head -c $CS /dev/zero; tail -c $CS "$T/data3"; } | cmp - "$mnt/f" ||
  fail "format 1: a zeroed chunk did not read as zeros (baseline changed?)"
umount_wait "$mnt"

for cipher in aes-256-gcm aes-256-xts; do
  vol=$T/vol-$cipher
  sc=$CS
  [ $cipher = aes-256-gcm ] && sc=$((CS + 28))
  note "format 2, $cipher: zeroed, punched and appended chunks"
  make_vol "$vol" "$key" $cipher $CS --format-version 2
  mount_fg "$vol" "$mnt" "key_file=$key" "$T/log-$cipher"
  for f in zeroed punched zchunk zbytes; do cp "$T/data3" "$mnt/$f"; done
  # A sparse file: data, a hole made by a write past the end, a growing truncate's hole.
  head -c $CS "$T/data3" >"$mnt/sparse"
  dd if="$T/data3" of="$mnt/sparse" bs=$CS seek=4 count=1 status=none conv=notrunc
  truncate -s $((8 * CS)) "$mnt/sparse"
  # A map swapped for an older one: save the map, make another hole, put the old map back.
  head -c $CS "$T/data3" >"$mnt/oldmap"
  truncate -s $((3 * CS)) "$mnt/oldmap"
  cp "$(map_of "$(blob_of "$vol" oldmap)")" "$T/oldmap-$cipher"
  fallocate -l $((6 * CS)) "$mnt/oldmap"
  truncate -s $((9 * CS)) "$mnt/oldmap"
  head -c $CS "$T/data3" >"$mnt/nomap" && truncate -s $((3 * CS)) "$mnt/nomap"
  for f in zeroed punched zchunk zbytes sparse oldmap nomap; do
    eval "blob_$f=\$(blob_of \$vol $f)"
  done
  umount_fg "$mnt"
  log_clean "$T/log-$cipher"
  [ -e "$(map_of "$blob_sparse")" ] || fail "$cipher: a sparse file has no holes map"
  [ -e "$(map_of "$blob_zeroed")" ] && fail "$cipher: a dense file has a holes map"
  expect_exit 0 fsck -n --key-file "$key" "$vol"

  zero_chunk "$blob_zeroed" 1 $sc
  fallocate -p -o $((128 + sc)) -l $sc "$blob_punched"
  head -c $sc /dev/zero >>"$blob_zchunk"
  head -c 100 /dev/zero >>"$blob_zbytes"
  zero_chunk "$blob_sparse" 0 $sc
  cp "$T/oldmap-$cipher" "$(map_of "$blob_oldmap")"
  rm "$(map_of "$blob_nomap")"
  mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2-$cipher"
  expect_eio "$mnt/zeroed" "$T/log2-$cipher" "$blob_zeroed" "chunk 1 "
  expect_eio "$mnt/punched" "$T/log2-$cipher" "$blob_punched" "chunk 1 "
  expect_eio "$mnt/zchunk" "$T/log2-$cipher" "$blob_zchunk" "chunk 3 "
  expect_eio "$mnt/zbytes" "$T/log2-$cipher" "$blob_zbytes" "chunk 3 "
  expect_eio "$mnt/sparse" "$T/log2-$cipher" "$blob_sparse" "chunk 0 "
  expect_eio "$mnt/oldmap" "$T/log2-$cipher" "$blob_oldmap" "does not fit the header"
  expect_eio "$mnt/nomap" "$T/log2-$cipher" "$blob_nomap" "holes map of a sparse file is missing"
  # The sparse file's own holes still read as zeros where its data was not touched.
  dd if="$mnt/sparse" bs=$CS skip=1 count=7 status=none |
    cmp - <(head -c $((3 * CS)) /dev/zero; head -c $CS "$T/data3"; head -c $((3 * CS)) /dev/zero) ||
    fail "$cipher: the sparse file's holes or data read wrong"
  umount_fg "$mnt"

  # fsck verifies no chunk of an XTS volume (XTS authenticates nothing).
  [ $cipher = aes-256-gcm ] || continue
  note "format 2, $cipher: fsck reports each"
  expect_exit 4 fsck -n --key-file "$key" "$vol"
  for f in zeroed punched sparse; do
    grep -qE "/$f: (chunk fails authentication|blob is truncated)" "$T/stderr" ||
      { cat "$T/stderr" >&2; fail "$cipher: fsck does not report $f"; }
  done
  # Reading the appended zeros (EIO above) did not raise the header's size over them: they
  # stay past it, where fsck -p may cut them (t6660).
  for f in zchunk zbytes; do
    grep -qF "/$f: unlisted zero chunks past the file's size: the header says $((3 * CS)) bytes" \
      "$T/stderr" || { cat "$T/stderr" >&2; fail "$cipher: fsck does not report $f"; }
  done
  for f in oldmap nomap; do
    grep -qF "/$f: holes map is missing or damaged" "$T/stderr" ||
      { cat "$T/stderr" >&2; fail "$cipher: fsck does not report the holes map of $f"; }
  done
done
