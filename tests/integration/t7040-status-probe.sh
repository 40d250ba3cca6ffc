#!/bin/bash
# envcryptfsctl status MNT --json --timeout S as a health probe: 0 for a live mount that
# decrypts (its JSON parses and names the volume); 5 for a mount point with no mount; 8, within
# the timeout, for a stopped daemon (SIGSTOP: a stat of its mount blocks in the kernel) and 0
# again once it runs; 7 for a dead mount (daemon killed: ENOTCONN). The killed daemon's status
# socket is removed, by status and by the next daemon to start. The time bound is checked
# against a generous outer deadline only.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v python3 >/dev/null || skip "python3 not installed"

key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
uuid=$("$CTL" info "$vol" | sed -n 's/^UUID: //p')
sock=/run/envcryptfs/$uuid.sock
OUTER=60 # far above any --timeout below: only a probe that hangs reaches it

# probe WANT ARGS...: status ARGS exits WANT, and returns before the outer deadline.
probe() {
  local want=$1 rc=0
  shift
  timeout -k 5 "$OUTER" "$CTL" status "$@" >"$T/stdout" 2>"$T/stderr" || rc=$?
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "status $* still ran after $OUTER s"
  [ "$rc" -eq "$want" ] || { cat "$T/stderr" >&2; fail "status $* exited $rc, expected $want"; }
}

note "no mount at the mount point: 5"
mkdir -p "$mnt"
probe 5 "$mnt" --json --timeout 2
stderr_has "is not an envcryptfs mount point"
expect_exit 2 "$CTL" status "$mnt" --timeout 0
expect_exit 2 "$CTL" status "$mnt" --timeout x

note "a live mount that decrypts: 0, and JSON"
mount_vol "$vol" "$mnt" "key_file=$key"
mkdir "$mnt/dir"
echo hello >"$mnt/dir/file"
probe 0 "$mnt" --json --timeout 5
python3 - "$T/stdout" "$uuid" "$mnt" <<'PY' || fail "status --json does not describe the mount"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["uuid"] == sys.argv[2], st
assert st["mountpoint"] == sys.argv[3], st
assert st["pid"] > 0 and st["bytes_written"] >= 6, st
PY
[ -S "$sock" ] || fail "no status socket $sock"

note "a stopped daemon: 8 within the timeout, then 0 once it runs again"
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "no daemon for $mnt"
kill -STOP "$pid"
probe 8 "$mnt" --json --timeout 2
stderr_has "did not answer within 2 s"
# The abandoned check must not have left anything waiting on us: a second probe behaves alike.
probe 8 "$mnt" --timeout 1
kill -CONT "$pid"
probe 0 "$mnt" --json --timeout 30

note "a killed daemon: 7 (ENOTCONN), and its status socket is removed"
kill -9 "$pid"
for ((i = 0; i < HANG_SECS * 10; i++)); do proc_alive "$pid" || break; sleep 0.1; done
[ -S "$sock" ] || fail "the killed daemon's socket is already gone (nothing to test)"
sleep 2.5 # a socket is taken for stale only once it is 2 s old (see status.h)
probe 7 "$mnt" --json --timeout 5
stderr_has "is a dead mount"
[ ! -e "$sock" ] || fail "status left the dead daemon's socket $sock"
fusermount3 -u -z "$mnt"

note "the next daemon removes a dead daemon's socket of another volume"
mount_vol "$vol" "$mnt" "key_file=$key"
pid=$(daemon_pid "$mnt")
kill -9 "$pid"
for ((i = 0; i < HANG_SECS * 10; i++)); do proc_alive "$pid" || break; sleep 0.1; done
fusermount3 -u -z "$mnt"
[ -S "$sock" ] || fail "the killed daemon's socket is already gone (nothing to test)"
sleep 2.5
make_vol "$T/vol2" "$key" aes-256-gcm 4096
mount_vol "$T/vol2" "$T/mnt2" "key_file=$key"
[ ! -e "$sock" ] || fail "the next daemon left the dead daemon's socket $sock"
probe 0 "$T/mnt2" --timeout 10
umount_wait "$T/mnt2"
