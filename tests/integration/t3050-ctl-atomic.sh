#!/bin/bash
# Fault injection in envcryptfsctl rotate: every kind of fault (EIO, ENOSPC, a short write, a
# crash) at every step of the header update leaves a volume that opens with the old key or
# the new one, as the tool said (fault.inc; the other key operations are t5000-t5004).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/fault.inc"

A=$T/a B=$T/b
newkey "$A"
newkey "$B"
make_vol "$V/tpl" "$A" aes-256-gcm 4096

note "rotate slot 0 from key A to key B"
fault_matrix rotate "$V/tpl" "--key-file $B --old-key-file $A" "kf:$A=old kf:$B=new" \
  "$CTL" rotate @VOL@ --slot 0 --unlock-key-file "$A" --key-file "$B"
note "ok"
