#!/bin/bash
# Fault injection in envcryptfsctl slot add: every kind of fault at every step of the header
# update leaves the authorizing key working and the new one working exactly when the tool
# said the change took effect (fault.inc).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/fault.inc"

A=$T/a B=$T/b
newkey "$A"
newkey "$B"
make_vol "$V/tpl" "$A" aes-256-gcm 4096

note "slot add B, authorized by A"
fault_matrix add "$V/tpl" "--key-file $A" "kf:$A=always kf:$B=new" \
  "$CTL" slot add @VOL@ --unlock-key-file "$A" --key-file "$B"
note "ok"
