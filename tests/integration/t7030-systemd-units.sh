#!/bin/bash
# The template unit deploy/systemd/envcryptfs@.service passes systemd-analyze verify (a copy
# whose ExecStart names the daemon under test), and its ExecStart, expanded the way systemd
# expands it (the volume's .conf file, the credentials directory), mounts the volume and
# unmounts it on SIGTERM. The man page's fstab line with _netdev and x-systemd.automount
# becomes, through systemd-fstab-generator, a fuse.envcryptfs mount unit and an automount
# pulled in by remote-fs.target, and mount -a mounts it as written.
if [ -z "${ECFS_T7030_NS:-}" ]; then
  command -v unshare >/dev/null || { echo "unshare not installed"; exit 77; }
  exec env ECFS_T7030_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed (package systemd)"
gen=/lib/systemd/system-generators/systemd-fstab-generator
[ -x "$gen" ] || skip "no $gen (package systemd)"
src=$(cd "$ECFS_TESTS/../.." && pwd)
unit_src=$src/deploy/systemd/envcryptfs@.service
man=$src/man/envcryptfs.8

# verify_quiet FILE...: systemd-analyze verify succeeds and has nothing to say (it only
# warns, with status 0, about a directive it cannot parse).
verify_quiet() {
  SYSTEMD_LOG_LEVEL=info systemd-analyze verify --man=no "$@" >"$T/verify.out" 2>&1 || {
    cat "$T/verify.out" >&2
    fail "systemd-analyze verify $* failed"
  }
  [ ! -s "$T/verify.out" ] || { cat "$T/verify.out" >&2; fail "systemd-analyze verify $* warns"; }
}

note "the template unit verifies (instance data, the daemon under test)"
mkdir -p "$T/units"
sed "s|@SBINDIR@|$ECFS_BIN|g" "$unit_src" >"$T/units/envcryptfs@data.service"
verify_quiet "$T/units/envcryptfs@data.service"
grep -qx 'Type=notify' "$T/units/envcryptfs@data.service" || fail "the unit is not Type=notify"
for o in PrivateTmp ProtectSystem ProtectHome PrivateDevices PrivateMounts ReadOnlyPaths \
  ReadWritePaths InaccessiblePaths TemporaryFileSystem ProtectKernelModules; do
  ! grep -q "^$o=" "$T/units/envcryptfs@data.service" ||
    fail "$o= gives the service its own mount namespace: its mount would be invisible"
done
# verify does read what it is given: a directive it does not know is reported.
sed 's/^Type=notify/Type=notifyy/' "$T/units/envcryptfs@data.service" >"$T/units/bad@data.service"
SYSTEMD_LOG_LEVEL=info systemd-analyze verify --man=no "$T/units/bad@data.service" \
  >"$T/verify.out" 2>&1 || true
[ -s "$T/verify.out" ] || fail "systemd-analyze verify reports nothing for a broken unit"

note "the unit's ExecStart, expanded as systemd does, mounts and stops on SIGTERM"
key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
mkdir -p "$mnt" "$T/cred"
cp "$key" "$T/cred/key"
printf 'BACKING=%s\nMOUNTPOINT=%s\n' "$vol" "$mnt" >"$T/data.conf"
# Environment= first, then EnvironmentFile= (which wins), as systemd applies them.
env_line=$(sed -n 's/^Environment=//p' "$unit_src")
exec_line=$(sed -n "s|^ExecStart=@SBINDIR@|$ECFS_BIN|p" "$unit_src")
[ -n "$exec_line" ] || fail "no ExecStart in $unit_src"
(
  set -a
  eval "$env_line"
  . "$T/data.conf"
  set +a
  read -ra words <<<"$exec_line"
  args=()
  for w in "${words[@]}"; do
    w=${w//%d/$T/cred}
    w=${w//'${BACKING}'/$BACKING}
    w=${w//'${MOUNTPOINT}'/$MOUNTPOINT}
    w=${w//'${OPTIONS}'/$OPTIONS}
    args+=("$w")
  done
  printf '%s\n' "${args[@]}" >"$T/argv"
  exec env --default-signal=TERM "${args[@]}" >"$T/daemon.log" 2>&1
) &
daemon=$!
register_mount "$mnt"
wait_mounted "$mnt" "$daemon"
mopts=$(findmnt -n -M "$mnt" -o VFS-OPTIONS)
for o in nosuid nodev; do
  [[ ",$mopts," == *",$o,"* ]] || fail "the unit's default OPTIONS did not give $o ($mopts)"
done
echo unit >"$mnt/f" || fail "cannot write through the unit's mount"
kill -TERM "$daemon"
wait_exit "$daemon"
[ "$WAIT_RC" -eq 0 ] || { cat "$T/daemon.log" >&2; fail "the daemon exited $WAIT_RC on SIGTERM"; }
! is_mounted "$mnt" || fail "$mnt is still mounted after SIGTERM"

note "the man page's automount fstab line through systemd-fstab-generator"
line=$(grep '^/srv/archive.enc /srv/archive fuse.envcryptfs .*x\\-systemd.automount' "$man" |
  sed 's/\\-/-/g') || fail "no x-systemd.automount fstab example in envcryptfs(8)"
[ "$(echo "$line" | wc -l)" = 1 ] || fail "more than one automount example in envcryptfs(8)"
echo "$line" >"$T/fstab"
mkdir -p "$T/gen/normal" "$T/gen/early" "$T/gen/late"
SYSTEMD_FSTAB=$T/fstab SYSTEMD_PROC_CMDLINE="" SYSTEMD_LOG_LEVEL=err \
  "$gen" "$T/gen/normal" "$T/gen/early" "$T/gen/late" || fail "systemd-fstab-generator failed"
g=$T/gen/normal
[ -f "$g/srv-archive.mount" ] || fail "no srv-archive.mount generated"
[ -f "$g/srv-archive.automount" ] || fail "no srv-archive.automount generated"
for want in What=/srv/archive.enc Where=/srv/archive Type=fuse.envcryptfs; do
  grep -qx "$want" "$g/srv-archive.mount" || { cat "$g/srv-archive.mount" >&2; fail "the mount unit lacks $want"; }
done
grep -q '^Options=.*_netdev' "$g/srv-archive.mount" ||
  fail "the mount unit lost _netdev (which orders it after network-online.target)"
[ -L "$g/remote-fs.target.wants/srv-archive.automount" ] ||
  fail "the automount is not pulled in by remote-fs.target"
[ ! -e "$g/local-fs.target.wants/srv-archive.automount" ] ||
  fail "the automount is pulled in by local-fs.target (before the network)"
[ ! -e "$g/remote-fs.target.wants/srv-archive.mount" ] ||
  fail "the mount itself is pulled in at boot, not on first access"
verify_quiet "$g/srv-archive.mount" "$g/srv-archive.automount"

note "mount -a mounts the same line as written"
mkdir -p "$T/sbin" /usr/local/sbin "$T/archive"
ln -s "$ECFS" "$T/sbin/envcryptfs"
mount --bind "$T/sbin" /usr/local/sbin || fail "cannot bind $T/sbin over /usr/local/sbin"
register_mount "$T/archive"
sed -e "s|^/srv/archive.enc /srv/archive |$vol $T/archive |" \
  -e "s|/etc/envcryptfs/archive.key|$key|" "$T/fstab" >"$T/fstab-local"
mount -T "$T/fstab-local" -a 2>"$T/stderr" || { cat "$T/stderr" >&2; fail "mount -a of the automount line failed"; }
[ "$(cat "$T/archive/f")" = unit ] || fail "$T/archive does not show the volume"
umount_wait "$T/archive"
