#!/bin/bash
# make install and make uninstall: into a DESTDIR (the exact file list, then nothing left),
# and into a real PREFIX from which mount -t fuse.envcryptfs (through mount.fuse3) and
# fsck -t envcryptfs (fsck(8) searches /sbin... and then PATH) find the installed tools.
# mount(8) hands mount.fuse3 no PATH of the caller's: the test runs in a mount namespace of
# its own where the installed sbin is bound over /usr/local/sbin, as a default install is.
if [ -z "${ECFS_T7020_NS:-}" ]; then
  command -v unshare >/dev/null || { echo "unshare not installed"; exit 77; }
  exec env ECFS_T7020_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v make >/dev/null || skip "make not installed"
command -v mount.fuse3 >/dev/null || skip "mount.fuse3 not installed"
src=$(cd "$ECFS_TESTS/../.." && pwd)

# install_into VAR=VALUE...: make install from the build under test (the same flags, so that
# nothing is rebuilt: SANITIZE=1 when the build is a sanitizer one).
san=0
grep -q -- -fsanitize "$ECFS_BIN/cflags" 2>/dev/null && san=1
run_make() {
  make -s -C "$src" BUILD="$ECFS_BIN" SANITIZE=$san "$@" >"$T/make.out" 2>&1 || {
    cat "$T/make.out" >&2
    fail "make $* failed"
  }
}

note "make install DESTDIR=: exactly the tools, the man pages and the unit"
dest=$T/dest
run_make install DESTDIR="$dest" PREFIX=/usr/local
cat >"$T/expected" <<'LIST'
/usr/local/lib/systemd/system/envcryptfs@.service
/usr/local/sbin/envcryptfs
/usr/local/sbin/envcryptfs-kmsd
/usr/local/sbin/envcryptfsctl
/usr/local/sbin/fsck.envcryptfs
/usr/local/sbin/mkfs.envcryptfs
/usr/local/share/man/man5/envcryptfs.5
/usr/local/share/man/man8/envcryptfs-kmsd.8
/usr/local/share/man/man8/envcryptfs.8
/usr/local/share/man/man8/envcryptfsctl.8
/usr/local/share/man/man8/fsck.envcryptfs.8
/usr/local/share/man/man8/mkfs.envcryptfs.8
LIST
(cd "$dest" && find . \( -type f -o -type l \) | sed 's/^\.//' | LC_ALL=C sort) >"$T/installed"
diff "$T/expected" "$T/installed" >&2 || fail "make install put other files than expected (above)"
for p in envcryptfs envcryptfsctl fsck.envcryptfs mkfs.envcryptfs; do
  cmp -s "$ECFS_BIN/$p" "$dest/usr/local/sbin/$p" || fail "the installed $p is not the one built"
  [ "$(stat -c %a "$dest/usr/local/sbin/$p")" = 755 ] || fail "$p is not installed 0755"
done
unit=$dest/usr/local/lib/systemd/system/envcryptfs@.service
grep -q '^ExecStart=/usr/local/sbin/envcryptfs -f ' "$unit" ||
  fail "the installed unit does not run /usr/local/sbin/envcryptfs"
! grep -q @SBINDIR@ "$unit" || fail "the installed unit still holds @SBINDIR@"

note "make uninstall DESTDIR=: nothing left, and a file of someone else's stays"
touch "$dest/usr/local/sbin/not-ours"
run_make uninstall DESTDIR="$dest" PREFIX=/usr/local
left=$(cd "$dest" && find . \( -type f -o -type l \) | sed 's/^\.//')
[ "$left" = /usr/local/sbin/not-ours ] || fail "make uninstall left or removed: $left"

note "make install PREFIX=: mount -t fuse.envcryptfs and fsck -t envcryptfs find the tools"
prefix=$T/prefix
run_make install PREFIX="$prefix"
[ -x "$prefix/sbin/envcryptfs" ] || fail "no $prefix/sbin/envcryptfs"
mkdir -p /usr/local/sbin
mount --bind "$prefix/sbin" /usr/local/sbin || fail "cannot bind $prefix/sbin over /usr/local/sbin"
key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
register_mount "$mnt"
mount -t fuse.envcryptfs "$vol" "$mnt" -o "key_file=$key,nosuid,nodev" 2>"$T/stderr" || {
  cat "$T/stderr" >&2
  fail "mount -t fuse.envcryptfs with the installed daemon failed"
}
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "no daemon serves $mnt"
# (the same file: /proc names it by the bound path)
[ "$(stat -L -c %d:%i "/proc/$pid/exe")" = "$(stat -c %d:%i "$prefix/sbin/envcryptfs")" ] ||
  fail "$mnt is served by $(readlink "/proc/$pid/exe"), not the installed daemon"
echo installed >"$mnt/f" || fail "cannot write through $mnt"
umount_wait "$mnt"

note "the installed daemon takes every option mount(8), mount.fuse3, fstab and systemd may pass"
opts="key_file=$key,defaults,auto,noauto,user,nouser,users,nofail,_netdev,rw,nosuid,nodev,noexec"
opts+=",relatime,noatime,x-systemd.automount,x-systemd.idle-timeout=10min,comment=x-gvfs-hide"
opts+=",x-systemd.requires=network-online.target,auto_unmount"
"$prefix/sbin/envcryptfs" "$vol" "$mnt" -o "$opts" 2>"$T/stderr" || {
  cat "$T/stderr" >&2
  fail "the daemon refused -o $opts"
}
mountpoint -q "$mnt" || fail "$mnt is not mounted with -o $opts"
[ "$(cat "$mnt/f")" = installed ] || fail "$mnt does not show the volume"
umount_wait "$mnt"
PATH="$prefix/sbin:$PATH" command fsck -t envcryptfs -n "$vol" >"$T/fsck.out" 2>&1 || {
  cat "$T/fsck.out" >&2
  fail "fsck -t envcryptfs -n $vol failed"
}
grep -q 'no key given' "$T/fsck.out" || {
  cat "$T/fsck.out" >&2
  fail "fsck -t envcryptfs did not run fsck.envcryptfs"
}
umount /usr/local/sbin
run_make uninstall PREFIX="$prefix"
left=$(find "$prefix" \( -type f -o -type l \))
[ -z "$left" ] || fail "make uninstall PREFIX=$prefix left $left"
