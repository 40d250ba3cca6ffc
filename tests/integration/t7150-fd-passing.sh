#!/bin/bash
# Serving on /dev/fd/N: a privileged parent opens /dev/fuse and mounts (as CSI drivers and
# mount.fuse3 -o drop_privileges do) and the daemon serves the descriptor with no capabilities
# and no_new_privs, never looking at the mount point. Files round-trip; SIGTERM ends the
# daemon with 0 and every byte written before it is in the volume (the parent unmounts); the
# daemon also serves as an unprivileged user; mount.fuse3 -o drop_privileges works.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v python3 >/dev/null || skip "python3 not installed"
command -v strace >/dev/null || skip "strace not installed"

key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
register_mount "$mnt"

# parent.py BACKING MNT UID CMD...: opens /dev/fuse, mounts it at MNT for user UID and execs
# CMD with "{fd}" replaced by the descriptor's number.
cat >"$T/parent.py" <<'PY'
import ctypes, os, sys
backing, mnt, uid = sys.argv[1:4]
cmd = sys.argv[4:]
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/dev/fuse", os.O_RDWR)
os.set_inheritable(fd, True)
opts = "fd=%d,rootmode=40000,user_id=%s,group_id=%s,allow_other,default_permissions" % (fd, uid, uid)
if libc.mount(backing.encode(), mnt.encode(), b"fuse.envcryptfs", 6, opts.encode()) != 0:
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
os.execvp(cmd[0], [a.replace("{fd}", str(fd)) for a in cmd])
PY

# serve_fd UID CMD...: the parent mounts and runs CMD; PARENT is its pid (CMD's after exec).
serve_fd() {
  local uid=$1
  shift
  python3 "$T/parent.py" "$vol" "$mnt" "$uid" "$@" >"$T/daemon.log" 2>&1 &
  PARENT=$!
  for ((i = 0; i < HANG_SECS * 10; i++)); do
    is_mounted "$mnt" && break
    proc_alive "$PARENT" || { cat "$T/daemon.log" >&2; fail "the parent or daemon exited early"; }
    sleep 0.1
  done
  # The first request waits for the daemon to serve (or fails once it is gone).
  timeout "$HANG_SECS" stat "$mnt" >/dev/null || { cat "$T/daemon.log" >&2; fail "the mount does not answer"; }
}

# stop_fd [PID]: SIGTERM to the daemon (PID, else PARENT): PARENT exits 0, the mount stays (ENOTCONN) until the parent's
# side (here: the test) unmounts it.
stop_fd() {
  kill -TERM "${1:-$PARENT}"
  wait_exit "$PARENT"
  [ "$WAIT_RC" -eq 0 ] || { cat "$T/daemon.log" >&2; fail "the daemon exited $WAIT_RC on SIGTERM"; }
  is_mounted "$mnt" || fail "the daemon unmounted $mnt itself"
  ! ls "$mnt" >/dev/null 2>&1 || fail "$mnt still answers after its daemon ended"
  umount "$mnt" || fail "the parent cannot unmount $mnt"
}

note "a root daemon on /dev/fd/N drops every capability and sets no_new_privs"
serve_fd 0 "$ECFS" "$vol" "/dev/fd/{fd}" -f -o "key_file=$key"
status=$(cat "/proc/$PARENT/status")
for f in CapInh CapPrm CapEff CapBnd CapAmb; do
  grep -q "^$f:[[:space:]]*0000000000000000$" <<<"$status" || fail "$f is not empty: $(grep "^$f:" <<<"$status")"
done
grep -q "^NoNewPrivs:[[:space:]]*1$" <<<"$status" || fail "no_new_privs is not set"
head -c 300000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
mkdir "$mnt/dir" && echo small >"$mnt/dir/small"
cmp "$T/data" "$mnt/data" || fail "a file read back differs"
"$CTL" status "$mnt" --json --timeout 10 >"$T/status.json" || fail "the status probe fails on a /dev/fd/N mount"
note "SIGTERM: exit 0, the mount is left to the parent, nothing written is lost"
echo "last words" >"$mnt/dir/late"
stop_fd
mount_vol "$vol" "$T/check" "key_file=$key"
cmp "$T/data" "$T/check/data" || fail "data differs after the fd-mode daemon ended"
[ "$(cat "$T/check/dir/late")" = "last words" ] || fail "a write made just before SIGTERM is lost"
umount_wait "$T/check"
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out" >&2; fail "fsck -n is not clean"; }

note "the daemon never names the mount point in a system call"
# LeakSanitizer cannot run under ptrace.
serve_fd 0 env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o "$T/strace.out" -e trace=%file,mount,umount2 \
  "$ECFS" "$vol" "/dev/fd/{fd}" -f -o "key_file=$key"
cmp "$T/data" "$mnt/data" || fail "a file read back differs (under strace)"
stop_fd "$(pgrep -P "$PARENT")"
grep -q "$vol" "$T/strace.out" || fail "strace saw nothing (the trace is empty?)"
! grep -F "$mnt" "$T/strace.out" >&2 || fail "the daemon touched the mount point $mnt (above)"

note "an unprivileged daemon (uid 65534) serves a volume it owns"
chmod 711 "$T" && chown -R 65534:65534 "$vol" "$key"
serve_fd 65534 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  "$ECFS" "$vol" "/dev/fd/{fd}" -f -o "key_file=$key"
cmp "$T/data" "$mnt/data" || fail "a file read back differs (unprivileged)"
echo more >"$mnt/dir/more" && [ "$(cat "$mnt/dir/more")" = more ] || fail "cannot write as the unprivileged daemon"
grep -q "^Uid:[[:space:]]*65534" "/proc/$PARENT/status" || fail "the daemon does not run as 65534"
stop_fd
chown -R 0:0 "$vol" "$key"

note "mount.fuse3 -o drop_privileges mounts and passes the descriptor"
PATH=$ECFS_BIN:$PATH mount.fuse3 "$vol" "$mnt" -t envcryptfs -o "drop_privileges,key_file=$key" \
  2>"$T/stderr" || { cat "$T/stderr" >&2; fail "mount.fuse3 -o drop_privileges failed"; }
cmp "$T/data" "$mnt/data" || fail "a file read back differs (mount.fuse3)"
pid=$(pgrep -f "^$ECFS_BIN/envcryptfs $vol /dev/fd/" || pgrep -f "^envcryptfs $vol /dev/fd/" || true)
[ -n "$pid" ] || fail "no daemon serving /dev/fd/N found"
grep -q "^CapEff:[[:space:]]*0000000000000000$" "/proc/$pid/status" || fail "the daemon kept capabilities"
umount "$mnt"
wait_gone() { for ((i = 0; i < HANG_SECS * 10; i++)); do proc_alive "$1" || return 0; sleep 0.1; done; fail "daemon $1 did not exit after the unmount"; }
wait_gone "$pid"
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out" >&2; fail "fsck -n is not clean at the end"; }
