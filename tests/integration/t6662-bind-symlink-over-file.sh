#!/bin/bash
# Format 2: renaming a symbolic link over the last name of a regular file removes what the
# file's name kept at the root, as unlink(2) and a rename of a file over it do: the link file
# of a file that had hard links, the holes map of a sparse file. Afterwards fsck -n finds no
# leftover, and a name the file still has keeps reading.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

key=$T/key vol=$T/vol mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096 --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log"

echo linked >"$mnt/f"
ln "$mnt/f" "$mnt/g"
rm "$mnt/g"
ls "$vol"/envcryptfs.links.* >/dev/null 2>&1 || fail "a file that had two names has no link file"
echo kept >"$mnt/h"
ln "$mnt/h" "$mnt/h2"
truncate -s 1M "$mnt/s"
ls "$vol"/envcryptfs.holes.* >/dev/null 2>&1 || fail "a sparse file has no holes map"

ln -s target-f "$mnt/lf"
mv -T "$mnt/lf" "$mnt/f"
ln -s target-h "$mnt/lh"
mv -T "$mnt/lh" "$mnt/h"
ln -s target-s "$mnt/ls"
mv -T "$mnt/ls" "$mnt/s"
[ "$(readlink "$mnt/f")" = target-f ] && [ "$(readlink "$mnt/h")" = target-h ] &&
  [ "$(readlink "$mnt/s")" = target-s ] || fail "a link renamed over a file does not read"
[ "$(cat "$mnt/h2")" = kept ] || fail "the other name of a file replaced by a link does not read"
umount_fg "$mnt"
log_clean "$T/log"
[ "$(ls "$vol" | grep -c '^envcryptfs\.links\.')" -eq 1 ] ||
  { ls "$vol" >&2; fail "not exactly the link file of h2's file is left"; }
ls "$vol"/envcryptfs.holes.* >/dev/null 2>&1 && fail "the holes map of a replaced file is left"
fsck -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 ||
  { cat "$T/fsck.out" >&2; fail "fsck -n does not find the volume clean"; }
note "ok"
