#!/bin/bash
# Format 2 authenticated size: a blob cut at a chunk boundary or down to its header reads as
# EIO with a log line naming the blob ("cut short"), and appended zero bytes fail the last
# chunk's authentication; legitimate size changes (appends, writes past EOF, truncates both
# ways, cp --sparse=always) read back right after a remount. Format 1 (the baseline, first)
# does not notice a cut at a chunk boundary.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

CS=4096
key=$T/key
mnt=$T/mnt

# blob_of VOL NAME: the blob of file NAME (mounted at $mnt), found by its inode number.
blob_of() {
  find "$1" -maxdepth 1 -inum "$(stat -c %i "$mnt/$2")" -print -quit
}

# stored CIPHER: a stored chunk's size.
stored() { [ "$1" = aes-256-gcm ] && echo $((CS + 28)) || echo $CS; }

note "format 1 (baseline): a blob cut at a chunk boundary reads as a shorter file"
make_vol "$T/vol1" "$key" aes-256-gcm $CS --format-version 1
mount_vol "$T/vol1" "$mnt" "key_file=$key"
head -c $((3 * CS)) /dev/urandom >"$T/data3"
cp "$T/data3" "$mnt/f"
b=$(blob_of "$T/vol1" f)
umount_wait "$mnt"
truncate -s $((24 + 2 * (CS + 28))) "$b"
mount_vol "$T/vol1" "$mnt" "key_file=$key"
[ "$(cat "$mnt/f" | wc -c)" -eq $((2 * CS)) ] || fail "format 1: the cut was noticed (baseline changed?)"
umount_wait "$mnt"

for cipher in aes-256-gcm aes-256-xts; do
  vol=$T/vol-$cipher
  sc=$(stored $cipher)
  note "format 2, $cipher: attacks on the size"
  make_vol "$vol" "$key" $cipher $CS --format-version 2
  mount_fg "$vol" "$mnt" "key_file=$key" "$T/log-$cipher"
  for f in cutchunk cuthdr append; do cp "$T/data3" "$mnt/$f"; done
  # legitimate size changes
  printf 'x' | dd of="$mnt/past" bs=1 seek=$((5 * CS + 7)) status=none
  cp "$T/data3" "$mnt/grow" && truncate -s $((6 * CS + 3)) "$mnt/grow"
  cp "$T/data3" "$mnt/shrink" && truncate -s $((CS + 5)) "$mnt/shrink"
  for i in 1 2 3 4 5; do head -c 1000 "$T/data3" >>"$mnt/appends"; done
  { head -c $CS "$T/data3"; head -c $((3 * CS)) /dev/zero; printf 'end'; } >"$T/sparse"
  cp --sparse=always "$T/sparse" "$mnt/sparse"
  for f in cutchunk cuthdr append; do eval "blob_$f=\$(blob_of \$vol $f)"; done
  umount_fg "$mnt"
  log_clean "$T/log-$cipher"
  truncate -s $((128 + 2 * sc)) "$blob_cutchunk"
  truncate -s 128 "$blob_cuthdr"
  head -c 10 /dev/zero >>"$blob_append"
  mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2-$cipher"
  for f in cutchunk cuthdr; do
    expect_exit 1 cat "$mnt/$f"
    stderr_has "Input/output error"
    eval "b=\$blob_$f"
    grep -F -- "${b##*/}" "$T/log2-$cipher" | in_output "cut short: header says $((3 * CS)) bytes" ||
      { cat "$T/log2-$cipher" >&2; fail "$cipher $f: no 'cut short' log line naming its blob"; }
  done
  if [ $cipher = aes-256-gcm ]; then
    expect_exit 1 cat "$mnt/append"
    stderr_has "Input/output error"
  fi
  # legitimate files read back right
  { head -c $((5 * CS + 7)) /dev/zero; printf 'x'; } | cmp - "$mnt/past" || fail "$cipher: past"
  { cat "$T/data3"; head -c $((3 * CS + 3)) /dev/zero; } | cmp - "$mnt/grow" || fail "$cipher: grow"
  head -c $((CS + 5)) "$T/data3" | cmp - "$mnt/shrink" || fail "$cipher: shrink"
  for i in 1 2 3 4 5; do head -c 1000 "$T/data3"; done | cmp - "$mnt/appends" ||
    fail "$cipher: appends"
  cmp "$T/sparse" "$mnt/sparse" || fail "$cipher: sparse copy"
  # A file emptied and rewritten after the damage is whole again.
  : >"$mnt/cutchunk" && printf 'again' >"$mnt/cutchunk"
  [ "$(cat "$mnt/cutchunk")" = again ] || fail "$cipher: a cut file cannot be rewritten"
  umount_fg "$mnt"
done
