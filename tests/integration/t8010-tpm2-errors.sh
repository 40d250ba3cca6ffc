#!/bin/bash
# A TPM2 slot that the TPM will not open gives one clear line and a documented exit code, and
# the volume's key-file slot still opens it: PCRs extended since the slot was made (3, the
# policy check), the TPM stopped (1, it cannot be reached; no hang), the TPM cleared or
# replaced by a fresh one (3, the sealed key fails the integrity check). No default TPM here
# either (1). Damaged TPM2 blobs in the header are refused before any TPM sees them (4).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t8000-tpm2.inc"
. "$ECFS_TESTS/t6000-attacker.inc" # plant_json

tpm_start
vol=$T/vol mnt=$T/mnt
register_mount "$mnt"
make_vol "$vol" "$T/key" aes-256-gcm 4k
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$T/key" --tpm2 --tpm2-device "$TCTI" \
  --tpm2-pcrs 7
mount_vol "$vol" "$mnt" "tpm2_device=$TCTI"
echo before >"$mnt/f"
umount_wait "$mnt"

# key_still_opens: the key-file slot opens the volume and reads what was written.
key_still_opens() {
  mount_vol "$vol" "$mnt" "key_file=$T/key"
  [ "$(cat "$mnt/f")" = before ] || fail "the key file does not read the volume"
  umount_wait "$mnt"
}

note "PCR 7 extended: the policy check fails, exit 3"
tpm_cmd tpm2_pcrextend 7:sha256=$(printf '%064d' 1) || fail "tpm2_pcrextend failed"
expect_exit 3 "$ECFS" "$vol" "$mnt" -o "tpm2_device=$TCTI" </dev/null
stderr_has "TPM2 policy check failed: PCR values changed since the slot was made"
[ "$(grep -c . "$T/stderr")" -le 2 ] || { cat "$T/stderr"; fail "more than one line of error"; }
expect_exit 3 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
stderr_has "PCR values changed"
key_still_opens
note "rotate, authorized by the key file, seals a new key to the PCRs' new values"
expect_exit 0 "$CTL" rotate "$vol" --slot 1 --unlock-key-file "$T/key" --tpm2 \
  --tpm2-device "$TCTI" --tpm2-pcrs 7
expect_exit 0 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
grep -q "opens key slot 1" "$T/stdout" || { cat "$T/stdout"; fail "check-key after rotate"; }
tpm_cmd tpm2_pcrextend 7:sha256=$(printf '%064d' 2) || fail "tpm2_pcrextend failed"

note "a slot without a PCR policy is not affected by PCRs"
expect_exit 0 "$CTL" slot add "$vol" --unlock-key-file "$T/key" --tpm2 --tpm2-device "$TCTI"
expect_exit 0 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
grep -q "opens key slot 2" "$T/stdout" || { cat "$T/stdout"; fail "check-key slot 2"; }

note "TPM frozen (SIGSTOP: it takes connections, never answers): exit 1 at the deadline"
# One deadline for the device, not one per TPM slot (this volume has two): a second slot
# on a device whose call is still stuck fails at once. The deadline is 20 s (55 s allowed);
# test builds shorten it to 6 s here (11 s allowed: two deadlines would not fit).
kill -STOP "$SWTPM_PID"
if fault_injection_built; then
  ECFS_FAULT_TPM2_DEADLINE_S=6 expect_exit 1 timeout 11 "$CTL" check-key "$vol" \
    --unlock-tpm2 --tpm2-device "$TCTI"
else
  expect_exit 1 timeout 55 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
fi
stderr_has "the TPM at $TCTI did not answer within"
kill -CONT "$SWTPM_PID"

note "TPM stopped: cannot reach it, exit 1, within 60 s"
tpm_stop
expect_exit 1 timeout 60 "$ECFS" "$vol" "$mnt" -o "tpm2_device=$TCTI" </dev/null
stderr_has "cannot reach TPM at $TCTI"
expect_exit 1 timeout 60 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
stderr_has "cannot reach TPM at $TCTI"
expect_exit 1 timeout 60 "$MKFS" --tpm2 --tpm2-device "$TCTI" "$T/vol-no-tpm"
stderr_has "cannot reach TPM at $TCTI"
[ ! -e "$T/vol-no-tpm/envcryptfs.header" ] || fail "mkfs made a volume without its TPM"
key_still_opens
if [ ! -e /dev/tpmrm0 ]; then
  note "no TPM option and no /dev/tpmrm0: the default device is named"
  expect_exit 1 timeout 60 "$CTL" check-key "$vol" --unlock-tpm2
  stderr_has "cannot reach TPM at device:/dev/tpmrm0"
fi

note "TPM cleared: the sealed keys fail the integrity check, exit 3"
tpm_start "$T/tpm"
tpm_cmd tpm2_clear || fail "tpm2_clear failed"
expect_exit 3 "$ECFS" "$vol" "$mnt" -o "tpm2_device=$TCTI" </dev/null
stderr_has "integrity check failed (the TPM was cleared since the slot was made"
key_still_opens

note "another TPM (a fresh state): the same"
tpm_stop
tpm_start "$T/tpm-fresh"
expect_exit 3 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
stderr_has "integrity check failed"
key_still_opens

note "damaged TPM2 blobs: the header is refused before any TPM sees them, exit 4"
for h in "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy"; do
  # A byte added after the sealed key's public part: no longer one TPM2B_PUBLIC.
  tail -c +113 "$h" | python3 -c '
import base64, json, sys
h = json.load(sys.stdin)
for s in h["slots"].values():
    if s["type"] == "tpm2":
        s["tpm2"]["public"] = base64.b64encode(base64.b64decode(s["tpm2"]["public"]) + b"x").decode()
json.dump(h, sys.stdout)' >"$T/damaged.json" || fail "cannot damage the header"
  plant_json "$h" "$T/damaged.json"
done
expect_exit 4 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
stderr_has "TPM2 key slot: 'public' is not one TPM2B_PUBLIC"
