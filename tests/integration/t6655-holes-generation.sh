#!/bin/bash
# Format 2 holes: a map commit whose header write fails (ENOSPC) may leave a map of the next
# generation on disk; the retry must use a generation past it, so that a copy of that map
# never fits the file's header later. Truncating to 0 also moves the header's generation on.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection

CS=4096
key=$T/key
mnt=$T/mnt

blob_of() { find "$1" -maxdepth 1 -inum "$(stat -c %i "$mnt/$2")" -print -quit; }
# gen_of BLOB: the holes generation in its header (bytes 28 to 31, big-endian).
gen_of() { od -An -tu1 -j28 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}'; }

make_vol "$T/tmpl" "$key" aes-256-gcm $CS --format-version 2
mount_vol "$T/tmpl" "$mnt" "key_file=$key"
head -c $CS /dev/urandom >"$mnt/f"
umount_wait "$mnt"

# The N-th step of the daemon fails with ENOSPC: find one that fails the first growing
# truncate (its map commit); the second must commit past the generation it may have left.
done_one=
for n in $(seq 0 40); do
  rm -rf "$T/vol" && cp -a "$T/tmpl" "$T/vol"
  ECFS_FAULT_AFTER=$n ECFS_FAULT_KIND=enospc mount_fg "$T/vol" "$mnt" "key_file=$key" "$T/log"
  if truncate -s $((20 * CS)) "$mnt/f" 2>/dev/null; then
    umount_fg "$mnt"
    continue
  fi
  truncate -s $((30 * CS)) "$mnt/f" || fail "step $n: the retry after a failed commit fails"
  b=$(blob_of "$T/vol" f)
  umount_fg "$mnt"
  g=$(gen_of "$b")
  [ "$g" -ge 2 ] || fail "step $n: the retry reused the generation of the failed commit ($g)"
  done_one=1
  break
done
[ -n "$done_one" ] || fail "no step failed the first map commit"

note "truncating to 0 moves the generation past every map written"
mount_vol "$T/vol" "$mnt" "key_file=$key"
g=$(gen_of "$b")
: >"$mnt/f"
umount_wait "$mnt"
[ "$(gen_of "$b")" -gt "$g" ] || fail "truncating to 0 kept the holes generation $g"
