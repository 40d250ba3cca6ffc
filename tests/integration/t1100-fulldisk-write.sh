#!/bin/bash
# A full backing file system never damages stored data. On a 20 MB tmpfs, with and without
# the writeback cache: appends, writes into holes and inside a file, extending truncates and
# fallocate that run out of space fail with ENOSPC (never EIO); every byte stored before reads
# as before (also after a remount); no chunk fails authentication; the log names the full
# backing; a dd far larger than the backing fails with ENOSPC (at write(2) or at close with
# the writeback cache) and leaves a file that reads; after space is freed the files take
# writes again and fsck finds nothing to repair.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
FSOP=$(ecfs_tool fsop)
CS=4096

# expect_nospc WHAT RESULT: RESULT (fsop's line) is ok or ENOSPC/EDQUOT at some step.
expect_nospc() {
  case $2 in
    ok | *" ENOSPC" | *" EDQUOT") note "$1: $2" ;;
    *) fail "$1 ended with '$2', expected ok or ENOSPC" ;;
  esac
}

# expect_failed WHAT RESULT: RESULT is ENOSPC or EDQUOT at some step.
expect_failed() {
  case $2 in
    *" ENOSPC" | *" EDQUOT") note "$1: $2" ;;
    *) fail "$1 ended with '$2', expected ENOSPC" ;;
  esac
}

# same_prefix FILE COPY: FILE starts with all of COPY and reads without an error.
same_prefix() {
  cat "$1" >/dev/null || fail "$1 cannot be read"
  cmp -n "$(stat -c %s "$2")" "$1" "$2" || fail "$1 no longer holds what was stored before"
}

# fill BACK FREE_KB: fills the file system at BACK, then frees FREE_KB of it again.
fill() {
  dd if=/dev/zero of="$1/filler" bs=64k status=none 2>/dev/null || true
  [ "$2" -eq 0 ] || truncate -s "-$2K" "$1/filler"
  sync
}

run() {
  local opts=$1 n=$2 back=$T/back$2 mnt=$T/mnt$2 key=$T/key log=$T/log$2 pid r
  mkdir -p "$back"
  mount -t tmpfs -o size=20m tmpfs "$back"
  register_mount "$back"
  make_vol "$back/vol" "$key" aes-256-gcm $CS
  register_mount "$mnt"
  "$ECFS" "$back/vol" "$mnt" -f -o "key_file=$key${opts:+,$opts}" 2>"$log" &
  pid=$!
  wait_mounted "$mnt" "$pid"

  note "[$opts] files stored before the disk fills"
  head -c 5000 /dev/urandom >"$T/keep"
  head -c $((3 * CS + 100)) /dev/urandom >"$T/mid"
  head -c 102400 /dev/urandom >"$T/more"
  head -c 8192 /dev/urandom >"$T/patch"
  cp "$T/keep" "$mnt/keep"
  cp "$T/keep" "$mnt/keep2"
  cp "$T/keep" "$mnt/keep3"
  cp "$T/mid" "$mnt/mid"
  # A sparse file: 64 KiB of holes, then data.
  truncate -s 65536 "$T/sparse"
  cat "$T/keep" >>"$T/sparse"
  cp --sparse=always "$T/sparse" "$mnt/sparse"
  sync

  note "[$opts] fill the backing, leaving 40 KiB"
  fill "$back" 40
  r=$("$FSOP" append "$mnt/keep" "$T/more")
  expect_failed "append 100 KiB" "$r"
  same_prefix "$mnt/keep" "$T/keep"

  fill "$back" 0
  r=$("$FSOP" write "$mnt/sparse" 8192 "$T/patch")
  expect_failed "write into a hole" "$r"
  same_prefix "$mnt/sparse" "$T/sparse"

  r=$("$FSOP" write "$mnt/mid" 100 "$T/patch")
  expect_nospc "overwrite inside a file" "$r"
  if [ "$r" = ok ]; then
    dd if="$T/patch" of="$T/mid" bs=1 seek=100 conv=notrunc status=none
  fi
  cmp "$mnt/mid" "$T/mid" || fail "mid differs after the overwrite"

  r=$("$FSOP" truncate "$mnt/keep2" 409600)
  expect_nospc "extending truncate" "$r"
  same_prefix "$mnt/keep2" "$T/keep"
  if [ "$r" = ok ]; then
    cmp -i 5000 -n 404600 "$mnt/keep2" /dev/zero || fail "keep2 past its old end is not zeros"
  fi

  r=$("$FSOP" fallocate "$mnt/keep3" 0 4194304)
  expect_failed "fallocate 4 MiB" "$r"
  same_prefix "$mnt/keep3" "$T/keep"
  [ "$(stat -c %s "$mnt/keep3")" -eq 5000 ] || fail "the failed fallocate changed the size"

  note "[$opts] dd of 40 MiB into what is left of 20 MB"
  rm -f "$back/filler"
  r=0
  dd if=/dev/urandom of="$mnt/big" bs=1M count=40 2>"$T/dd.err" || r=$?
  [ $r -ne 0 ] || fail "dd of 40 MiB into a 20 MB backing succeeded"
  grep -q "No space left on device" "$T/dd.err" || { cat "$T/dd.err" >&2; fail "dd did not see ENOSPC"; }
  ! grep -q "Input/output error" "$T/dd.err" || { cat "$T/dd.err" >&2; fail "dd saw EIO"; }
  cat "$mnt/big" >/dev/null || fail "big cannot be read after the failed dd"
  rm "$mnt/big"

  grep -q "backing file system full ($back/vol): No space left on device" "$log" ||
    { cat "$log" >&2; fail "the log does not name the full backing"; }
  ! grep -q "authentication" "$log" || { cat "$log" >&2; fail "the log reports an authentication failure"; }

  note "[$opts] after a remount, every byte stored before reads as before"
  umount_wait "$mnt"
  wait_exit "$pid"
  rm -f "$back/filler"
  "$FSCK" -n --key-file "$key" "$back/vol" >"$T/fsck.out" 2>&1 ||
    { cat "$T/fsck.out" >&2; fail "fsck -n finds problems after the failed writes"; }
  mount_vol "$back/vol" "$mnt" "key_file=$key${opts:+,$opts}"
  same_prefix "$mnt/keep" "$T/keep"
  same_prefix "$mnt/keep2" "$T/keep"
  same_prefix "$mnt/keep3" "$T/keep"
  same_prefix "$mnt/sparse" "$T/sparse"
  cmp "$mnt/mid" "$T/mid" || fail "mid differs after the remount"

  note "[$opts] with space again, the same writes succeed"
  # (the part of the failed append that write(2) reported as written is there too)
  cp "$mnt/keep" "$T/keep.new"
  cat "$T/more" >>"$T/keep.new"
  r=$("$FSOP" append "$mnt/keep" "$T/more")
  [ "$r" = ok ] || fail "append after freeing space: $r"
  cmp "$mnt/keep" "$T/keep.new" || fail "keep differs after the append"
  umount_wait "$mnt"
  "$FSCK" -n --key-file "$key" "$back/vol" >"$T/fsck.out" 2>&1 ||
    { cat "$T/fsck.out" >&2; fail "fsck -n finds problems at the end"; }
}

run "" 1
run no_writeback_cache 2
