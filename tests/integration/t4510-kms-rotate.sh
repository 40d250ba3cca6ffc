#!/bin/bash
# KMS key rotation: envcryptfsctl rotate --kms-rotate gives the KMS key a new version and
# rewraps the slot (its KEK generation follows the key version), authorized through the KMS
# slot itself; a daemon with kms_rewrap_interval=2s picks up a version made through the
# kmsd API within seconds, in its status and in the header; a KMS that dies meanwhile shows
# as unreachable in status while the volume goes on; a header changed by envcryptfsctl while
# mounted is left alone; slot add makes a second KMS slot.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"

kms_setup
vol=$T/vol mnt=$T/mnt
kms_vol "$vol" vol1
gen_of() { "$CTL" slot list "$vol" --json | tr -d ' \n' | sed -n 's/.*"index":0,"type":"kms","kek_generation":\([0-9]*\).*/\1/p'; }
[ "$(gen_of)" = 1 ] || fail "a new KMS slot is at KEK generation $(gen_of)"

note "rotate --kms-rotate: KEK generation 2, info shows key version 2, the volume mounts"
expect_exit 0 env VAULT_TOKEN="$(cat "$TOKEN_FILE")" "$CTL" rotate "$vol" --slot 0 \
  --kms-rotate --kms-url "$KMS_URL" --kms-cacert "$T/ca.pem"
stdout_has "rotated key slot 0 to KEK generation 2"
[ "$(gen_of)" = 2 ] || fail "KEK generation $(gen_of) after rotate --kms-rotate"
expect_exit 0 "$CTL" info "$vol" "${KMS_ARGS[@]}"
stdout_has "key vol1, key version 2"
stdout_has "latest version 2"
kms_api GET transit/keys/vol1
grep -q '"latest_version":2' "$T/body" || fail "kmsd does not hold version 2"
note "rotate without --kms-rotate rewraps to the latest version (none newer: unchanged)"
expect_exit 0 "$CTL" rotate "$vol" "${KMS_ARGS[@]}"
stdout_has "rotated key slot 0 to KEK generation 2"
stdout_has "unchanged"

note "kms_rewrap_interval=2s: a version made through the kmsd API reaches the header"
register_mount "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$KMS_O,kms_rewrap_interval=2s" </dev/null
head -c 100000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
kms_api POST transit/keys/vol1/rotate
[ "$STATUS" = 200 ] || fail "kmsd rotate: HTTP $STATUS"
for ((i = 0; i < HANG_SECS * 10; i++)); do
  "$CTL" status "$mnt" >"$T/status" 2>&1 || true
  grep -q "KMS key version: 3" "$T/status" && break
  sleep 0.1
done
grep -q "KMS key version: 3" "$T/status" || { cat "$T/status" >&2; fail "status never showed version 3"; }
grep -q "KMS reachable: yes" "$T/status" || { cat "$T/status" >&2; fail "status: KMS not reachable"; }
expect_exit 0 "$CTL" info "$vol"
stdout_has "key vol1, key version 3"
[ "$(gen_of)" = 3 ] || fail "KEK generation $(gen_of) in the header after the rewrap"
expect_exit 0 "$CTL" status "$mnt" --json
tr -d ' \n' <"$T/stdout" | in_output "\"kms\":{\"url\":\"$KMS_URL\",\"key\":\"vol1\",\"key_version\":3" ||
  { cat "$T/stdout" >&2; fail "status --json lacks the KMS fields"; }

note "a header changed by envcryptfsctl while mounted: the rewrap keeps the change and goes on"
newkey "$T/k1"
expect_exit 0 "$CTL" slot add "$vol" "${KMS_ARGS[@]}" --key-file "$T/k1"
stdout_has "added key slot 1 (keyfile)"
kms_api POST transit/keys/vol1/rotate
for ((i = 0; i < HANG_SECS * 10; i++)); do
  "$CTL" info "$vol" >"$T/stdout" 2>&1 || true
  grep -qF "key vol1, key version 4" "$T/stdout" && break
  sleep 0.1
done
stdout_has "key vol1, key version 4"
stdout_has "slot 1: keyfile"

note "the KMS dies: status says unreachable, the volume goes on"
kms_stop KILL
for ((i = 0; i < HANG_SECS * 10; i++)); do
  "$CTL" status "$mnt" >"$T/status" 2>&1 || true
  grep -q "KMS reachable: no" "$T/status" && break
  sleep 0.1
done
grep -qi "KMS reachable: no: .*connection refused" "$T/status" ||
  { cat "$T/status" >&2; fail "status does not show the KMS unreachable"; }
cmp "$T/data" "$mnt/data" || fail "reading while the rewrap thread fails"
echo more >"$mnt/more"
umount_wait "$mnt"
kms_start "$KMS_PORT"
mount_vol "$vol" "$mnt" "$KMS_O"
cmp "$T/data" "$mnt/data" && [ "$(cat "$mnt/more")" = more ] || fail "content after the rewraps"
umount_wait "$mnt"

note "slot add: a second KMS slot, authorized through the first"
expect_exit 2 "$CTL" slot add "$vol" "${KMS_ARGS[@]}"
stderr_has "--kms-url with --kms-key"
expect_exit 0 "$CTL" slot add "$vol" --kms-key vol2 "${KMS_ARGS[@]}"
stdout_has "added key slot 2 (kms)"
expect_exit 0 "$CTL" info "$vol"
stdout_has "key vol2, key version 1"
kms_api POST transit/keys/vol1/config '{"deletion_allowed":true}'
kms_api DELETE transit/keys/vol1
[ "$STATUS" = 204 ] || fail "kmsd delete: HTTP $STATUS"
mount_vol "$vol" "$mnt" "$KMS_O"
cmp "$T/data" "$mnt/data" || fail "content through the second KMS slot"
expect_exit 0 "$CTL" status "$mnt"
stdout_has "unlocked by: slot 2"
umount_wait "$mnt"
note "all KMS rotation checks passed"
