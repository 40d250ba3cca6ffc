#!/bin/bash
# Moving a volume's KMS slot from one KMS to another (envcryptfs-kmsd on one node to a Vault
# or OpenBao cluster; here a second kmsd with its own store, token and port stands in for the
# cluster), as the README describes: an export made through the old KMS authorizes a slot on
# the new one and the removal of the old slot; afterwards the volume mounts through the new
# KMS alone, with the old one stopped, and the old KMS's options are refused naming the new
# KMS, which is not contacted with the old one's token.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"

kms_setup
OLD_PID=$KMSD_PID OLD_URL=$KMS_URL OLD_O=$KMS_O
OLD_ARGS=("${KMS_ARGS[@]}")

# The new KMS: its own store and token, the same test CA's certificate on another port.
"$KMSD" init --store "$T/kms-new" --shares 1 --threshold 1 >/dev/null || fail "kmsd init (new) failed"
: >"$T/kmsd-new.log"
"$KMSD" serve --store "$T/kms-new" --listen 127.0.0.1:0 --tls-cert "$T/srv.pem" \
  --tls-key "$T/srv.key" --unseal-share "$T/kms-new/share.1" 2>"$T/kmsd-new.log" &
NEW_PID=$!
trap 'rc=$?; set +e; kill -9 "$NEW_PID" 2>/dev/null; kms_stop KILL 2>/dev/null; (exit $rc); finish_test' EXIT
NEW_URL=https://127.0.0.1:$(kmsd_port "$T/kmsd-new.log" "$NEW_PID")
NEW_AUTH=(--kms-cacert "$T/ca.pem" --kms-token-file "$T/kms-new/token")
NEW_O="kms_url=$NEW_URL,kms_cacert=$T/ca.pem,kms_token_file=$T/kms-new/token"

vol=$T/vol mnt=$T/mnt
kms_vol "$vol" vol1
mount_vol "$vol" "$mnt" "$OLD_O"
head -c 150000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
umount_wait "$mnt"

note "step 1: an export through the old KMS (the volume's DEK under a password)"
printf 'correct horse battery staple\n' >"$T/pw" && chmod 600 "$T/pw"
expect_exit 0 "$CTL" export "$vol" "${OLD_ARGS[@]}" --out "$T/export" --passphrase-file "$T/pw" \
  "${FAST_ARGON[@]}"
note "step 2: a slot on the new KMS, authorized by the export"
expect_exit 0 "$CTL" slot add "$vol" --unlock-export "$T/export" --unlock-passphrase-file "$T/pw" \
  --kms-url "$NEW_URL" --kms-key db1 "${NEW_AUTH[@]}"
stdout_has "added key slot 1 (kms)"
note "step 3: the old KMS slot removed, authorized by the export; the export destroyed"
expect_exit 0 "$CTL" slot remove "$vol" 0 --unlock-export "$T/export" --unlock-passphrase-file "$T/pw"
shred -u "$T/export"
expect_exit 0 "$CTL" info "$vol"
grep -qF "$OLD_URL" "$T/stdout" && fail "the old KMS is still named in the header"
stdout_has "$NEW_URL"

note "the old KMS stopped: the volume mounts through the new one"
kms_stop TERM
mount_vol "$vol" "$mnt" "$NEW_O"
cmp "$T/data" "$mnt/data" || fail "data differs after the move to the new KMS"
umount_wait "$mnt"
note "the old KMS's options no longer open it, and name why"
kms_start "${OLD_URL##*:}"
mkdir -p "$T/m2"
expect_exit 1 "$ECFS" "$vol" "$T/m2" -o "$OLD_O"
stderr_has "$NEW_URL"
stderr_has "not contacted"
clean_after "$vol" "${NEW_AUTH[@]}" --kms-url "$NEW_URL"
