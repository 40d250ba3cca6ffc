#!/bin/bash
# Format 2 checks bindings against where the kernel finds an object now, not where it was
# found first: while mounted, an attacker swaps the backing names of two directories the
# daemon already knows (one kept open, so that its inode stays known); listing them gives
# EIO and a log line naming the backing directory, never the other one's entries. Leftovers
# of interrupted operations (envcryptfs.tmp.*) do not keep a directory from being removed.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -w /proc/sys/vm/drop_caches ] || skip "needs /proc/sys/vm/drop_caches"

vol=$T/vol mnt=$T/mnt key=$T/key log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096 --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$log"

mkdir "$mnt/A" "$mnt/B"
echo a >"$mnt/A/only-in-a"
echo b >"$mnt/B/only-in-b"
ls "$mnt/A" "$mnt/B" >/dev/null
ba=$(backing_of A) bb=$(backing_of B)
[ -n "$ba" ] && [ -n "$bb" ] || fail "backing directories not found"

note "swap the backing names of A and B while mounted, B kept open"
exec 3<"$mnt/B"
mv "$ba" "$vol/swap.tmp"
mv "$bb" "$ba"
mv "$vol/swap.tmp" "$bb"
sync
echo 2 >/proc/sys/vm/drop_caches
# A's backing name now holds B's directory, whose inode the daemon knows (B is open).
eio ls "$mnt/A"
eio ls "$mnt/B"
[ ! -e "$mnt/A/only-in-b" ] || fail "B's entries appear under A"
exec 3<&-
grep -F "$bb" "$log" | in_output "bound to another place" ||
  { cat "$log" >&2; fail "no 'bound to another place' line names $bb"; }
grep -F "$ba" "$log" | in_output "bound to another place" ||
  { cat "$log" >&2; fail "no 'bound to another place' line names $ba"; }

note "put them back: both list again"
mv "$ba" "$vol/swap.tmp"
mv "$bb" "$ba"
mv "$vol/swap.tmp" "$bb"
sync
echo 2 >/proc/sys/vm/drop_caches
[ "$(ls "$mnt/A")" = only-in-a ] || fail "A does not list after the swap back"
[ "$(ls "$mnt/B")" = only-in-b ] || fail "B does not list after the swap back"

note "leftovers of interrupted operations do not keep a directory from being removed"
mkdir "$mnt/R"
br=$(backing_of R)
echo junk >"$br/envcryptfs.tmp.0011223344556677"
ln -s junk "$br/envcryptfs.tmp.8899aabbccddeeff"
mkdir "$br/envcryptfs.tmp.00112233445566778899aabbccddeeff"
echo id >"$br/envcryptfs.tmp.00112233445566778899aabbccddeeff/envcryptfs.dirid"
[ -z "$(ls -A "$mnt/R")" ] || fail "leftovers are listed"
rmdir "$mnt/R" || fail "rmdir of a directory holding only leftovers failed"
[ ! -e "$br" ] || fail "the backing directory of R is still there"
mkdir "$mnt/R2"
echo x >"$mnt/R2/f"
br=$(backing_of R2)
echo junk >"$br/envcryptfs.tmp.0011223344556677"
if rmdir "$mnt/R2" 2>/dev/null; then fail "rmdir of a directory with a file succeeded"; fi
umount_fg "$mnt"
