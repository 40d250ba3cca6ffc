#!/bin/bash
# XTS short tails: a file of fewer than 16 bytes is stored XORed with a keystream. In format 1
# that keystream depends only on the file and the position, so two versions of an 8-byte
# file XOR to the XOR of their plaintexts (shown first, the baseline). In format 2 every
# write of such a tail draws a fresh tail nonce (kept in the blob header), so they do not;
# the files still read back right after a remount.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

key=$T/key
mnt=$T/mnt

# tail_xor VOL HDR: writes AAAAAAAA then BBBBBBBB over file t (in place and through a new
# open), and prints whether the stored versions XOR to the XOR of the plaintexts.
tail_xor() {
  local vol=$1 hdr=$2 blob x1 x2 same=yes
  printf AAAAAAAA >"$mnt/t"
  blob=$(find "$vol" -maxdepth 1 -inum "$(stat -c %i "$mnt/t")" -print -quit)
  x1=$(od -An -tu1 -j "$hdr" -N8 "$blob")
  printf BBBBBBBB | dd of="$mnt/t" conv=notrunc status=none
  x2=$(od -An -tu1 -j "$hdr" -N8 "$blob")
  read -ra a <<<"$x1"
  read -ra b <<<"$x2"
  for i in 0 1 2 3 4 5 6 7; do
    [ $((a[i] ^ b[i])) -eq $((65 ^ 66)) ] || same=no
  done
  echo "$same"
}

note "format 1 (baseline): the two versions leak the XOR of the plaintexts"
make_vol "$T/vol1" "$key" aes-256-xts 4096 --format-version 1
mount_vol "$T/vol1" "$mnt" "key_file=$key"
[ "$(tail_xor "$T/vol1" 24)" = yes ] || fail "format 1: no leak (baseline changed?)"
umount_wait "$mnt"

note "format 2: a fresh tail nonce per write"
make_vol "$T/vol2" "$key" aes-256-xts 4096 --format-version 2
mount_fg "$T/vol2" "$mnt" "key_file=$key" "$T/log"
[ "$(tail_xor "$T/vol2" 128)" = no ] || fail "format 2: two tail versions share a keystream"
[ "$(cat "$mnt/t")" = BBBBBBBB ] || fail "the tail reads back wrong"
printf 'short' >"$mnt/s"
head -c 4100 /dev/urandom >"$T/d" && cp "$T/d" "$mnt/long"
printf 'more' >>"$mnt/long" # a 4104-byte file: an 8-byte tail chunk, rewritten
truncate -s 4099 "$mnt/long"
umount_fg "$mnt"
log_clean "$T/log"
mount_fg "$T/vol2" "$mnt" "key_file=$key" "$T/log2"
[ "$(cat "$mnt/t")" = BBBBBBBB ] || fail "the tail reads back wrong after a remount"
[ "$(cat "$mnt/s")" = short ] || fail "a 5-byte file reads back wrong after a remount"
head -c 4099 "$T/d" | cmp - "$mnt/long" || fail "a 3-byte tail after a truncate reads wrong"
umount_fg "$mnt"
log_clean "$T/log2"
