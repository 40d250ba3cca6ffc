#!/bin/bash
# Crash atomicity of every header update envcryptfsctl makes: rotate, slot add, slot remove
# and header-restore each run with ECFS_FAULT_AFTER=N for N = 0..8, so that every step of the
# atomic header write (temporary file, fsync, rename and directory fsync; primary, then copy)
# fails once. After each run the volume must open with the old key or the new one, never
# with neither, and the command's exit code and message must match what happened.
. "$ECFS_TESTS/lib.sh"
need_fault_injection
[ -x "$MKFS" ] || skip "$MKFS not built"

A=$T/a B=$T/b C=$T/c
newkey "$A"
newkey "$B"
newkey "$C"

# key_state DIR KEY: prints "yes" when KEY opens DIR, "no" when it is the wrong key; any other
# outcome (a damaged header, exit 4) fails the test.
key_state() {
  local rc=0
  "$CTL" check-key "$1" --unlock-key-file "$2" >/dev/null 2>"$T/ck.err" || rc=$?
  case $rc in
    0) echo yes ;;
    3) echo no ;;
    *) cat "$T/ck.err" >&2; fail "check-key $2 on $1 exited $rc" ;;
  esac
}

# run_faulted N CMD...: runs CMD with ECFS_FAULT_AFTER=N; sets RC (which must be 0 or 1) and
# EFFECT: "yes" when it succeeded or said the change took effect, "no" when it said it did
# not, "" when it said neither.
run_faulted() {
  local n=$1
  shift
  RC=0
  ECFS_FAULT_AFTER=$n "$@" >/dev/null 2>"$T/op.err" || RC=$?
  [ "$RC" -le 1 ] || { cat "$T/op.err" >&2; fail "N=$n: '$*' exited $RC"; }
  EFFECT=
  if [ "$RC" -eq 0 ] || grep -qE "took effect|is in both header copies|backup is the header in use" "$T/op.err"; then
    EFFECT=yes
  elif grep -qE "did not take effect|still uses its previous header" "$T/op.err"; then
    EFFECT=no
  fi
  [ -n "$EFFECT" ] || { cat "$T/op.err" >&2; fail "N=$n: '$*' failed without saying whether it took effect"; }
}

# fault_loop NAME TEMPLATE CMD...: for N in 0..8 runs CMD (with @VOL@ for the volume) on a
# fresh copy of TEMPLATE, then calls check_NAME VOL N.
fault_loop() {
  local name=$1 tpl=$2 n failed=0 v a args
  shift 2
  for n in 0 1 2 3 4 5 6 7 8; do
    v=$T/$name-$n
    cp -a "$tpl" "$v"
    args=()
    for a in "$@"; do args+=("${a//@VOL@/$v}"); done
    run_faulted "$n" "${args[@]}"
    [ "$RC" -eq 1 ] && failed=$((failed + 1))
    "check_$name" "$v" "$n"
    [ -z "$(find "$v" -name 'envcryptfs.tmp.*')" ] || fail "N=$n: temporary files left in $v"
    rm -rf "$v"
  done
  # N=0 must hit the first step; N=8 is past the last one.
  [ "$failed" -ge 1 ] && [ "$RC" -eq 0 ] || fail "$name: $failed runs failed, the last exited $RC"
  note "$name: $failed of 9 runs failed part-way; the volume opened after every one"
}

note "rotate slot 0 from A to B"
make_vol "$T/rot" "$A" aes-256-gcm 4096
check_rotate() {
  local old new
  old=$(key_state "$1" "$A") new=$(key_state "$1" "$B")
  [ "$old" = yes ] || [ "$new" = yes ] || fail "N=$2: rotate left a volume neither key opens"
  [ "$EFFECT" = yes ] && { [ "$new" = yes ] && [ "$old" = no ] || fail "N=$2: rotate took effect, but old=$old new=$new"; }
  [ "$EFFECT" = no ] && { [ "$old" = yes ] && [ "$new" = no ] || fail "N=$2: rotate did not take effect, but old=$old new=$new"; }
  return 0
}
fault_loop rotate "$T/rot" "$CTL" rotate @VOL@ --slot 0 --unlock-key-file "$A" --key-file "$B"

note "slot add B, authorized by A"
check_add() {
  local old new
  old=$(key_state "$1" "$A") new=$(key_state "$1" "$B")
  [ "$old" = yes ] || fail "N=$2: slot add lost the authorizing key"
  [ "$new" = "$EFFECT" ] || fail "N=$2: slot add: effect '$EFFECT', but the new key opens: $new"
}
fault_loop add "$T/rot" "$CTL" slot add @VOL@ --unlock-key-file "$A" --key-file "$B"

note "slot remove 0 (A's slot, authorized by A), slot 1 (B) staying"
cp -a "$T/rot" "$T/two"
"$CTL" slot add "$T/two" --unlock-key-file "$A" --key-file "$B" >/dev/null || fail "slot add"
check_remove() {
  local old other
  old=$(key_state "$1" "$A") other=$(key_state "$1" "$B")
  [ "$other" = yes ] || fail "N=$2: slot remove lost the slot it did not remove"
  [ "$EFFECT" = yes ] && [ "$old" = yes ] && fail "N=$2: slot 0 survived its removal"
  [ "$EFFECT" = no ] && [ "$old" = no ] && fail "N=$2: slot 0 went though the remove did not"
  return 0
}
fault_loop remove "$T/two" "$CTL" slot remove @VOL@ 0 --unlock-key-file "$A"

note "header-restore of a backup made before slot 0 was rotated from A to C"
cp -a "$T/rot" "$T/res"
"$CTL" header-backup "$T/res" "$T/res.header" >/dev/null || fail "header-backup"
"$CTL" rotate "$T/res" --slot 0 --unlock-key-file "$A" --key-file "$C" >/dev/null || fail "rotate"
check_restore() {
  local backup current
  backup=$(key_state "$1" "$A") current=$(key_state "$1" "$C")
  [ "$backup" = yes ] || [ "$current" = yes ] || fail "N=$2: restore left a volume neither header opens"
  [ "$EFFECT" = yes ] && { [ "$backup" = yes ] || fail "N=$2: restore took effect, but A does not open"; }
  [ "$EFFECT" = no ] && { [ "$current" = yes ] || fail "N=$2: restore did not take effect, but C does not open"; }
  return 0
}
fault_loop restore "$T/res" "$CTL" header-restore @VOL@ "$T/res.header"
note "ok"
