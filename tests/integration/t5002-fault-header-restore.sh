#!/bin/bash
# Fault injection in envcryptfsctl header-restore: every kind of fault at every step leaves
# the backup's keys or the current ones, as the tool said (fault.inc).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/fault.inc"

A=$T/a C=$T/c
newkey "$A"
newkey "$C"

note "header-restore of a backup made before slot 0 was rotated from A to C"
make_vol "$V/res" "$A" aes-256-gcm 4096
"$CTL" header-backup "$V/res" "$T/res.header" >/dev/null || fail "header-backup"
"$CTL" rotate "$V/res" --slot 0 --unlock-key-file "$A" --key-file "$C" >/dev/null || fail "rotate"
# The backup is older than the copy: a restore whose copy was not written leaves the copy,
# with its higher sequence number, in use: "did not take effect", never "copy not updated".
FAULT_NO_COPY_OUTCOME=1
fault_matrix restore "$V/res" "--key-file $A --old-key-file $C" "kf:$A=new kf:$C=old" \
  "$CTL" header-restore @VOL@ "$T/res.header"
note "ok"
