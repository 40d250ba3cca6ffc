#!/bin/bash
# A TPM2 key slot against a software TPM: mkfs --tpm2 makes a volume that mounts with no key
# option at all (the TPM is named by -o tpm2_device), files round-trip and survive a remount;
# `slot add --tpm2` gives a key-file volume a TPM2 slot that --unlock-tpm2 and the mount use,
# while the key file still opens it; the TPM2 slot authorizes adding a key file. The header
# holds the sealed blobs, never the TPM's address.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t8000-tpm2.inc"

tpm_start
vol=$T/vol mnt=$T/mnt

note "mkfs --tpm2: one TPM2 slot, no PCR policy"
expect_exit 0 "$MKFS" --tpm2 --tpm2-device "$TCTI" "$vol"
expect_exit 0 "$CTL" info "$vol"
grep -q "slot 0: tpm2, KEK generation 1, .*no PCR policy" "$T/stdout" ||
  { cat "$T/stdout"; fail "info does not show the TPM2 slot"; }
expect_exit 0 "$CTL" info "$vol" --json
grep -q '"tpm2"' "$T/stdout" || { cat "$T/stdout"; fail "info --json has no tpm2 member"; }
! grep -q "$TCTI" "$vol/envcryptfs.header" || fail "the header records the TPM's address"

note "mount with only -o tpm2_device: files round-trip, and again after a remount"
mount_vol "$vol" "$mnt" "tpm2_device=$TCTI"
head -c 100000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/file"
mkdir "$mnt/dir" && echo hello >"$mnt/dir/hi"
remount "$vol" "$mnt" "tpm2_device=$TCTI"
cmp "$T/data" "$mnt/file" || fail "file differs after remount"
[ "$(cat "$mnt/dir/hi")" = hello ] || fail "dir/hi differs after remount"
umount_wait "$mnt"

note "envcryptfsctl: the TPM2 slot opens with --unlock-tpm2, and also with no unlock option"
expect_exit 0 "$CTL" check-key "$vol" --unlock-tpm2 --tpm2-device "$TCTI"
grep -q "opens key slot 0" "$T/stdout" || { cat "$T/stdout"; fail "check-key"; }
expect_exit 0 "$CTL" check-key "$vol" --tpm2-device "$TCTI" </dev/null

note "the TPM2 slot authorizes a new key-file slot"
newkey "$T/k1"
expect_exit 0 "$CTL" slot add "$vol" --tpm2-device "$TCTI" --key-file "$T/k1"
expect_exit 0 "$CTL" check-key "$vol" --unlock-key-file "$T/k1"

note "slot add --tpm2 to a key-file volume, bound to PCRs 0 and 7"
vol2=$T/vol2 mnt2=$T/mnt2
make_vol "$vol2" "$T/k2" aes-256-gcm 4k
expect_exit 0 "$CTL" slot add "$vol2" --unlock-key-file "$T/k2" --tpm2 --tpm2-device "$TCTI" \
  --tpm2-pcrs 0,7
expect_exit 0 "$CTL" info "$vol2"
grep -q "slot 1: tpm2, .*PCRs 0,7 (sha256)" "$T/stdout" ||
  { cat "$T/stdout"; fail "info does not show the PCRs"; }
expect_exit 0 "$CTL" check-key "$vol2" --unlock-tpm2 --tpm2-device "$TCTI"
grep -q "opens key slot 1" "$T/stdout" || { cat "$T/stdout"; fail "check-key slot 1"; }
mount_vol "$vol2" "$mnt2" "tpm2_device=$TCTI"
echo via-tpm >"$mnt2/f"
umount_wait "$mnt2"
mount_vol "$vol2" "$mnt2" "key_file=$T/k2"
[ "$(cat "$mnt2/f")" = via-tpm ] || fail "the key file does not read what the TPM mount wrote"
umount_wait "$mnt2"

note "option mistakes are usage errors"
expect_exit 2 "$MKFS" --tpm2 --tpm2-pcrs 24 "$T/bad"
stderr_has "--tpm2-pcrs '24'"
expect_exit 2 "$MKFS" --key-file "$T/k1" --tpm2-pcrs 7 "$T/bad"
stderr_has "give --tpm2 too"
[ ! -e "$T/bad" ] || fail "a refused mkfs left $T/bad"
