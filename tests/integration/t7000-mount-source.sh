#!/bin/bash
# The mount's source is the backing directory and its type fuse.envcryptfs: findmnt -S DIR
# and -t fuse.envcryptfs find it, umount -c DIR unmounts it (a path with a comma and a space
# too), mount -t fuse.envcryptfs goes through mount.fuse3 with the options mount(8), fstab
# and systemd pass, and a second `mount -T FSTAB -a` mounts nothing twice.
# mount(8) runs mount.fuse3 without PATH, and it finds the daemon on the shell's default
# path: the test runs in a mount namespace of its own where /usr/local/sbin holds the daemon
# under test.
if [ -z "${ECFS_T7000_NS:-}" ]; then
  command -v unshare >/dev/null || { echo "unshare not installed"; exit 77; }
  exec env ECFS_T7000_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v findmnt >/dev/null || skip "findmnt not installed"
command -v mount.fuse3 >/dev/null || skip "mount.fuse3 not installed"
# mount.fuse3 runs the daemon by its file system type's name.
mkdir -p "$T/sbin" /usr/local/sbin
ln -s "$ECFS" "$T/sbin/envcryptfs"
mount --bind "$T/sbin" /usr/local/sbin || fail "cannot bind $T/sbin over /usr/local/sbin"
export PATH="$ECFS_BIN:$PATH"

key=$T/key
vol=$T/vol
make_vol "$vol" "$key" aes-256-gcm 4096

# mounts_at MNT: how many mounts /proc/self/mounts lists at MNT.
mounts_at() { awk -v m="$1" '$2 == m {n++} END {print n + 0}' /proc/self/mounts; }

# umount_source DIR MNT: unmounts by the source alone, then waits for the daemon to go. -c:
# without it umount(8) takes a directory for a mount point (util-linux 2.38 asks statfs of
# the argument first) and never looks at the sources.
umount_source() {
  local pid
  pid=$(daemon_pid "$2")
  umount -c "$1" || fail "umount -c $1 failed"
  [ "$(mounts_at "$2")" = 0 ] || fail "umount $1 left $2 mounted"
  [ -z "$pid" ] || wait_gone "$pid"
}
wait_gone() {
  local i
  for ((i = 0; i < HANG_SECS * 10; i++)); do
    proc_alive "$1" || return 0
    sleep 0.1
  done
  fail "the daemon (pid $1) still runs $HANG_SECS s after the unmount"
}

note "the daemon names the backing directory as the source, even with a comma and a space"
odd="$T/back, up"
make_vol "$odd" "$key" aes-256-gcm 4096
mount_vol "$odd" "$T/m0" "key_file=$key"
[ "$(findmnt -n -S "$odd" -o TARGET)" = "$T/m0" ] || fail "findmnt -S '$odd' does not find $T/m0"
[ "$(findmnt -n -M "$T/m0" -o FSTYPE)" = fuse.envcryptfs ] || fail "the type is not fuse.envcryptfs"
findmnt -n -t fuse.envcryptfs -o TARGET | in_output -xF "$T/m0" ||
  fail "findmnt -t fuse.envcryptfs does not list $T/m0"
echo hello >"$T/m0/f" || fail "cannot write through $T/m0"
umount_source "$odd" "$T/m0"

note "mount -t fuse.envcryptfs with what mount(8), fstab and systemd pass"
mkdir -p "$T/m1"
register_mount "$T/m1"
opts="key_file=$key,rw,noexec,nosuid,nodev,nofail,_netdev,x-systemd.automount"
opts+=",x-systemd.requires=network-online.target,x-systemd.device-timeout=30,auto_unmount"
mount -t fuse.envcryptfs "$vol" "$T/m1" -o "$opts" 2>"$T/stderr" || {
  cat "$T/stderr" >&2
  fail "mount -t fuse.envcryptfs -o $opts failed"
}
! grep -qi unknown "$T/stderr" || { cat "$T/stderr" >&2; fail "an option was unknown"; }
[ "$(findmnt -n -S "$vol" -o TARGET)" = "$T/m1" ] || fail "findmnt -S $vol does not find $T/m1"
mopts=$(findmnt -n -M "$T/m1" -o VFS-OPTIONS)
for o in rw noexec nosuid nodev; do
  [[ ",$mopts," == *",$o,"* ]] || fail "$T/m1 is mounted with $mopts, not $o"
done
echo data >"$T/m1/g" || fail "cannot write through $T/m1"
umount_source "$vol" "$T/m1"

note "the fstab example of envcryptfs(8) mounts, with its options in force"
example=$(grep '^/srv/data.enc /srv/data fuse.envcryptfs ' "$ECFS_TESTS/../../man/envcryptfs.8") ||
  fail "no fstab example in envcryptfs(8)"
mkdir -p "$T/mx"
register_mount "$T/mx"
echo "$example" | sed -e "s|^/srv/data.enc /srv/data |$vol $T/mx |" \
  -e "s|/etc/envcryptfs/data.key|$key|" >"$T/fstab-example"
mount -T "$T/fstab-example" -a 2>"$T/stderr" || {
  cat "$T/stderr" >&2
  fail "mount -a of the man page's fstab example failed"
}
[ "$(cat "$T/mx/g")" = data ] || fail "$T/mx does not show the volume"
mopts=$(findmnt -n -M "$T/mx" -o VFS-OPTIONS)
for o in nosuid nodev; do
  [[ ",$mopts," == *",$o,"* ]] || fail "the fstab example mounts with $mopts, not $o"
done
umount_source "$vol" "$T/mx"

note "an fstab line mounts once, however often mount -a runs"
mkdir -p "$T/m2" "$T/m3"
register_mount "$T/m2"
register_mount "$T/m3"
printf '%s %s fuse.envcryptfs key_file=%s,nofail,_netdev,x-systemd.automount 0 0\n' \
  "$vol" "$T/m2" "$key" >"$T/fstab"
make_vol "$T/vol-ro" "$key" aes-256-gcm 4096
printf '%s %s fuse.envcryptfs ro,key_file=%s,noexec,nosuid,nodev 0 0\n' \
  "$T/vol-ro" "$T/m3" "$key" >>"$T/fstab"
for round in 1 2; do
  mount -T "$T/fstab" -a 2>"$T/stderr" || {
    cat "$T/stderr" >&2
    fail "mount -T fstab -a failed (round $round)"
  }
  [ "$(mounts_at "$T/m2")" = 1 ] || fail "round $round: $T/m2 is mounted $(mounts_at "$T/m2") times"
  [ "$(mounts_at "$T/m3")" = 1 ] || fail "round $round: $T/m3 is mounted $(mounts_at "$T/m3") times"
done
[ "$(cat "$T/m2/g")" = data ] || fail "$T/m2 does not show the volume"
! touch "$T/m3/x" 2>"$T/stderr" || fail "the ro fstab mount $T/m3 took a write"
grep -q "Read-only" "$T/stderr" || { cat "$T/stderr" >&2; fail "a write to $T/m3 did not fail with EROFS"; }
umount_source "$vol" "$T/m2"
umount_source "$T/vol-ro" "$T/m3"
