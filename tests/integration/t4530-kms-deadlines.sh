#!/bin/bash
# KMS deadlines: a KMS that accepts connections and never answers fails a mount within
# kms_wait + kms_timeout (before, each attempt and retry had its own 10 s, about 42 s with
# kms_wait=5), naming the URL and "timed out"; the same for envcryptfsctl; kms_timeout is
# checked when given (also in the KMS configuration file); a KMS that answers still unlocks
# with a short timeout.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"

SLOWPEER=$(ecfs_tool slowpeer)
kms_setup
vol=$T/vol mnt=$T/mnt
kms_vol "$vol" vol1
register_mount "$mnt"

note "the KMS's port taken by a listener that accepts connections and never answers"
kms_stop
"$SLOWPEER" listen "$KMS_PORT" >"$T/silent.out" &
SILENT_PID=$!
trap 'rc=$?; set +e; kill "$SILENT_PID" 2>/dev/null; kms_stop KILL 2>/dev/null; (exit $rc); finish_test' EXIT
for ((i = 0; i < HANG_SECS * 20; i++)); do
  grep -q '^port' "$T/silent.out" 2>/dev/null && break
  proc_alive "$SILENT_PID" || fail "slowpeer listen exited"
  sleep 0.05
done
grep -q "^port $KMS_PORT\$" "$T/silent.out" || fail "slowpeer listen did not start on $KMS_PORT"

# elapsed CMD...: runs expect_exit 1 CMD and sets SECS to the whole seconds it took.
elapsed_fail() {
  local t0=$SECONDS
  expect_exit 1 "$@"
  SECS=$((SECONDS - t0))
}

note "mount with kms_wait=3,kms_timeout=2 fails within the deadlines"
elapsed_fail "$ECFS" "$vol" "$mnt" -o "$KMS_O,kms_timeout=2,kms_wait=3" </dev/null
stderr_has "$KMS_URL"
stderr_has "timed out"
stderr_has "kms_wait=3"
# 3 + 2 s and some; generous for a loaded machine, far below the old 4 x 10 s per attempt.
[ "$SECS" -lt 40 ] || fail "the mount took $SECS s to give up"
! mountpoint -q "$mnt" || fail "mounted without a KMS"

note "envcryptfsctl with --kms-timeout 2: one call, one deadline"
elapsed_fail "$CTL" check-key "$vol" "${KMS_ARGS[@]}" --kms-timeout 2
stderr_has "$KMS_URL"
stderr_has "timed out"
[ "$SECS" -lt 30 ] || fail "check-key took $SECS s to give up"

note "a bad kms_timeout is a usage error, before any KMS request"
expect_exit 2 "$ECFS" "$vol" "$mnt" -o "$KMS_O,kms_timeout=0" </dev/null
stderr_has "kms_timeout"
expect_exit 2 "$CTL" check-key "$vol" "${KMS_ARGS[@]}" --kms-timeout 601
stderr_has "--kms-timeout"
expect_exit 2 "$CTL" check-key "$vol" "${KMS_ARGS[@]}" --kms-timeout soon
stderr_has "--kms-timeout"
printf 'kms_timeout=soon\n' >"$T/kms.conf"
chmod 600 "$T/kms.conf"
expect_exit 1 "$CTL" check-key "$vol" "${KMS_ARGS[@]}" --kms-config "$T/kms.conf"
stderr_has "kms_timeout"

note "the KMS back on its port unlocks with a short timeout"
kill "$SILENT_PID"
wait_exit "$SILENT_PID"
kms_start "$KMS_PORT"
mount_vol "$vol" "$mnt" "$KMS_O,kms_timeout=5"
echo hello >"$mnt/f"
umount_wait "$mnt"
expect_exit 0 "$CTL" check-key "$vol" "${KMS_ARGS[@]}" --kms-timeout 1m
note "all KMS deadline checks passed"
