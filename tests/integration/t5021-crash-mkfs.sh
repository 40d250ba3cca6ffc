#!/bin/bash
# mkfs.envcryptfs crashed (fault injection) before each step of writing the header, or killed
# with SIGKILL at random moments (ECFS_CRASH_SEED replays them), leaves nothing a rerun trips
# on: either the volume was made (it opens with its key, a rerun refuses it, and fsck -p
# finishes it) or a plain rerun works; and fsck -n then finds the volume clean.
. "$ECFS_TESTS/lib.sh"
need_fault_injection
[ -x "$MKFS" ] || skip "$MKFS not built"
[ -x "$FSCK" ] || skip "$FSCK not built"

SEED=${ECFS_CRASH_SEED:-$(($(date +%s) % 1000000))}
note "seed $SEED (replay with ECFS_CRASH_SEED=$SEED)"
RANDOM=$SEED

A=$T/a B=$T/b PW=$T/pw
newkey "$A"
newkey "$B"
printf 'a passphrase\n' >"$PW"
chmod 600 "$PW"

# rerun_after VOL WHAT FSCK-KEY OPENS-OPTS...: after an interrupted mkfs, either the volume
# was made (OPENS-OPTS open it): a rerun refuses it, as mkfs refuses every volume, and fsck -p
# finishes it (a header copy it had no time to write); or a plain rerun with key B works.
rerun_after() {
  local v=$1 what=$2 fk=$3
  shift 3
  if opens "$v" "$@"; then
    note "$what: the volume was made"
    expect_exit 1 "$MKFS" -q --key-file "$B" "$v"
    stderr_has "already holds a volume"
    clean_after "$v" "$fk"
  else
    note "$what: no volume; rerun"
    expect_exit 0 "$MKFS" -q --key-file "$B" "$v"
    opens "$v" --unlock-key-file "$B" || fail "$what: the rerun made no volume that key B opens"
    clean_after "$v" --key-file "$B"
  fi
}

note "mkfs crashed before each step of its header writes"
for ((n = 0; n < 8; n++)); do
  v=$T/mkfs-$n
  rc=0
  ECFS_FAULT_KIND=crash ECFS_FAULT_AFTER=$n "$MKFS" -q --key-file "$A" "$v" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq "$FAULT_CRASH_STATUS" ] || fail "mkfs with a crash at step $n exited $rc"
  rerun_after "$v" "crash at step $n" "--key-file=$A" --unlock-key-file "$A"
done

note "mkfs with a passphrase (a real Argon2 cost) killed at random moments"
MK=(-q --passphrase-file "$PW" --argon2-time 2 --argon2-memory 65536 --argon2-parallel 1)
start=$(date +%s%N)
"$MKFS" "${MK[@]}" "$T/timing" >/dev/null || fail "mkfs with a passphrase"
ms=$((($(date +%s%N) - start) / 1000000))
note "mkfs takes $ms ms here"
for ((i = 0; i < 4; i++)); do
  v=$T/kill-$i
  "$MKFS" "${MK[@]}" "$v" >/dev/null 2>&1 &
  pid=$!
  delay=$((RANDOM % (ms + ms / 5 + 1)))
  sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rerun_after "$v" "kill $i after $delay ms" "--passphrase-file=$PW" --unlock-passphrase-file "$PW"
done

note "ok"
