#!/bin/bash
# KMS unlocking against envcryptfs-kmsd over TLS: mkfs makes a KMS slot after a passphrase
# slot; a mount with no key option unlocks through it; killing the KMS leaves the mounted
# volume working; the next mount fails naming the URL and the cause; with kms_wait it waits
# for the KMS to come back; info reports an unreachable KMS without failing; fsck unlocks
# through the KMS too.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"

kms_setup
vol=$T/vol mnt=$T/mnt
printf 'spare passphrase' >"$T/pass"
chmod 600 "$T/pass"

note "mkfs: a KMS slot and a passphrase slot"
kms_vol "$vol" vol1 --passphrase-file "$T/pass"
expect_exit 0 "$CTL" info "$vol" "${KMS_ARGS[@]}"
stdout_has "slot 1: kms, KEK generation 1"
stdout_has "KMS: url $KMS_URL, mount transit, key vol1, key version 1"
stdout_has "KMS server: reachable; key 'vol1' latest version 1"
stdout_has "slot 0: passphrase"
expect_exit 2 "$MKFS" "${KMS_ARGS[@]}" "$T/nokey"
stderr_has "needs --kms-url and --kms-key"
expect_exit 2 "$MKFS" --kms-url http://10.1.2.3:8200 --kms-key k "${KMS_AUTH[@]}" "$T/http"
stderr_has "loopback"

note "mount with no key option: the KMS slot unlocks; status shows the KMS"
register_mount "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$KMS_O" </dev/null
head -c 300000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
echo first >"$mnt/log"
expect_exit 0 "$CTL" status "$mnt"
stdout_has "unlocked by: slot 1 (KEK generation 1)"
stdout_has "KMS: $KMS_URL key 'vol1'"
stdout_has "KMS key version: 1"
expect_exit 0 "$CTL" check-key "$vol" "${KMS_ARGS[@]}"
stdout_has "opens key slot 1"

note "the KMS dies: the mounted volume goes on"
kms_stop KILL
cmp "$T/data" "$mnt/data" || fail "reading after the KMS died"
echo second >>"$mnt/log"
head -c 70000 /dev/urandom >"$T/data2"
cp "$T/data2" "$mnt/data2"
sync
[ "$(cat "$mnt/log")" = "$(printf 'first\nsecond')" ] || fail "log content after the KMS died"
cmp "$T/data2" "$mnt/data2" || fail "a file written after the KMS died"
expect_exit 0 "$CTL" info "$vol" "${KMS_ARGS[@]}"
stdout_has "KMS server: unreachable: connection refused"
umount_wait "$mnt"

note "mounting while the KMS is down fails: exit 1, the URL and the cause"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "$KMS_O" </dev/null
stderr_has "$KMS_URL"
grep -qi "connection refused" "$T/stderr" || { cat "$T/stderr" >&2; fail "no 'connection refused'"; }
grep -qi "passphrase" "$T/stderr" && fail "a KMS volume asked for a passphrase"
! mountpoint -q "$mnt" || fail "mounted without the KMS"
expect_exit 1 "$CTL" check-key "$vol" "${KMS_ARGS[@]}"
stderr_has "connection refused"

note "kms_wait=30: the mount waits until the KMS is back"
"$ECFS" "$vol" "$mnt" -o "$KMS_O,kms_wait=30" </dev/null 2>"$T/wait.log" &
waiter=$!
# Start the KMS only once the mount has said that it waits, however slow the machine.
for ((i = 0; i < HANG_SECS * 10; i++)); do
  grep -q "asking again" "$T/wait.log" && break
  proc_alive "$waiter" || { cat "$T/wait.log" >&2; fail "the kms_wait mount gave up at once"; }
  sleep 0.1
done
grep -q "asking again" "$T/wait.log" || fail "the kms_wait mount did not say it waits"
kms_start "$KMS_PORT"
wait_exit "$waiter" 40
[ "$WAIT_RC" -eq 0 ] || { cat "$T/wait.log" >&2; fail "the kms_wait mount exited $WAIT_RC"; }
mountpoint -q "$mnt" || fail "not mounted after kms_wait"
cmp "$T/data" "$mnt/data" && cmp "$T/data2" "$mnt/data2" || fail "content after kms_wait"
[ "$(cat "$mnt/log")" = "$(printf 'first\nsecond')" ] || fail "log content after kms_wait"
umount_wait "$mnt"

note "a passphrase option still opens a volume with a KMS slot"
kms_stop TERM
mount_vol "$vol" "$mnt" "passphrase_file=$T/pass"
cmp "$T/data" "$mnt/data" || fail "content through the passphrase slot"
umount_wait "$mnt"
kms_start "$KMS_PORT"

note "fsck.envcryptfs unlocks through the KMS, with options or without"
expect_exit 0 "$FSCK" -n "${KMS_ARGS[@]}" "$vol"
expect_exit 0 env VAULT_TOKEN="$(cat "$TOKEN_FILE")" "$FSCK" -n --kms-url "$KMS_URL" \
  --kms-cacert "$T/ca.pem" "$vol"
expect_exit 8 "$FSCK" -n --kms-url "$KMS_URL" --kms-cacert "$T/ca.pem" \
  --kms-token-file "$T/nonexistent" "$vol"
grep -q "nonexistent" "$T/stdout" "$T/stderr" || fail "fsck ignored --kms-token-file"
note "all KMS mount checks passed"
