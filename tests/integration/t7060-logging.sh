#!/bin/bash
# Where the daemon's messages go. -o log_file=PATH: appended (what was there stays), created
# 0600, close-on-exec, reopened on SIGHUP (logrotate moved it; the mount stays). With no
# syslog listening on /dev/log (a container): to the standard error of the background daemon,
# never dropped. With one listening: to syslog. The message used is the one a damaged chunk
# draws. The test runs in a mount namespace of its own, where /dev/log is hidden or replaced.
if [ -z "${ECFS_T7060_NS:-}" ]; then
  command -v unshare >/dev/null || { echo "unshare not installed"; exit 77; }
  exec env ECFS_T7060_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$ECFS_TESTS/lib.sh"
# Everything below changes /dev: only ever in the namespace of our own.
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/$PPID/ns/mnt)" ] ||
  { echo "FAIL: not in a mount namespace of its own" >&2; exit 1; }
sanitizer_logs
trap finish_test EXIT
need_progs
command -v python3 >/dev/null || skip "python3 not installed"

key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
mount_vol "$vol" "$mnt" "key_file=$key"
for n in 1 2 3 4; do head -c $((1000 * n)) /dev/urandom >"$mnt/f$n"; done
umount_wait "$mnt"
# damage N: flips the last byte (a tag byte, whatever the layout) of file fN's blob.
declare -A blob
for f in "$vol"/*; do
  case ${f##*/} in envcryptfs.*) continue ;; esac
  [ -f "$f" ] && blob[$(stat -c %s "$f")]=$f
done
sizes=($(printf '%s\n' "${!blob[@]}" | sort -n))
[ ${#sizes[@]} -eq 4 ] || fail "expected 4 blobs, found ${#sizes[@]}"
damage() {
  local f=${blob[${sizes[$(($1 - 1))]}]} size
  size=$(stat -c %s "$f")
  python3 -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]) - 1); b = f.read(1)
f.seek(int(sys.argv[2]) - 1); f.write(bytes([b[0] ^ 1]))' "$f" "$size"
}
for n in 1 2 3 4; do damage $n; done
# read_damaged N: reading fN fails with EIO, which the daemon logs.
read_damaged() { ! cat "$mnt/f$1" >/dev/null 2>&1 || fail "damaged f$1 read without an error"; }
# wait_for FILE TEXT: FILE gets a line with TEXT (HANG_SECS at most: syslog is asynchronous).
wait_for() {
  for ((i = 0; i < HANG_SECS * 10; i++)); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$1" >&2 2>/dev/null
  fail "$1 never got '$2'"
}

note "-o log_file=: appended, 0600, close-on-exec, reopened on SIGHUP"
mkdir -p "$T/logs"
echo "an older line" >"$T/logs/ecfs.log"
chmod 644 "$T/logs/ecfs.log"
(cd "$T/logs" && mount_vol "$vol" "$mnt" "key_file=$key,log_file=ecfs.log")
read_damaged 1
wait_for "$T/logs/ecfs.log" "failed authentication"
grep -q '^an older line$' "$T/logs/ecfs.log" || fail "the log file was not appended to"
grep -E -q '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z envcryptfs\[[0-9]+\]: error: .*failed authentication' \
  "$T/logs/ecfs.log" || { cat "$T/logs/ecfs.log" >&2; fail "the log line has no time, pid or level"; }
[ "$(stat -c %a "$T/logs/ecfs.log")" = 600 ] || fail "the log file is $(stat -c %a "$T/logs/ecfs.log"), not 0600"
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "no daemon for $mnt"
logfd=
for fd in /proc/"$pid"/fd/*; do
  [ "$(readlink "$fd")" = "$T/logs/ecfs.log" ] && logfd=${fd##*/}
done
[ -n "$logfd" ] || fail "the daemon does not hold the log file open"
flags=$(awk '/^flags:/ {print $2}' "/proc/$pid/fdinfo/$logfd")
(((8#$flags & 8#2000000) != 0)) || fail "the log file is not close-on-exec (flags $flags)"
(((8#$flags & 8#2000) != 0)) || fail "the log file is not opened for appending (flags $flags)"
mv "$T/logs/ecfs.log" "$T/logs/ecfs.log.1"
kill -HUP "$pid"
for ((i = 0; i < HANG_SECS * 10; i++)); do [ -e "$T/logs/ecfs.log" ] && break; sleep 0.1; done
[ -e "$T/logs/ecfs.log" ] || fail "SIGHUP did not reopen the log file"
mountpoint -q "$mnt" || fail "SIGHUP with a log file unmounted"
read_damaged 2
wait_for "$T/logs/ecfs.log" "failed authentication"
[ "$(grep -c 'failed authentication' "$T/logs/ecfs.log.1")" = 1 ] ||
  fail "the rotated log got lines after the SIGHUP"
umount_wait "$mnt"

note "no syslog listening on /dev/log: the background daemon's stderr"
if [ -e /dev/log ]; then mount --bind /dev/null /dev/log || fail "cannot hide /dev/log"; fi
register_mount "$mnt"
"$ECFS" "$vol" "$mnt" -o "key_file=$key" 2>"$T/bg.err" || { cat "$T/bg.err" >&2; fail "mount failed"; }
grep -qF "no syslog listens on /dev/log" "$T/bg.err" || { cat "$T/bg.err" >&2; fail "no word that syslog is missing"; }
read_damaged 3
wait_for "$T/bg.err" "failed authentication"
umount_wait "$mnt"
[ -e /dev/log ] && umount /dev/log 2>/dev/null || true

note "a syslog listening on /dev/log gets the messages"
# A tmpfs with the devices the daemon needs (each bound singly: nothing of the real /dev is
# reachable through a directory under $T, which the cleanup removes) and our /dev/log, moved
# over /dev in this namespace only.
newdev=$T/newdev
mkdir -p "$newdev"
mount -t tmpfs -o size=1m,mode=755 none "$newdev" || fail "cannot mount a tmpfs"
for d in null zero full random urandom fuse tty; do
  [ -c "/dev/$d" ] || continue
  touch "$newdev/$d"
  mount --bind "/dev/$d" "$newdev/$d" || fail "cannot bind /dev/$d"
done
ln -s /proc/self/fd "$newdev/fd"
touch "$newdev/log"
python3 - "$T/syslog.sock" "$T/syslog.out" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(8192) + b"\n")
PY
syslogd=$!
for ((i = 0; i < HANG_SECS * 10; i++)); do [ -e "$T/syslog.sock.ready" ] && break; sleep 0.1; done
mount --bind "$T/syslog.sock" "$newdev/log" || { kill "$syslogd"; fail "cannot bind the socket"; }
mount --move "$newdev" /dev || { kill "$syslogd"; fail "cannot move the tmpfs over /dev"; }
rc=0
"$ECFS" "$vol" "$mnt" -o "key_file=$key" 2>"$T/bg.err" || rc=$?
if [ $rc -ne 0 ]; then kill "$syslogd"; cat "$T/bg.err" >&2; fail "mount with a syslog failed"; fi
! grep -qF "no syslog" "$T/bg.err" || { kill "$syslogd"; fail "syslog was taken for missing"; }
read_damaged 4
wait_for "$T/syslog.out" "failed authentication"
grep -q 'envcryptfs\[[0-9]*\]: .*failed authentication' "$T/syslog.out" || fail "the syslog line has no identity"
! grep -qF "failed authentication" "$T/bg.err" || fail "the message went to stderr as well"
umount_wait "$mnt"
kill "$syslogd"
wait "$syslogd" 2>/dev/null || true
