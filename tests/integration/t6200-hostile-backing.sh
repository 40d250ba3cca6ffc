#!/bin/bash
# Objects an attacker plants in the backing directory in place of the files the daemon reads
# (a FIFO or a symbolic link as a directory ID file, long-name side file or link-target side
# file, a directory as a blob) never hang the daemon or make it read another file: each use
# fails with EIO, the log names the object and what it is, and the rest of the mount works.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

vol=$T/vol mnt=$T/mnt key=$T/key log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096
long=$(printf 'n%.0s' $(seq 1 200))
ltarget=$(printf 't%.0s' $(seq 1 3500))
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
mkdir "$mnt/a"
adir=$(find "$vol" -mindepth 1 -maxdepth 1 -type d)
mkdir "$mnt/b"
echo x >"$mnt/a/f"
echo y >"$mnt/b/g"
echo v >"$mnt/victim"
vblob=$(find "$vol" -mindepth 1 -maxdepth 1 -type f ! -name 'envcryptfs.*')
echo l >"$mnt/b/$long"
ln -s "$ltarget" "$mnt/b/link"
umount_fg "$mnt"
bdir=$(find "$vol" -mindepth 1 -maxdepth 1 -type d ! -path "$adir")
side=$(find "$bdir" -name '*.name')
ref=$(find "$vol" -maxdepth 1 -name 'envcryptfs.target.*')
[ -n "$adir" ] && [ -n "$bdir" ] && [ -f "$side" ] && [ -f "$ref" ] && [ -f "$vblob" ] ||
  fail "test bug: backing objects not found: $(find "$vol")"
cp -a "$adir/envcryptfs.dirid" "$T/dirid.a"
cp -a "$side" "$T/side"
cp -a "$ref" "$T/ref"

# expect_eio CMD...: CMD fails with EIO, within HANG_SECS (timeout's 124 is a hang).
expect_eio() {
  local rc=0
  timeout -k 5 "$HANG_SECS" "$@" >"$T/stdout" 2>"$T/stderr" || rc=$?
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "'$*' hangs"
  [ "$rc" -ne 0 ] || fail "'$*' succeeded on a hostile backing object"
  grep -q "Input/output error" "$T/stderr" || { cat "$T/stderr" >&2; fail "'$*' did not fail with EIO"; }
}
# log_has TEXT: the daemon's log names the object.
log_has() { grep -qF -- "$1" "$log" || { cat "$log" >&2; fail "the daemon log lacks '$1'"; }; }
# others_work: the rest of the mount is unaffected.
others_work() {
  [ "$(timeout -k 5 "$HANG_SECS" cat "$mnt/b/g")" = y ] || fail "b/g unreadable beside a hostile object"
  echo z >"$mnt/b/new" && [ "$(cat "$mnt/b/new")" = z ] || fail "cannot write beside a hostile object"
  rm "$mnt/b/new"
}

note "a FIFO as a directory ID: ls fails with EIO, does not hang, the log names it"
rm -f "$adir/envcryptfs.dirid"
mkfifo "$adir/envcryptfs.dirid"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
expect_eio ls "$mnt/a"
expect_eio touch "$mnt/a/new"
others_work
log_has "'envcryptfs.dirid' is a FIFO, not a regular file"
umount_fg "$mnt"

note "a symbolic link to another directory's ID: EIO, never read through"
rm -f "$adir/envcryptfs.dirid"
ln -s "../${bdir##*/}/envcryptfs.dirid" "$adir/envcryptfs.dirid"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
expect_eio ls "$mnt/a"
others_work
log_has "'envcryptfs.dirid' is a symbolic link, not a regular file"
umount_fg "$mnt"
rm -f "$adir/envcryptfs.dirid"
cp -a "$T/dirid.a" "$adir/envcryptfs.dirid"

note "a FIFO, then a symbolic link, as a long name's side file"
for kind in fifo symlink; do
  rm -f "$side"
  if [ $kind = fifo ]; then mkfifo "$side"; else ln -s "${bdir##*/}" "$side"; fi
  mount_fg "$vol" "$mnt" "key_file=$key" "$log"
  expect_eio cat "$mnt/b/$long"
  [ "$(timeout -k 5 "$HANG_SECS" cat "$mnt/b/g")" = y ] || fail "b/g unreadable beside a hostile side file"
  [ "$(timeout -k 5 "$HANG_SECS" cat "$mnt/a/f")" = x ] || fail "a/f unreadable"
  umount_fg "$mnt"
done
rm -f "$side"
cp -a "$T/side" "$side"

note "a FIFO, then a symbolic link, as a link target's side file"
for kind in fifo symlink; do
  rm -f "$ref"
  if [ $kind = fifo ]; then mkfifo "$ref"; else ln -s "envcryptfs.header" "$ref"; fi
  mount_fg "$vol" "$mnt" "key_file=$key" "$log"
  expect_eio readlink -v "$mnt/b/link"
  others_work
  umount_fg "$mnt"
done
rm -f "$ref"
cp -a "$T/ref" "$ref"

note "a directory where a blob was: no hang, no crash, it reads as no file, EIO inside it"
rm -f "$vblob"
mkdir "$vblob"
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
! timeout -k 5 "$HANG_SECS" cat "$mnt/victim" >/dev/null 2>&1 || fail "a directory reads as the blob"
expect_eio touch "$mnt/victim/x"
others_work
[ "$(readlink "$mnt/b/link")" = "$ltarget" ] || fail "the restored link target differs"
[ "$(cat "$mnt/b/$long")" = l ] || fail "the restored long name does not read"
[ "$(cat "$mnt/a/f")" = x ] || fail "the restored directory ID does not work"
umount_fg "$mnt"
