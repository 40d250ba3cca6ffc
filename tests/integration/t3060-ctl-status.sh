#!/bin/bash
# status MOUNTPOINT: finds the mount in /proc/self/mountinfo (a mount point with a space in
# it), reads the volume's UUID from its header and asks the daemon on the status socket;
# clear errors for what is not an envcryptfs mount (exit 5), or a dead mount (exit 7).
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
need_progs

vol=$T/vol key=$T/key mnt="$T/mount point"
make_vol "$vol" "$key" aes-256-gcm 4096
uuid=$("$CTL" info "$vol" | sed -n 's/^UUID: //p')

note "not an envcryptfs mount"
expect_exit 5 "$CTL" status "$T"
stderr_has "is not an envcryptfs mount point"
expect_exit 5 "$CTL" status /proc
stderr_has "(it is proc)"
expect_exit 5 "$CTL" status "$T/nonexistent"
expect_exit 2 "$CTL" status
expect_exit 2 "$CTL" status "$T" --unlock-key-file "$key"

note "a mounted volume"
mount_vol "$vol" "$mnt" "key_file=$key"
head -c 20000 /dev/urandom >"$mnt/f"
cat "$mnt/f" >/dev/null
rc=0
"$CTL" status "$mnt" >"$T/stdout" 2>"$T/stderr" || rc=$?
if [ "$rc" -eq 5 ] && grep -qF "no status socket" "$T/stderr"; then
  # The daemon has no status server yet: the mount was still found (mountinfo, its
  # escaped space, the fsname) and the volume's socket named.
  note "the daemon runs no status server (yet): $(cat "$T/stderr")"
  stderr_has "volume $uuid"
  stderr_has "/$uuid.sock"
else
  [ "$rc" -eq 0 ] || { cat "$T/stderr" >&2; fail "status exited $rc"; }
  for l in "UUID: $uuid" "cipher: aes-256-gcm" "unlocked by: slot 0 (KEK generation 1)" \
    "backing directory: $vol" "authentication failures: 0"; do
    grep -qF "$l" "$T/stdout" || { cat "$T/stdout" >&2; fail "status lacks '$l'"; }
  done
  expect_exit 0 "$CTL" status "$mnt" --json
  for t in "\"uuid\":\"$uuid\"" '"unlocked_by":"slot"' '"unlocked_slot":0' \
    '"auth_failures":0' '"uptime_seconds":'; do
    grep -qF -- "$t" "$T/stdout" || { cat "$T/stdout" >&2; fail "status --json lacks '$t'"; }
  done
  written=$(sed -n 's/^ *"bytes_written":\([0-9]*\).*/\1/p' "$T/stdout")
  [ "${written:-0}" -ge 20000 ] || fail "status reports $written bytes written, not 20000"
fi

note "a daemon that died: the mount is still there, nobody answers"
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "no daemon found for $mnt"
kill -9 "$pid"
for ((i = 0; i < HANG_SECS * 10; i++)); do proc_alive "$pid" || break; sleep 0.1; done
expect_exit 7 "$CTL" status "$mnt"
stderr_has "is a dead mount"
fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
note "ok"
