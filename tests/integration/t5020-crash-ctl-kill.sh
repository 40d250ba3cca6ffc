#!/bin/bash
# envcryptfsctl killed with SIGKILL mid-operation leaves nothing a rerun trips on: slot add of
# a passphrase, killed at random moments (ECFS_CRASH_SEED replays them), either took effect
# whole or a plain rerun works, the authorizing key opens throughout, and fsck -p brings the
# volume back to clean (fsck -n exit 0). Crashes at each step of the header write itself are
# the crash kind of the fault-injection tests (t3050, t5000-t5005).
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$MKFS" ] || skip "$MKFS not built"
[ -x "$FSCK" ] || skip "$FSCK not built"
SEED=${ECFS_CRASH_SEED:-$(($(date +%s) % 1000000))}
note "seed $SEED (replay with ECFS_CRASH_SEED=$SEED)"
RANDOM=$SEED

A=$T/a PW=$T/pw
newkey "$A"
printf 'a passphrase\n' >"$PW"
chmod 600 "$PW"

note "envcryptfsctl slot add (a passphrase, a real Argon2 cost) killed at random moments"
make_vol "$T/tpl" "$A" aes-256-gcm 4096
ADD=(slot add --unlock-key-file "$A" --passphrase-file "$PW" --argon2-time 2 --argon2-memory 65536
  --argon2-parallel 1)
# One run unkilled tells how long the command takes here; the kills land from its start to a
# little past its end, so that some land in the key derivation and some in the header write.
cp -a "$T/tpl" "$T/timing"
start=$(date +%s%N)
"$CTL" "${ADD[0]}" "${ADD[1]}" "$T/timing" "${ADD[@]:2}" >/dev/null || fail "slot add"
ms=$((($(date +%s%N) - start) / 1000000))
note "slot add takes $ms ms here"
for ((i = 0; i < 4; i++)); do
  v=$T/ctl-$i
  cp -a "$T/tpl" "$v"
  "$CTL" "${ADD[0]}" "${ADD[1]}" "$v" "${ADD[@]:2}" >/dev/null 2>&1 &
  pid=$!
  delay=$((RANDOM % (ms + ms / 5 + 1)))
  sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
  proc_alive "$pid" && killed=killed || killed="ended by itself"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  opens "$v" --unlock-key-file "$A" || fail "kill $i: the authorizing key no longer opens"
  if opens "$v" --unlock-passphrase-file "$PW"; then
    note "kill $i after $delay ms ($killed): the slot was added"
  else
    note "kill $i after $delay ms ($killed): no slot added; rerun"
    "$CTL" slot add "$v" --unlock-key-file "$A" --passphrase-file "$PW" "${FAST_ARGON[@]}" \
      >/dev/null 2>"$T/rerun.err" || { cat "$T/rerun.err" >&2; fail "kill $i: the rerun failed"; }
    opens "$v" --unlock-passphrase-file "$PW" || fail "kill $i: the rerun's passphrase does not open"
  fi
  clean_after "$v" --key-file "$A"
done
note "ok"
