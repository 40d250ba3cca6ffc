#!/bin/bash
# Format 2 binds every name of a hard-linked file: link(2) writes the file's link file
# (envcryptfs.links.*) with the tags of all its names and marks its blob header LINKED.
# Every name opens, also after renames of a linked name, unlinks and a remount; the last name
# takes the link file with it. With the volume unmounted, an attacker moves a linked blob to
# a name that is not one of its names, and drops a link file: EIO with a log line.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

bound_volume

mkdir "$mnt/d1" "$mnt/d2" "$mnt/d3"
echo linked >"$mnt/d1/h"
echo other >"$mnt/d1/o"
[ "$(nlinks)" -eq 0 ] || fail "a link file exists before any link(2)"
ln "$mnt/d1/h" "$mnt/d2/h2"
ln "$mnt/d1/h" "$mnt/d3/h3"
[ "$(nlinks)" -eq 1 ] || fail "no link file after link(2)"
[ "$(stat -c %h "$mnt/d1/h")" -eq 3 ] || fail "d1/h does not have 3 links"
has d1/h linked
has d2/h2 linked
has d3/h3 linked
note "unlink one name, rename a linked name, write through one name"
rm "$mnt/d1/h"
mv "$mnt/d2/h2" "$mnt/d1/h2m"
echo more >>"$mnt/d3/h3"
has d1/h2m "$(printf 'linked\nmore')"
has d3/h3 "$(printf 'linked\nmore')"
note "rename over a linked name"
echo rep >"$mnt/d2/rep"
ln "$mnt/d2/rep" "$mnt/d2/rep2"
mv "$mnt/d1/o" "$mnt/d2/rep2"
has d2/rep rep
has d2/rep2 other
umount_fg "$mnt"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
has d1/h2m "$(printf 'linked\nmore')"
has d3/h3 "$(printf 'linked\nmore')"
has d2/rep rep
[ ! -e "$mnt/d1/h" ] || fail "d1/h is back"
grep "bound to another place" "$log" && fail "the daemon's own operations logged a place"
umount_fg "$mnt"
note "fsck finds linked files, renamed and unlinked names clean"
rc=0
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$T/fsck.out" >&2; fail "fsck -n exit $rc on a clean volume"; }
mount_fg "$vol" "$mnt" "key_file=$key" "$log"

bh=$(backing_of d3/h3)
note "unmounted: a linked blob given a name that is not one of its names"
echo decoy >"$mnt/d1/decoy"
bdecoy=$(backing_of d1/decoy)
umount_fg "$mnt"
rm "$bdecoy"
ln "$bh" "$bdecoy"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
eio cat "$mnt/d1/decoy"
has d3/h3 "$(printf 'linked\nmore')"
umount_fg "$mnt"
# The log names the blob by one of its backing names (the link's inode has several).
grep -F -e "$bdecoy" -e "$bh" "$log" | in_output "bound to another place" ||
  { cat "$log" >&2; fail "no 'bound to another place' line names $bdecoy"; }
rm "$bdecoy"

note "unmounted: the link files removed"
mkdir "$T/saved"
mv "$vol"/envcryptfs.links.* "$T/saved/"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
eio cat "$mnt/d3/h3"
umount_fg "$mnt"
# The blob has two backing names; the line names one of them.
grep -F "'/d3/h3' (backing '$vol/" "$log" | in_output "link file: missing" ||
  { cat "$log" >&2; fail "no 'link file' line names the blob of d3/h3"; }
mv "$T/saved"/envcryptfs.links.* "$vol/"

note "the last name takes the link file with it"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
rm "$mnt/d3/h3" "$mnt/d1/h2m" "$mnt/d2/rep" "$mnt/d2/rep2"
settles 0 nlinks || { ls -la "$vol" >&2; fail "link files left after the last names went"; }
umount_fg "$mnt"
