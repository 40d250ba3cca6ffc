#!/bin/bash
# No plaintext reaches the backing directory: marker strings in file and directory names
# (short and long), contents, symlink targets and xattr values never appear in the backing
# files, their names or their extended attributes.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

rand=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
M=MARKER-$rand
# hex of the marker, for searching xattr dumps made with getfattr -e hex
MHEX=$(printf %s "$M" | od -An -tx1 | tr -d ' \n')
long=$(printf "%s-%0200d" "$M" 0)

populate() {
  local mnt=$1 i
  mkdir -p "$mnt/dir-$M/sub-$M"
  # contents: the marker repeated (across chunk boundaries), alone, and inside random data
  for ((i = 0; i < 4000; i++)); do printf '%s ' "$M"; done >"$mnt/file-$M"
  printf %s "$M" >"$mnt/dir-$M/short"
  printf '%s\n' "$M" >"$mnt/dir-$M/sub-$M/line-$M"
  { head -c 5000 /dev/urandom; printf %s "$M"; head -c 70000 /dev/urandom; printf %s "$M"; } \
    >"$mnt/dir-$M/mixed"
  printf 'long name %s' "$M" >"$mnt/$long"
  mkdir "$mnt/dir-$M/$long"
  ln -s "target-$M/$M" "$mnt/link-$M"
  ln -s "$M" "$mnt/dir-$M/plainlink"
  mkfifo "$mnt/fifo-$M"
  setfattr -n user.note -v "value-$M" "$mnt/file-$M"
  setfattr -n user.other -v "$M" "$mnt/dir-$M"
  sync
}

check_readback() {
  local mnt=$1
  [ "$(grep -o -F "$M" "$mnt/file-$M" | wc -l)" -eq 4000 ] || fail "file-$M does not read back"
  [ "$(cat "$mnt/dir-$M/short")" = "$M" ] || fail "dir-$M/short does not read back"
  [ "$(grep -c -a -F "$M" "$mnt/dir-$M/mixed")" -ge 1 ] || fail "dir-$M/mixed does not read back"
  [ "$(cat "$mnt/$long")" = "long name $M" ] || fail "the long-named file does not read back"
  [ "$(readlink "$mnt/link-$M")" = "target-$M/$M" ] || fail "link-$M does not read back"
  [ "$(getfattr --only-values -n user.note "$mnt/file-$M")" = "value-$M" ] ||
    fail "user.note does not read back"
  [ -d "$mnt/dir-$M/$long" ] && [ -p "$mnt/fifo-$M" ] || fail "long directory or FIFO missing"
}

for cfg in aes-256-gcm:4096 aes-256-xts:4096 aes-128-xts:65536 sm4-xts:4096; do
  cipher=${cfg%:*}
  chunk=${cfg#*:}
  vol=$T/vol-$cipher
  mnt=$T/mnt-$cipher
  key=$T/key-$cipher
  note "$cipher, chunk size $chunk"
  make_vol "$vol" "$key" "$cipher" "$chunk"
  mount_vol "$vol" "$mnt" "key_file=$key"
  populate "$mnt"
  check_readback "$mnt"
  umount_wait "$mnt"

  [ "$(find "$vol" -mindepth 1 | wc -l)" -ge 10 ] || fail "the backing directory looks empty"
  if grep -r -a -l -F -e "$M" -e "$rand" "$vol" >&2; then
    fail "plaintext markers found in the backing files of $cipher (listed above)"
  fi
  if find "$vol" | grep -F -e "$M" -e "$rand" >&2; then
    fail "plaintext markers found in backing names of $cipher (listed above)"
  fi
  find "$vol" -exec getfattr -h -d -m - -e hex --absolute-names {} + >"$T/xattrs" 2>/dev/null || true
  if grep -i -e "$MHEX" -e "$rand" "$T/xattrs" >&2; then
    fail "plaintext markers found in backing extended attributes of $cipher (listed above)"
  fi
  mount_vol "$vol" "$mnt" "key_file=$key"
  check_readback "$mnt"
  umount_wait "$mnt"
done
