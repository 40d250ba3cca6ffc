#!/bin/bash
# Namespace and header changes on a full backing file system, out of space (size=) and out of
# inodes (nr_inodes=): create, mkdir, symlink, rename, setxattr, a long name and a key slot
# added with envcryptfsctl fail with ENOSPC (never EIO) or succeed; nothing half made is left
# behind (fsck -n stays clean), the files stored before read as before, and the volume still
# opens with its old key.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
FSOP=$(ecfs_tool fsop)

expect_nospc() {
  case $2 in
    ok | *" ENOSPC" | *" EDQUOT") note "$1: $2" ;;
    *) fail "$1 ended with '$2', expected ok or ENOSPC" ;;
  esac
}

# fill_space BACK / fill_inodes BACK: uses up the space or the inodes of the tmpfs at BACK.
fill_space() { dd if=/dev/zero of="$1/filler" bs=64k status=none 2>/dev/null || true; }
fill_inodes() {
  local i=0
  mkdir -p "$1/inodes"
  while { : >"$1/inodes/$i"; } 2>/dev/null; do i=$((i + 1)); done
}

run() {
  local kind=$1 opts=$2 n=$3 back=$T/back$3 mnt=$T/mnt$3 key=$T/key$3 r long
  mkdir -p "$back"
  if [ "$kind" = space ]; then
    mount -t tmpfs -o size=8m tmpfs "$back"
  else
    mount -t tmpfs -o size=64m,nr_inodes=200 tmpfs "$back"
  fi
  register_mount "$back"
  newkey "$key"
  newkey "$T/new$n"
  make_vol "$back/vol" "$key" aes-256-gcm 4096
  mount_vol "$back/vol" "$mnt" "key_file=$key${opts:+,$opts}"
  head -c 5000 /dev/urandom >"$T/keep"
  head -c 3000 /dev/urandom >"$T/value"
  cp "$T/keep" "$mnt/keep"
  mkdir "$mnt/dir"
  cp "$T/keep" "$mnt/dir/keep"
  sync
  note "[$kind $opts] the backing is full"
  "fill_$kind" "$back"

  long=$(printf 'l%.0s' {1..200})
  expect_nospc "create" "$("$FSOP" create "$mnt/new")"
  expect_nospc "create with a long name" "$("$FSOP" create "$mnt/$long")"
  expect_nospc "mkdir" "$("$FSOP" mkdir "$mnt/newdir")"
  expect_nospc "symlink" "$("$FSOP" symlink "$(printf 't%.0s' {1..3000})" "$mnt/link")"
  expect_nospc "rename" "$("$FSOP" rename "$mnt/keep" "$mnt/dir/$long")"
  expect_nospc "setxattr" "$("$FSOP" setxattr "$mnt/dir/keep" user.big "$T/value")"
  expect_nospc "write a new file" "$("$FSOP" write "$mnt/dir/new" 0 "$T/keep")"
  cmp "$mnt/dir/keep" "$T/keep" || fail "dir/keep differs"
  if [ -e "$mnt/keep" ]; then
    cmp "$mnt/keep" "$T/keep" || fail "keep differs"
  else
    cmp "$mnt/dir/$long" "$T/keep" || fail "the renamed keep differs"
  fi
  ls -laR "$mnt" >/dev/null || fail "listing the volume fails"

  note "[$kind $opts] a key slot added on the full backing"
  r=0
  "$CTL" slot add "$back/vol" --unlock-key-file "$key" --key-file "$T/new$n" >"$T/ctl.out" 2>&1 || r=$?
  note "slot add exited $r: $(head -n 1 "$T/ctl.out")"
  umount_wait "$mnt"
  rm -rf "$back/filler" "$back/inodes"
  "$FSCK" -n --key-file "$key" "$back/vol" >"$T/fsck.out" 2>&1 ||
    { cat "$T/fsck.out" >&2; fail "fsck -n finds problems after the failures"; }
  if [ $r -eq 0 ]; then
    "$CTL" check-key "$back/vol" --unlock-key-file "$T/new$n" >/dev/null 2>&1 ||
      fail "slot add succeeded but the new key does not open the volume"
  fi
  mount_vol "$back/vol" "$mnt" "key_file=$key${opts:+,$opts}"
  cmp "$mnt/dir/keep" "$T/keep" || fail "dir/keep differs after the remount"
  note "[$kind $opts] with room again everything works"
  mkdir -p "$mnt/after"
  cp "$T/keep" "$mnt/after/keep"
  ln -s target "$mnt/after/link"
  setfattr -n user.x -v 1 "$mnt/after/keep" 2>/dev/null || true
  cmp "$mnt/after/keep" "$T/keep" || fail "a file written after freeing space differs"
  umount_wait "$mnt"
}

run space "" 1
run space no_writeback_cache 2
run inodes "" 3
