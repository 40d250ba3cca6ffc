#!/bin/bash
# Fault injection in an import (slot add authorized by an export file): every kind of fault
# at every step of the header update leaves the new key working exactly when envcryptfsctl
# said the change took effect (fault.inc).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/fault.inc"

A=$T/a B=$T/b PW=$T/pw EX=$T/vol.export
newkey "$A"
newkey "$B"
printf 'export password\n' >"$PW"
chmod 600 "$PW"

note "import: slot add B, authorized by an export of the volume key"
make_vol "$V/imp" "$A" aes-256-gcm 4096
"$CTL" export "$V/imp" --unlock-key-file "$A" --passphrase-file "$PW" --out "$EX" \
  "${FAST_ARGON[@]}" >/dev/null || fail "export"
fault_matrix import "$V/imp" "--key-file $A" "kf:$A=always kf:$B=new" \
  "$CTL" slot add @VOL@ --unlock-export "$EX" --unlock-passphrase-file "$PW" --key-file "$B"
note "ok"
