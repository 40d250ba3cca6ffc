#!/bin/bash
# Format 2 keeps what moves bound to its place and working: POSIX semantics (posixops, with
# hard links, renames and RENAME_EXCHANGE) hold and persist; a directory renamed with its
# contents keeps its children's blobs byte for byte (nothing below it is re-encrypted);
# symbolic links renamed (across directories, over another link, long targets), hard-linked
# (an independent copy), exchanged with a file or another link; directories exchanged;
# attributes of a renamed directory and file stay; all of it survives a remount, the daemon
# logs no damage and fsck finds the volume clean.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"
command -v python3 >/dev/null || skip "python3 is needed for renameat2"
POSIXOPS=$(ecfs_tool posixops)

bound_volume

mkdir "$T/px" "$mnt/px"
note "posixops on a format-2 volume"
"$POSIXOPS" "$mnt/px" >"$T/posixops.log" 2>&1 ||
  { grep -v '^ok ' "$T/posixops.log" | head -n 40 >&2; fail "posixops fails on format 2"; }

long=$(head -c 3000 /dev/zero | tr '\0' t)
mkdir -p "$mnt/a/sub/deep" "$mnt/b" "$mnt/e1" "$mnt/e2"
head -c 10000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/a/sub/deep/f"
echo e1 >"$mnt/e1/f"
echo e2 >"$mnt/e2/f"
setfattr -n user.dir -v dirvalue "$mnt/a/sub"
setfattr -n user.file -v filevalue "$mnt/a/sub/deep/f"
ln -s target-one "$mnt/a/l1"
ln -s target-two "$mnt/b/l2"
ln -s "$long" "$mnt/a/llong"
ln -s target-over "$mnt/b/over"
ln -s target-x "$mnt/b/lx"
echo plain >"$mnt/b/fx"
ino=$(stat -c %i "$mnt/a/sub/deep/f")
# The size is recorded at the release that follows cp's close, or at an fsync: then the
# blob stays as it is.
sync "$mnt/a/sub/deep/f"
# blob_sum: the checksum of f's backing blob (found by its inode number, wherever it is).
blob_sum() { cksum <"$(find "$vol" -inum "$ino")"; }
sum=$(blob_sum)

note "rename a directory with contents across directories"
mv "$mnt/a/sub" "$mnt/b/sub2"
[ "$(blob_sum)" = "$sum" ] || fail "renaming a directory rewrote a blob below it"
cmp "$T/data" "$mnt/b/sub2/deep/f" || fail "b/sub2/deep/f differs after the rename"
note "rename symlinks: across directories, over another link, a long target"
mv "$mnt/a/l1" "$mnt/b/l1m"
mv "$mnt/b/l2" "$mnt/b/over"
mv "$mnt/a/llong" "$mnt/b/llong2"
note "hard link of a symlink: an independent copy"
ln "$mnt/b/l1m" "$mnt/a/l1copy"
[ "$(stat -c %i "$mnt/b/l1m")" != "$(stat -c %i "$mnt/a/l1copy")" ] ||
  fail "a hard link of a symlink shares its inode"
note "RENAME_EXCHANGE: two directories, a symlink with a file"
exchange "$mnt/e1" "$mnt/e2"
exchange "$mnt/b/lx" "$mnt/b/fx"

check_all() {
  cmp "$T/data" "$mnt/b/sub2/deep/f" || fail "b/sub2/deep/f differs"
  [ "$(blob_sum)" = "$sum" ] || fail "the blob below the renamed directory changed"
  [ "$(getfattr -n user.dir --only-values "$mnt/b/sub2")" = dirvalue ] || fail "user.dir lost"
  [ "$(getfattr -n user.file --only-values "$mnt/b/sub2/deep/f")" = filevalue ] ||
    fail "user.file lost"
  [ "$(readlink "$mnt/b/l1m")" = target-one ] || fail "b/l1m does not read"
  [ "$(readlink "$mnt/a/l1copy")" = target-one ] || fail "a/l1copy does not read"
  [ "$(readlink "$mnt/b/over")" = target-two ] || fail "b/over does not read target-two"
  [ "$(readlink "$mnt/b/llong2")" = "$long" ] || fail "b/llong2 does not read"
  [ "$(readlink "$mnt/b/fx")" = target-x ] || fail "b/fx is not the exchanged symlink"
  [ "$(cat "$mnt/b/lx")" = plain ] || fail "b/lx is not the exchanged file"
  [ "$(cat "$mnt/e1/f")" = e2 ] && [ "$(cat "$mnt/e2/f")" = e1 ] ||
    fail "the exchanged directories do not read"
  [ ! -e "$mnt/a/sub" ] && [ ! -L "$mnt/a/l1" ] && [ ! -L "$mnt/b/l2" ] ||
    fail "an old name is still there"
  ls -laR "$mnt" >/dev/null || fail "ls -R fails"
}
check_all
umount_fg "$mnt"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
note "after a remount"
check_all
"$POSIXOPS" --check-persist "$mnt/px" >"$T/posixops.log" 2>&1 ||
  { grep -v '^ok ' "$T/posixops.log" | head -n 40 >&2; fail "posixops --check-persist fails"; }
umount_fg "$mnt"
log_clean "$log"
grep -q "bound to another place" "$log" && { cat "$log" >&2; fail "the daemon logged a binding"; }
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 ||
  { cat "$T/fsck.out" >&2; fail "fsck -n does not find the volume clean"; }
