#!/bin/bash
# Header writers take one metadata lock (envcryptfs.metalock): concurrent slot adds and
# removes lose nothing, a writer waits for the lock at most --wait seconds and then names the
# holder, and header-restore waits for it too.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$MKFS" ] || skip "$MKFS not built"
sanitizer_logs
trap finish_test EXIT

vol=$T/vol
make_vol "$vol" "$T/k0" aes-256-gcm 4096
for i in 1 2 3 4 5 6 7; do newkey "$T/k$i"; done

# nslots: the number of key slots in use.
nslots() { "$CTL" slot list "$vol" | grep -c '^  slot [0-9]:' || true; }

for round in 1 2; do
  note "round $round: seven slot adds at once, each with its own key: none is lost"
  pids=()
  for i in 1 2 3 4 5 6 7; do
    "$CTL" slot add "$vol" --unlock-key-file "$T/k0" --key-file "$T/k$i" \
      >"$T/add$i.out" 2>"$T/add$i.err" &
    pids+=($!)
  done
  for i in 1 2 3 4 5 6 7; do
    wait "${pids[$((i - 1))]}" || fail "slot add of k$i failed: $(cat "$T/add$i.err")"
  done
  [ "$(nslots)" -eq 8 ] || fail "$(nslots) slots after seven adds, expected 8"
  for i in 0 1 2 3 4 5 6 7; do
    "$CTL" check-key "$vol" --unlock-key-file "$T/k$i" >/dev/null 2>&1 ||
      fail "round $round: the slot of k$i was lost"
  done
  note "round $round: seven slot removes at once: all take effect"
  pids=()
  for n in 1 2 3 4 5 6 7; do
    "$CTL" slot remove "$vol" "$n" --unlock-key-file "$T/k0" >/dev/null 2>"$T/rm$n.err" &
    pids+=($!)
  done
  for n in 1 2 3 4 5 6 7; do
    wait "${pids[$((n - 1))]}" || fail "slot remove $n failed: $(cat "$T/rm$n.err")"
  done
  [ "$(nslots)" -eq 1 ] || fail "$(nslots) slots after the removes, expected 1"
  "$CTL" check-key "$vol" --unlock-key-file "$T/k0" >/dev/null || fail "k0 no longer opens"
done

note "a held lock: --wait 1 gives up with exit 1 and names the holder"
exec 9>>"$vol/envcryptfs.metalock"
flock -x 9
printf '%s envcryptfsctl\n' "$$" >"$vol/envcryptfs.metalock"
expect_exit 1 "$CTL" slot add "$vol" --unlock-key-file "$T/k0" --key-file "$T/k1" --wait 1
stderr_has "is changing the header"
stderr_has "held by pid $$"
stderr_has "--wait"
[ "$(nslots)" -eq 1 ] || fail "a slot add that could not lock changed the volume"
"$CTL" header-backup "$vol" "$T/backup" >/dev/null || fail "header-backup needs no lock"
expect_exit 1 "$CTL" header-restore "$vol" "$T/backup" --wait 0
stderr_has "is changing the header"

note "a lock released while a writer waits: the writer goes on"
"$CTL" slot add "$vol" --unlock-key-file "$T/k0" --key-file "$T/k1" --wait 60 \
  >"$T/wait.out" 2>"$T/wait.err" &
waiter=$!
sleep 1
proc_alive "$waiter" || fail "the writer did not wait for the lock: $(cat "$T/wait.err")"
flock -u 9
exec 9>&-
wait_exit "$waiter" 60
[ "$WAIT_RC" -eq 0 ] || fail "the waiting slot add failed: $(cat "$T/wait.err")"
"$CTL" check-key "$vol" --unlock-key-file "$T/k1" >/dev/null || fail "the waited-for slot is missing"

note "--wait takes a number of seconds"
expect_exit 2 "$CTL" slot add "$vol" --unlock-key-file "$T/k0" --key-file "$T/k2" --wait soon
expect_exit 2 "$CTL" info "$vol" --wait 5
