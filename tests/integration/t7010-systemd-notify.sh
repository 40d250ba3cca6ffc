#!/bin/bash
# systemd readiness: in the foreground with NOTIFY_SOCKET set (an abstract name, then a path),
# the daemon sends READY=1 only once the mount answers (at that moment the mount point shows
# the volume's root), STOPPING=1 on SIGTERM, then unmounts and exits 0, even with a directory
# still open (and, under the sanitizers, with nothing leaked). Without NOTIFY_SOCKET it mounts
# as before.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v python3 >/dev/null || skip "python3 not installed"

key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
mount_vol "$vol" "$mnt" "key_file=$key"
echo marker >"$mnt/marker"
umount_wait "$mnt"

# listen.py SOCKET: starts the daemon in the foreground with NOTIFY_SOCKET=SOCKET, checks the
# mount the moment READY=1 arrives, sends SIGTERM, and expects STOPPING=1 and exit status 0.
cat >"$T/listen.py" <<'PY'
import os, signal, socket, subprocess, sys
sock_name, ecfs, vol, mnt, key, hang = sys.argv[1:7]
hang = float(hang)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sock_name[1:] if sock_name.startswith("@") else sock_name)
s.settimeout(hang)
env = dict(os.environ, NOTIFY_SOCKET=sock_name)
d = subprocess.Popen([ecfs, vol, mnt, "-f", "-o", "key_file=" + key], env=env)
def die(msg):
    d.kill()
    d.wait()
    sys.exit("FAIL: " + msg)
def expect(msg):
    try:
        data = s.recv(4096).decode()
    except socket.timeout:
        die("no %s within %d s" % (msg, hang))
    if msg not in data.split("\n"):
        die("got %r, expected %s" % (data, msg))
expect("READY=1")
# The mount must answer now, with the volume's root, not the empty directory below it.
if os.stat(mnt).st_dev == os.stat(os.path.dirname(mnt)).st_dev:
    die("READY=1 came before %s was mounted" % mnt)
# The directory stays open across the SIGTERM: its RELEASEDIR never arrives, and the daemon
# must still free it (a sanitizer build reports a leak otherwise).
try:
    held = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    names = os.listdir(held)
    size = os.stat(os.path.join(mnt, "marker")).st_size
except OSError as e:
    die("at READY=1 %s is not the volume's root: %s" % (mnt, e))
if names != ["marker"] or size != len("marker\n"):
    die("at READY=1 %s lists %r, marker has %d bytes" % (mnt, names, size))
d.send_signal(signal.SIGTERM)
expect("STOPPING=1")
try:
    rc = d.wait(hang)
except subprocess.TimeoutExpired:
    die("the daemon still runs %d s after SIGTERM" % hang)
if rc != 0:
    sys.exit("FAIL: the daemon exited %d after SIGTERM" % rc)
PY

for sock in "@ecfs-notify-$$-$RANDOM" "$T/notify.sock"; do
  note "NOTIFY_SOCKET=$sock"
  register_mount "$mnt"
  python3 "$T/listen.py" "$sock" "$ECFS" "$vol" "$mnt" "$key" "$HANG_SECS" ||
    fail "readiness through $sock"
  ! is_mounted "$mnt" || fail "$mnt is still mounted after SIGTERM"
done

note "a NOTIFY_SOCKET that cannot be reached costs the message, not the mount"
# (in the background too, where systemd would not listen to the daemon anyway)
NOTIFY_SOCKET=/nonexistent/sock mount_vol "$vol" "$mnt" "key_file=$key"
[ "$(cat "$mnt/marker")" = marker ] || fail "the mount does not show the volume"
umount_wait "$mnt"
