#!/bin/bash
# Format 2 binds directories, symbolic links and extended attributes to their place: with the
# volume unmounted, an attacker with write access to the backing directory swaps two
# directories' encrypted names, copies one directory's ID file over another's, swaps two
# symbolic links' stored targets (across directories and within one), and moves an extended
# attribute value onto another file and onto another attribute name. Each reads as EIO with
# a log line naming the object; what was left alone still reads; fsck reports each one.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

bound_volume
mkdir "$mnt/d1" "$mnt/d2" "$mnt/d3" "$mnt/d4" "$mnt/keepdir"
echo one >"$mnt/d1/f"
echo two >"$mnt/d2/f"
echo three >"$mnt/d3/f"
echo four >"$mnt/d4/f"
echo kept >"$mnt/keepdir/f"
ln -s target-one "$mnt/d1/l1"
ln -s target-root "$mnt/lr"
ln -s target-a "$mnt/keepdir/la"
ln -s target-b "$mnt/keepdir/lb"
ln -s target-kept "$mnt/keepdir/lk"
echo x >"$mnt/x1"
echo x >"$mnt/x2"
setfattr -n user.a -v AAAA "$mnt/x1"
setfattr -n user.b -v BBBBBBBB "$mnt/x1"
setfattr -n user.a -v aaaa "$mnt/x2"
setfattr -n user.k -v kept-longer "$mnt/x2"
declare -A B
for p in d1 d2 d3 d4 d1/l1 lr keepdir/la keepdir/lb x1 x2; do
  B[$p]=$(backing_of "$p")
  [ -n "${B[$p]}" ] || fail "no backing entry found for $p"
done
umount_fg "$mnt"

# hexattr FILE SIZE: the encrypted name of FILE's one user attribute whose value has SIZE bytes.
hexattr() {
  getfattr -d -m '^user\.' -e hex "$1" 2>/dev/null |
    awk -F= -v n=$((2 + 2 * $2)) '/^user\./ && length($2) == n {print $1}'
}

note "swap the encrypted names of d1 and d2"
mv "${B[d1]}" "$vol/swap.tmp"
mv "${B[d2]}" "${B[d1]}"
mv "$vol/swap.tmp" "${B[d2]}"
note "copy d3's directory ID file over d4's"
cp -f "${B[d3]}/envcryptfs.dirid" "${B[d4]}/envcryptfs.dirid"
note "swap the stored targets of d1/l1 and /lr (across directories)"
# d1's backing entry now carries d2's name: l1 lives in the directory shown as d2.
l1=${B[d2]}/${B[d1/l1]##*/}
t1=$(readlink "$l1")
t2=$(readlink "${B[lr]}")
ln -sfn -- "$t2" "$l1"
ln -sfn -- "$t1" "${B[lr]}"
note "swap the stored targets of keepdir/la and keepdir/lb (one directory)"
ta=$(readlink "${B[keepdir/la]}")
tb=$(readlink "${B[keepdir/lb]}")
ln -sfn -- "$tb" "${B[keepdir/la]}"
ln -sfn -- "$ta" "${B[keepdir/lb]}"
note "move x1's user.a value onto x2's user.a, and onto x1's user.b"
a1=$(hexattr "${B[x1]}" 36)
b1=$(hexattr "${B[x1]}" 40)
a2=$(hexattr "${B[x2]}" 36)
[ -n "$a1" ] && [ -n "$b1" ] && [ -n "$a2" ] || fail "backing attributes not found"
v=$(getfattr -n "$a1" -e hex "${B[x1]}" | awk -F= '/^user/ {print $2}')
setfattr -n "$a2" -v "$v" "${B[x2]}"
setfattr -x "$b1" "${B[x1]}"
setfattr -n "$b1" -v "$v" "${B[x1]}"

mount_fg "$vol" "$mnt" "key_file=$key" "$log"
eio ls "$mnt/d1"
eio ls "$mnt/d2"
eio cat "$mnt/d1/f"
eio ls "$mnt/d4"
eio readlink -v "$mnt/lr"
eio readlink -v "$mnt/keepdir/la"
eio readlink -v "$mnt/keepdir/lb"
eio getfattr -n user.a "$mnt/x2"
eio getfattr -n user.b "$mnt/x1"
note "what was left alone still reads"
[ "$(cat "$mnt/d3/f")" = three ] || fail "d3/f does not read"
[ "$(cat "$mnt/keepdir/f")" = kept ] || fail "keepdir/f does not read"
[ "$(readlink "$mnt/keepdir/lk")" = target-kept ] || fail "keepdir/lk does not read"
[ "$(getfattr -n user.a --only-values "$mnt/x1")" = AAAA ] || fail "x1's user.a does not read"
[ "$(getfattr -n user.k --only-values "$mnt/x2")" = kept-longer ] || fail "x2's user.k does not read"
umount_fg "$mnt"

note "each object is named in the log"
for p in "${B[d1]}" "${B[d2]}" "${B[d4]}" "${B[lr]}" "${B[keepdir/la]}" "${B[keepdir/lb]}"; do
  grep -F "$p" "$log" | in_output "bound to another place" ||
    { cat "$log" >&2; fail "no 'bound to another place' line names $p"; }
done
for p in "${B[x1]}" "${B[x2]}"; do
  grep -F "$p" "$log" | in_output "extended attribute value failed authentication" ||
    { cat "$log" >&2; fail "no attribute line names $p"; }
done

note "fsck reports the moved directories and symlinks, and changes nothing with -y"
rc=0
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat "$T/fsck.out" >&2; fail "fsck -n exit $rc, not 4"; }
[ "$(grep -c "bound to another place" "$T/fsck.out")" -ge 3 ] ||
  { cat "$T/fsck.out" >&2; fail "fsck does not report the directories bound elsewhere"; }
grep -q "symbolic link target does not decrypt" "$T/fsck.out" ||
  { cat "$T/fsck.out" >&2; fail "fsck does not report the swapped symlinks"; }
sum_before=$(find "$vol" -name 'envcryptfs.dirid' -exec cat {} + | cksum)
rc=0
"$FSCK" -y --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
[ "$(find "$vol" -name 'envcryptfs.dirid' -exec cat {} + | cksum)" = "$sum_before" ] ||
  fail "fsck -y rewrote a directory ID file"
