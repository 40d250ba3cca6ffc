#!/bin/bash
# Format 2: an unlink of a file the daemon holds trusts the LINKED and SPARSE header flags the
# daemon last read or wrote, instead of reading the header again. So every flag the daemon
# sets afterwards must reach that record: a file whose header was read as plain, then linked
# (or made sparse) in the same mount, must still lose its link file (or holes map) with its
# last name. The last name of a file whose header the daemon never read goes at once, and its
# link file or holes map when the kernel forgets the file.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

bound_volume
fsck_clean() {
  local rc=0
  "$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
  [ $rc -eq 0 ] || { cat "$T/fsck.out" >&2; fail "fsck -n exit $rc: $1"; }
}

note "read as plain, then linked: each unlink keeps the link file right"
# No open between the links and the unlinks: an open reads the header again.
echo linked >"$mnt/a"
has a linked
ln "$mnt/a" "$mnt/b"
ln "$mnt/a" "$mnt/c"
[ "$(nlinks)" -eq 1 ] || fail "no link file after link(2)"
rm "$mnt/a"
[ "$(nlinks)" -eq 1 ] || fail "the link file went before the last name"
rm "$mnt/b"
rm "$mnt/c"
[ "$(nlinks)" -eq 0 ] || fail "the link file outlived the file's last name"
echo kept >"$mnt/k"
has k kept
ln "$mnt/k" "$mnt/k2"
rm "$mnt/k"
has k2 kept

note "read as dense, then made sparse: its last unlink takes the holes map"
echo dense >"$mnt/s"
has s dense
dd if=/dev/zero of="$mnt/s" bs=1 count=1 seek=$((1024 * 1024)) conv=notrunc status=none
# The gap a write past the end leaves is committed when the daemon releases the file, which
# the kernel asks for after close(2) has returned.
settles 1 nmaps || fail "writing 1 MiB past the end made no holes map"
echo plain >"$mnt/p"
has p plain
rm "$mnt/s" "$mnt/p"
[ ! -e "$mnt/s" ] && [ ! -e "$mnt/p" ] || fail "a removed name is still there"

note "a linked file the daemon has not read since the mount"
echo fresh >"$mnt/f"
ln "$mnt/f" "$mnt/g"
echo once >"$mnt/once"
ln "$mnt/once" "$mnt/once2"
rm "$mnt/once2"
dd if=/dev/zero of="$mnt/sp" bs=1 count=1 seek=$((1024 * 1024)) status=none
umount_fg "$mnt"
[ "$(nmaps)" -eq 1 ] || fail "the sparse file's holes map outlived it (sp's alone stays)"
fsck_clean "after unlinks of files whose flags the daemon knew"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
rm "$mnt/f"
has g fresh
has k2 kept
# Three link files: f and g's, k2's and once's (one name left each).
[ "$(nlinks)" -eq 3 ] || fail "the link file went before the last name (fresh lookup)"
rm "$mnt/g"
[ "$(nlinks)" -eq 2 ] || fail "the link file outlived the last name (fresh lookup)"
note "last names of a linked and a sparse file whose headers the daemon never read"
[ "$(nmaps)" -eq 1 ] || fail "no holes map for sp"
ls -l "$mnt" >/dev/null
rm "$mnt/once" "$mnt/sp"
settles 1 nlinks || fail "the link file of a file never read outlived its last name"
settles 0 nmaps || fail "the holes map of a file never read outlived its last name"
has k2 kept
umount_fg "$mnt"
fsck_clean "after unlinks of files looked up afresh"
grep "bound to another place\|cannot drop" "$log" && fail "the daemon logged damage of its own"
true
