#!/bin/bash
# The daemon's KMS rewrap and envcryptfsctl change one header in turn under the metadata lock:
# while the rewrap runs every second and the KMS key gets new versions, slot adds and removes
# in a loop lose nothing and the rewrap goes on after each of them; a rewrap that cannot take
# the lock shows in envcryptfsctl status ("KMS rewrap: failed") until it can again.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"
command -v flock >/dev/null || skip "flock not installed"

kms_setup
vol=$T/vol mnt=$T/mnt
kms_vol "$vol" vol1
register_mount "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$KMS_O,kms_rewrap_interval=1s" </dev/null
echo data >"$mnt/file"
for i in 1 2 3; do newkey "$T/k$i"; done

# key_version: the KMS key version slot 0 records on disk.
key_version() { "$CTL" info "$vol" | sed -n 's/.*key vol1, key version \([0-9]*\).*/\1/p'; }

# wait_version N: waits until the header records version N of the KMS key.
wait_version() {
  local i
  for ((i = 0; i < HANG_SECS * 10; i++)); do
    [ "$(key_version)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "the rewrap never recorded version $1 (the header has $(key_version))"
}

note "slot adds and removes while the KMS key gets new versions: nothing is lost"
v=1
for round in 1 2 3; do
  kms_api POST transit/keys/vol1/rotate
  [ "$STATUS" = 200 ] || fail "kmsd rotate: HTTP $STATUS"
  v=$((v + 1))
  for i in 1 2 3; do
    "$CTL" slot add "$vol" "${KMS_ARGS[@]}" --key-file "$T/k$i" >/dev/null 2>"$T/add.err" ||
      fail "round $round: slot add k$i failed: $(cat "$T/add.err")"
  done
  wait_version "$v"
  for i in 1 2 3; do
    "$CTL" check-key "$vol" --unlock-key-file "$T/k$i" >/dev/null 2>&1 ||
      fail "round $round: the slot of k$i was lost to the rewrap"
  done
  for n in 1 2 3; do
    "$CTL" slot remove "$vol" "$n" "${KMS_ARGS[@]}" >/dev/null 2>"$T/rm.err" ||
      fail "round $round: slot remove $n failed: $(cat "$T/rm.err")"
  done
  "$CTL" check-key "$vol" --unlock-key-file "$T/k1" >/dev/null 2>&1 &&
    fail "round $round: a removed slot came back"
done
expect_exit 0 "$CTL" status "$mnt"
grep -q "KMS rewrap: failed" "$T/stdout" && fail "status reports a rewrap failure: $(cat "$T/stdout")"

note "the metadata lock held for longer than the rewrap waits: status says so, then recovers"
exec 9>>"$vol/envcryptfs.metalock"
flock -x 9
printf '%s holder\n' "$$" >"$vol/envcryptfs.metalock"
kms_api POST transit/keys/vol1/rotate
v=$((v + 1))
for ((i = 0; i < HANG_SECS * 10; i++)); do
  "$CTL" status "$mnt" >"$T/status" 2>&1 || true
  grep -q "KMS rewrap: failed" "$T/status" && break
  sleep 0.1
done
grep -q "KMS rewrap: failed: .*held by pid $$" "$T/status" ||
  { cat "$T/status" >&2; fail "status does not report the rewrap blocked by the lock"; }
flock -u 9
exec 9>&-
wait_version "$v"
for ((i = 0; i < HANG_SECS * 10; i++)); do
  "$CTL" status "$mnt" >"$T/status" 2>&1 || true
  grep -q "KMS rewrap: failed" "$T/status" || break
  sleep 0.1
done
grep -q "KMS rewrap: failed" "$T/status" && { cat "$T/status" >&2; fail "the rewrap failure stays reported"; }
[ "$(cat "$mnt/file")" = data ] || fail "the mount lost its file"
umount_wait "$mnt"
