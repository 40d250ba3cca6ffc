#!/bin/bash
# A KMS credential only goes to a KMS named by local configuration (an option or a root-owned
# configuration file), never to an address read from the backing directory. The attacker
# plants, in the primary header, a KMS slot tried first whose URL is a listener that records
# everything: with no KMS configured nothing is contacted and the message says which option
# to give; with the real KMS configured the mount, fsck, envcryptfsctl and `info` with
# VAULT_TOKEN go through it alone and the header is repaired; a configured URL that is not the
# slot's is refused naming both; the configuration file is read only when root owns it and
# no one else may write it.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"
. "$ECFS_TESTS/t6000-attacker.inc"
trap 'rc=$?; set +e; record_stop; kms_stop KILL 2>/dev/null; (exit $rc); finish_test' EXIT

kms_setup
record_start
vol=$T/vol mnt=$T/mnt
register_mount "$mnt"
kms_vol "$vol" vol1
mount_vol "$vol" "$mnt" "$KMS_O"
echo secret >"$mnt/file"
umount_wait "$mnt"
TOKEN=$(cat "$TOKEN_FILE")
AUTH_O="kms_cacert=$T/ca.pem,kms_token_file=$TOKEN_FILE"
attack() { plant_kms_slot "$vol/envcryptfs.header" "$EVIL_URL"; }
clean_header() {
  ! grep -qF "$EVIL_URL" "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" ||
    fail "$1: the planted slot is still in a header copy"
  cmp -s "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" || fail "$1: the copies differ"
}

note "no KMS configured: nothing is contacted; the message names the option to give"
attack
expect_exit 2 "$ECFS" "$vol" "$mnt" -o "$AUTH_O" </dev/null
stderr_has "no KMS is configured"
stderr_has "kms_url"
! mountpoint -q "$mnt" || fail "mounted with no KMS configured"
expect_exit 2 "$CTL" check-key "$vol" "${KMS_AUTH[@]}"
stderr_has "--kms-url"
expect_exit 8 "$FSCK" -n "${KMS_AUTH[@]}" "$vol"
nothing_recorded "no KMS configured"

note "info with VAULT_TOKEN contacts no KMS it was not given"
expect_exit 0 env VAULT_TOKEN="$TOKEN" "$CTL" info "$vol" --kms-cacert "$T/ca.pem"
stdout_has "KMS server: not contacted"
stdout_has "header authenticated: no"
expect_exit 0 env VAULT_TOKEN="$TOKEN" "$CTL" info "$vol" --kms-url "$KMS_URL" --kms-cacert "$T/ca.pem"
stdout_has "KMS server: reachable; key 'vol1'"
stdout_has "not contacted: the volume's KMS slot names $EVIL_URL, but the configured KMS is $KMS_URL"
expect_exit 0 env VAULT_TOKEN="$TOKEN" "$CTL" info "$vol" --kms-check --kms-cacert "$T/ca.pem"
nothing_recorded "info"

note "the real KMS configured: fsck -n reports the planted header, -p repairs it"
expect_exit 4 "$FSCK" -n "${KMS_ARGS[@]}" "$vol"
grep -q "header MAC" "$T/stdout" "$T/stderr" || { cat "$T/stdout" "$T/stderr" >&2; fail "fsck -n does not say the MAC fails"; }
expect_exit 1 "$FSCK" -p "${KMS_ARGS[@]}" "$vol"
clean_header "fsck -p"
nothing_recorded "fsck"

note "the mount goes through the configured KMS alone, says so and repairs the header"
attack
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$KMS_O" </dev/null
stderr_has "header file 'envcryptfs.header' is damaged (it fails the header MAC"
stderr_has "rewrote both header copies"
[ "$(cat "$mnt/file")" = secret ] || fail "content after the repair"
umount_wait "$mnt"
clean_header "mount"
nothing_recorded "mount"

note "envcryptfsctl: check-key names the planted copy, a command that writes repairs it"
attack
expect_exit 0 "$CTL" check-key "$vol" "${KMS_ARGS[@]}"
stderr_has "fails the header MAC"
expect_exit 0 "$CTL" rotate "$vol" "${KMS_ARGS[@]}"
stderr_has "rewrote both header copies"
clean_header "rotate"
nothing_recorded "envcryptfsctl"

note "both copies planted alike: still only the configured KMS is asked, and the MAC refuses"
attack
cp "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy"
expect_exit 4 "$ECFS" "$vol" "$mnt" -o "$KMS_O" </dev/null
stderr_has "MAC"
nothing_recorded "both copies planted"
cp "$vol/envcryptfs.header" "$T/planted.header"

note "a configured URL that is not the slot's is refused, naming both"
plant_json "$vol/envcryptfs.header" <(tail -c +113 "$T/planted.header" | sed "s|$KMS_URL|$EVIL_URL|")
cp "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "$KMS_O" </dev/null
stderr_has "names $EVIL_URL, but the configured KMS is $KMS_URL"
nothing_recorded "mismatch"

note "a key-file volume given a KMS slot: the token in the environment goes nowhere"
kvol=$T/kvol
make_vol "$kvol" "$T/kvol.key" aes-256-gcm 4096
plant_foreign_kms_slot "$kvol/envcryptfs.header" "$vol/envcryptfs.header.copy" "$EVIL_URL"
expect_exit 0 env VAULT_TOKEN="$TOKEN" "$CTL" info "$kvol" --kms-check
stdout_has "slot 1: kms"
stdout_has "not contacted"
expect_exit 2 env VAULT_TOKEN="$TOKEN" "$ECFS" "$kvol" "$mnt" </dev/null
stderr_has "no KMS is configured"
expect_exit 0 env VAULT_TOKEN="$TOKEN" "$ECFS" "$kvol" "$mnt" -o "key_file=$T/kvol.key" </dev/null
stderr_has "fails the header MAC"
umount_wait "$mnt"
! grep -qF "$EVIL_URL" "$kvol/envcryptfs.header" || fail "the planted KMS slot survived the mount"
nothing_recorded "key-file volume"

note "the configuration file: used when root owns it and only root may write it"
rm -rf "$vol" && kms_vol "$vol" vol1
conf=$T/kms.conf
printf '# the KMS\nkms_url=%s\n  kms_cacert=%s\nkms_token_file=%s\n' "$KMS_URL" "$T/ca.pem" \
  "$TOKEN_FILE" >"$conf"
chmod 644 "$conf"
attack
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "kms_config=$conf" </dev/null
stderr_has "rewrote both header copies"
umount_wait "$mnt"
expect_exit 0 "$CTL" check-key "$vol" --kms-config "$conf"
chmod 664 "$conf"
expect_exit 1 "$ECFS" "$vol" "$mnt" -o "kms_config=$conf" </dev/null
stderr_has "writable by group or others"
chmod 644 "$conf"
chown nobody "$conf"
expect_exit 8 "$FSCK" -n --kms-config "$conf" "$vol"
grep -q "not owned by root" "$T/stdout" "$T/stderr" || fail "fsck took a file root does not own"
chown root "$conf"
ln -s "$conf" "$T/kms.link"
expect_exit 1 "$CTL" check-key "$vol" --kms-config "$T/kms.link"
stderr_has "symbolic link"
printf 'kms_url=%s\nkms_token=abc\n' "$KMS_URL" >"$conf"
expect_exit 1 "$CTL" check-key "$vol" --kms-config "$conf"
stderr_has "line 2"
nothing_recorded "configuration file"
note "all untrusted-URL checks passed"
