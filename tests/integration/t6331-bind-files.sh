#!/bin/bash
# Format 2 binds regular files to their names: the blob header carries a tag of the file's
# place. With the volume unmounted, an attacker swaps two files' blobs across directories and
# copies one file's blob over another's; while mounted, swaps two files (one kept open). Each
# reads as EIO with a log line naming the blob; what was left alone reads. The daemon's own
# renames (across directories, over a file, RENAME_EXCHANGE of two files and of a file with a
# directory), mknod, and truncating a file with a damaged header keep files readable, also
# after a remount, with no such log line.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"
command -v python3 >/dev/null || skip "python3 is needed for renameat2 and mknod"
[ -w /proc/sys/vm/drop_caches ] || skip "needs /proc/sys/vm/drop_caches"

bound_volume
# has FILE TEXT: FILE reads as TEXT.

mkdir "$mnt/d1" "$mnt/d2" "$mnt/d3" "$mnt/dx"
echo one >"$mnt/d1/f"
echo two >"$mnt/d2/g"
echo x >"$mnt/x"
echo y >"$mnt/y"
echo kept >"$mnt/d3/kept"
echo p >"$mnt/p"
echo q >"$mnt/q"

note "renames: across directories, over another file, exchanges, mknod, remount"
echo r1 >"$mnt/d1/r1"
echo r2 >"$mnt/d2/r2"
echo e1 >"$mnt/d1/e1"
echo e2 >"$mnt/d2/e2"
echo ef >"$mnt/ef"
echo over >"$mnt/d2/over"
mv "$mnt/d1/r1" "$mnt/d3/r1m"
mv "$mnt/d2/r2" "$mnt/d2/over"
exchange "$mnt/d1/e1" "$mnt/d2/e2"
exchange "$mnt/ef" "$mnt/dx"
python3 -c 'import os, stat, sys; os.mknod(sys.argv[1], 0o644 | stat.S_IFREG)' "$mnt/d3/node" ||
  fail "mknod of a regular file failed"
echo node >"$mnt/d3/node"
check_renamed() {
  has d3/r1m r1
  has d2/over r2
  has d1/e1 e2
  has d2/e2 e1
  has dx ef
  [ -d "$mnt/ef" ] || fail "ef is not the exchanged directory"
  has d3/node node
}
check_renamed
umount_fg "$mnt"
grep "bound to another place" "$log" && fail "the daemon's own operations logged a place"
rc=0
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$T/fsck.out" >&2; fail "fsck -n exit $rc after renames"; }
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
check_renamed

note "truncating a file with a damaged header gives it a fresh one bound to its place"
echo damaged >"$mnt/d3/dmg"
bd=$(backing_of d3/dmg)
umount_fg "$mnt"
printf '\xff' | dd of="$bd" bs=1 seek=60 conv=notrunc status=none
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
eio cat "$mnt/d3/dmg"
: >"$mnt/d3/dmg" || fail "truncating the damaged file failed"
echo again >"$mnt/d3/dmg"
has d3/dmg again
grep "bound to another place" "$log" && fail "the daemon's own operations logged a place"

declare -A B
for p in d1/f d2/g x y d3/kept p q; do
  B[$p]=$(backing_of "$p")
  [ -n "${B[$p]}" ] || fail "no backing entry found for $p"
done

note "while mounted: swap p's and q's blobs, p kept open"
exec 4<"$mnt/p"
mv "${B[p]}" "$vol/swap.tmp"
mv "${B[q]}" "${B[p]}"
mv "$vol/swap.tmp" "${B[q]}"
sync
echo 2 >/proc/sys/vm/drop_caches
# q's backing name now holds p's blob, whose inode the daemon knows (p is open).
eio cat "$mnt/q"
exec 4<&-
umount_fg "$mnt"
grep -F "${B[q]}" "$log" | in_output "bound to another place" ||
  { cat "$log" >&2; fail "no 'bound to another place' line names ${B[q]}"; }

note "unmounted: swap d1/f and d2/g's blobs; copy x's blob over y's"
mv "${B[d1/f]}" "$vol/swap.tmp"
mv "${B[d2/g]}" "${B[d1/f]}"
mv "$vol/swap.tmp" "${B[d2/g]}"
cp -f "${B[x]}" "${B[y]}"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
eio cat "$mnt/d1/f"
eio cat "$mnt/d2/g"
eio cat "$mnt/y"
note "a file bound elsewhere is not legitimized by renaming it"
eio mv "$mnt/y" "$mnt/y2"
note "what was left alone still reads"
has x x
has d3/kept kept
check_renamed
umount_fg "$mnt"

note "fsck reports the files bound elsewhere"
rc=0
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat "$T/fsck.out" >&2; fail "fsck -n exit $rc, not 4"; }
[ "$(grep -c "file is bound to another place" "$T/fsck.out")" -ge 4 ] ||
  { cat "$T/fsck.out" >&2; fail "fsck does not report the files bound elsewhere"; }

note "each blob is named in the log"
for p in "${B[d1/f]}" "${B[d2/g]}" "${B[y]}"; do
  grep -F "$p" "$log" | in_output "bound to another place" ||
    { cat "$log" >&2; fail "no 'bound to another place' line names $p"; }
done
