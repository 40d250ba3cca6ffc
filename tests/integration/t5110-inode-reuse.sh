#!/bin/bash
# A parked inode (one that keeps a file handle instead of a descriptor, past half the open
# file limit) does not keep its backing file alive: once the file is unlinked while the
# kernel still holds the inode (here a bind mount of it), the backing file system gives its
# number to the next new file. That new file must get an inode of its own, not the parked
# one found by number (whose handle names the removed file: every access was ESTALE). (The
# unlinked file itself cannot be opened again through the bind mount: a parked inode has
# nothing left to open it by once its entry is gone.)
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v prlimit >/dev/null || skip "prlimit not installed"
vol=$T/vol mnt=$T/mnt key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096
# 64 descriptors: inodes park past 32.
register_mount "$mnt"
env --default-signal=INT,TERM prlimit --nofile=64:64 "$ECFS" -f "$vol" "$mnt" -o "key_file=$key" \
  >"$T/daemon.log" 2>&1 &
DAEMON=$!
wait_mounted "$mnt" "$DAEMON"
mkdir "$mnt/d"
for i in $(seq 1 60); do echo "filler $i" >"$mnt/d/filler$i"; done
stat "$mnt"/d/filler* >/dev/null
ls -l "/proc/$DAEMON/fd" | grep -c "$vol" >"$T/nfds" || true
[ "$(cat "$T/nfds")" -lt 60 ] || fail "the daemon holds $(cat "$T/nfds") descriptors: no inode parked"

reused=0
for i in $(seq 1 20); do
  echo "old $i" >"$mnt/d/old"
  touch "$T/pin$i"
  MOUNTS+=("$T/pin$i")
  mount --bind "$mnt/d/old" "$T/pin$i" || skip "cannot bind-mount a file of the mount"
  old_ino=$(stat -c %i "$mnt/d/old")
  rm "$mnt/d/old"
  echo "new $i" >"$mnt/d/new$i"
  [ "$(stat -c %i "$mnt/d/new$i")" != "$old_ino" ] || reused=$((reused + 1))
  [ "$(cat "$mnt/d/new$i")" = "new $i" ] || fail "new$i, made after old was unlinked, reads wrong"
  echo "more" >>"$mnt/d/new$i" || fail "cannot append to new$i"
  umount "$T/pin$i"
done
note "$reused of 20 new files got the number of the unlinked one"
[ "$reused" -gt 0 ] || skip "the backing file system never reused an inode number"
for i in $(seq 1 20); do
  [ "$(cat "$mnt/d/new$i")" = "$(printf 'new %s\nmore' "$i")" ] || fail "new$i reads wrong"
done
umount_fg "$mnt"
log_clean "$T/daemon.log"
"$FSCK" -n --key-file "$key" "$vol" </dev/null >"$T/fsck.out" 2>&1 ||
  { cat "$T/fsck.out" >&2; fail "fsck.envcryptfs -n does not find the volume clean"; }
