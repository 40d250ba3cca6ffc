#!/bin/bash
# Fault injection in a passphrase change (rotate of a passphrase slot): every kind of fault
# at every step of the header update leaves the old passphrase or the new one, as
# envcryptfsctl said (fault.inc).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/fault.inc"

A=$T/a P1=$T/p1 P2=$T/p2
newkey "$A"
printf 'first passphrase\n' >"$P1"
chmod 600 "$P1"
printf 'second passphrase\n' >"$P2"
chmod 600 "$P2"

note "passphrase change: slot 1 from P1 to P2, authorized by P1; key A's slot 0 stays"
make_vol "$V/pass" "$A" aes-256-gcm 4096
"$CTL" slot add "$V/pass" --unlock-key-file "$A" --passphrase-file "$P1" "${FAST_ARGON[@]}" \
  >/dev/null || fail "slot add P1"
fault_matrix passphrase "$V/pass" "--key-file $A" "pp:$P1=old pp:$P2=new kf:$A=always" \
  "$CTL" rotate @VOL@ --unlock-passphrase-file "$P1" --passphrase-file "$P2" "${FAST_ARGON[@]}"
note "ok"
