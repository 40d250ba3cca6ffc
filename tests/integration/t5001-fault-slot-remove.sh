#!/bin/bash
# Fault injection in envcryptfsctl slot remove: every kind of fault at every step of the
# header update keeps the other slot, and the removed key opens exactly when the tool said
# the change did not take effect (fault.inc).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/fault.inc"

A=$T/a B=$T/b
newkey "$A"
newkey "$B"
make_vol "$V/two" "$A" aes-256-gcm 4096
"$CTL" slot add "$V/two" --unlock-key-file "$A" --key-file "$B" >/dev/null || fail "slot add"

note "slot remove 0 (key A), authorized by A; slot 1 (key B) stays"
fault_matrix remove "$V/two" "--key-file $B" "kf:$A=old kf:$B=always" \
  "$CTL" slot remove @VOL@ 0 --unlock-key-file "$A"
note "ok"
