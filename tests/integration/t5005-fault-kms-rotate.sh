#!/bin/bash
# Fault injection in envcryptfsctl rotate --kms-rotate: the KMS key gets a new version, then
# the slot is rewrapped to it. Every kind of fault at every step of the header update leaves
# a volume that opens through the KMS, its slot at the old KEK generation or the new one as
# the tool said (fault.inc; kmsd as in t4500-kms.inc).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"
. "$ECFS_TESTS/fault.inc"
trap 'rc=$?; set +e; kms_stop KILL 2>/dev/null; fault_fs_release; (exit $rc); finish_test' EXIT

kms_setup
kms_vol "$V/tpl" vol1

# gen_of DIR: slot 0's KEK generation (the KMS key version it is wrapped under).
gen_of() {
  "$CTL" slot list "$1" --json | tr -d ' \n' |
    sed -n 's/.*"index":0,"type":"kms","kek_generation":\([0-9]*\).*/\1/p'
}
# latest: the KMS key's latest version.
latest() {
  kms_api GET transit/keys/vol1
  sed -n 's/.*"latest_version": *\([0-9]*\).*/\1/p' "$T/body"
}
[ "$(gen_of "$V/tpl")" = 1 ] || fail "the template's slot is at generation $(gen_of "$V/tpl")"

# Taking effect moves the slot to the KMS key's newest version; not taking effect leaves it
# at the template's version 1.
fault_extra_check() {
  local gen
  gen=$(gen_of "$1")
  case $2 in
    no) [ "$gen" = 1 ] ;;
    *) [ "$gen" = "$(latest)" ] ;;
  esac
}

note "rotate --kms-rotate of slot 0"
fault_matrix kms-rotate "$V/tpl" "${KMS_ARGS[*]}" "kms:=always" \
  "$CTL" rotate @VOL@ --slot 0 --kms-rotate "${KMS_ARGS[@]}"
note "ok"
