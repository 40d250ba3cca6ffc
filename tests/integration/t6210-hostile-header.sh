#!/bin/bash
# A FIFO or a symbolic link in place of a header file never blocks a tool or is read through:
# every tool names the object and what it is; with the other copy intact it is damage that the
# tools report (fsck -n exits 4) and a read-write mount repairs; with both copies replaced,
# mount, fsck and envcryptfsctl info exit with their "unusable header" codes.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$FSCK" ] || skip "$FSCK not built"

vol=$T/vol mnt=$T/mnt key=$T/key
register_mount "$mnt"
make_vol "$vol" "$key" aes-256-gcm 4096
mount_vol "$vol" "$mnt" "key_file=$key"
echo data >"$mnt/file"
umount_wait "$mnt"
cp -a "$vol" "$T/good"

# plant KIND FILE: FILE of the volume becomes a FIFO or a symbolic link to the good copy.
plant() {
  rm -f "$vol/$2"
  if [ "$1" = fifo ]; then mkfifo "$vol/$2"; else ln -s "$T/good/$2" "$vol/$2"; fi
}
what() { [ "$1" = fifo ] && echo "is a FIFO, not a regular file" || echo "is a symbolic link, not a regular file"; }
# run CODE CMD...: expect_exit with a deadline: a tool blocked on a FIFO is a failure.
run() { local want=$1; shift; expect_exit "$want" timeout -k 5 "$HANG_SECS" "$@" </dev/null; }

for kind in fifo symlink; do
  for f in envcryptfs.header envcryptfs.header.copy; do
    note "$kind as $f: reported, then repaired by a read-write mount"
    rm -rf "$vol" && cp -a "$T/good" "$vol"
    plant $kind $f
    run 4 "$FSCK" -n --key-file "$key" "$vol"
    grep -qF "'$f' $(what $kind)" "$T/stdout" "$T/stderr" || { cat "$T/stdout" "$T/stderr" >&2; fail "fsck -n does not name $f"; }
    run 0 "$CTL" info "$vol"
    run 0 "$ECFS" "$vol" "$mnt" -o "key_file=$key"
    stderr_has "'$f' $(what $kind)"
    stderr_has "rewrote both header copies"
    [ "$(cat "$mnt/file")" = data ] || fail "content after the repair"
    umount_wait "$mnt"
    [ -f "$vol/$f" ] && [ ! -L "$vol/$f" ] || fail "$f was not rewritten as a regular file"
    cmp -s "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" || fail "the copies differ"
  done
  note "$kind as both header files: every tool refuses at once"
  rm -rf "$vol" && cp -a "$T/good" "$vol"
  plant $kind envcryptfs.header
  plant $kind envcryptfs.header.copy
  run 4 "$ECFS" "$vol" "$mnt" -o "key_file=$key"
  stderr_has "'envcryptfs.header' $(what $kind)"
  stderr_has "'envcryptfs.header.copy' $(what $kind)"
  ! mountpoint -q "$mnt" || fail "mounted without a header"
  run 4 "$FSCK" -n --key-file "$key" "$vol"
  stderr_has "'envcryptfs.header' $(what $kind)"
  run 4 "$CTL" info "$vol"
  stderr_has "'envcryptfs.header.copy' $(what $kind)"
done

note "mkfs makes the backing root 0700, a new one and an existing empty one alike"
"$MKFS" -q "${FAST_ARGON[@]}" --key-file "$key" "$T/new" >/dev/null || fail "mkfs of a new directory"
[ "$(stat -c %a "$T/new")" = 700 ] || fail "a new root is mode $(stat -c %a "$T/new")"
mkdir -m 0755 "$T/empty"
"$MKFS" -q "${FAST_ARGON[@]}" --key-file "$key" "$T/empty" >/dev/null || fail "mkfs of an empty directory"
[ "$(stat -c %a "$T/empty")" = 700 ] || fail "an existing empty root is mode $(stat -c %a "$T/empty")"
