#!/bin/bash
# Files of edge-case sizes round-trip byte for byte through mount, unmount and remount, for
# every cipher at 4 KiB and 64 KiB chunks (and 1 MiB for aes-256-gcm).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

# The sizes around the start of a file and around the chunk size c.
sizes_for() {
  local c=$1
  echo 0 1 15 16 17 4095 4096 4097 $((c - 1)) $c $((c + 1)) $((3 * c + 5))
}

# plain_set CHUNK: $T/plain/CHUNK holds one random file per size, the 5 MiB random file and
# copies of a few of them in a subdirectory.
plain_set() {
  local c=$1 d=$T/plain/$1 s
  [ -d "$d" ] && return 0
  mkdir -p "$d/sub/deeper"
  for s in $(sizes_for "$c"); do
    head -c "$s" /dev/urandom >"$d/size-$s"
    [ "$(stat -c %s "$d/size-$s")" -eq "$s" ] || fail "could not make a $s-byte file"
  done
  cp "$T/plain/random-5MiB" "$d/random-5MiB"
  cp "$d/size-$((c + 1))" "$d/sub/copy-$((c + 1))"
  cp "$d/size-17" "$d/sub/deeper/copy-17"
}

run_one() {
  local cipher=$1 chunk=$2 vol mnt key
  vol=$T/vol-$cipher-$chunk
  mnt=$T/mnt-$cipher-$chunk
  key=$T/key-$cipher-$chunk
  note "$cipher, chunk size $chunk"
  plain_set "$chunk"
  make_vol "$vol" "$key" "$cipher" "$chunk"
  mount_vol "$vol" "$mnt" "key_file=$key"
  cp -r "$T/plain/$chunk/." "$mnt/"
  same_tree "$T/plain/$chunk" "$mnt"
  umount_wait "$mnt"
  # The backing directory holds the blobs, not the plaintext.
  [ -f "$vol/envcryptfs.header" ] && [ -f "$vol/envcryptfs.header.copy" ] &&
    [ -f "$vol/envcryptfs.dirid" ] || fail "$vol lacks its header, header copy or dirid"
  [ "$(find "$vol" -mindepth 1 -maxdepth 1 ! -name 'envcryptfs.*' | wc -l)" -eq \
    "$(find "$T/plain/$chunk" -mindepth 1 -maxdepth 1 | wc -l)" ] ||
    fail "the backing root of $vol does not hold one entry per file"
  [ -z "$(find "$vol" -name 'size-*' -o -name 'random-*' -o -name 'sub')" ] ||
    fail "plaintext names in $vol"
  mount_vol "$vol" "$mnt" "key_file=$key"
  same_tree "$T/plain/$chunk" "$mnt"
  # Reading in odd block sizes gives the same bytes as cmp's reads.
  dd if="$mnt/random-5MiB" bs=12345 status=none | cmp - "$T/plain/random-5MiB" ||
    fail "reading random-5MiB in 12345-byte blocks differs"
  umount_wait "$mnt"
}

mkdir -p "$T/plain"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$T/plain/random-5MiB"
for cipher in aes-256-gcm aes-256-xts aes-128-xts sm4-xts; do
  for chunk in 4096 65536; do
    run_one "$cipher" "$chunk"
  done
done
run_one aes-256-gcm 1048576
note "all volumes round-tripped"
