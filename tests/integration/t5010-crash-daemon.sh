#!/bin/bash
# Crash consistency of the daemon: while crashload's seeded workload (creates, writes,
# appends, truncates, renames, hard links, unlinks, xattrs, fsyncs) runs on the mount, the
# daemon is killed with SIGKILL at a random moment; the dead mount is detached, fsck -p must
# bring the volume back to clean (fsck -n exit 0), and after a remount every name whose last
# change was synced reads exactly, and every name in flight reads as blocks some write put
# there, or fails with a clear error, never as other bytes. Then the next round. Every round
# checks all earlier rounds again. ECFS_CRASH_SEED replays a run, ECFS_CRASH_ROUNDS sets its
# length (make crash-test runs a long one).
. "$ECFS_TESTS/lib.sh"
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"
sanitizer_logs
trap finish_test EXIT
LOAD=$(ecfs_tool crashload)
SEED=${ECFS_CRASH_SEED:-$(($(date +%s) % 1000000))}
ROUNDS=${ECFS_CRASH_ROUNDS:-5}
note "seed $SEED, $ROUNDS rounds (replay with ECFS_CRASH_SEED=$SEED)"
RANDOM=$SEED

key=$T/key vol=$T/vol mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096 --format-version "${ECFS_CRASH_FORMAT:-1}"

# verify_rounds N: rounds 1..N as crashload sees them on the mount.
verify_rounds() {
  local i
  for ((i = 1; i <= $1; i++)); do
    [ -f "$T/j$i" ] || continue # killed before the workload began
    "$LOAD" verify "$mnt/r$i" "$T/j$i" >"$T/verify.out" 2>&1 ||
      { cat "$T/verify.out" >&2; fail "round $i (seed $SEED): crashload verify failed"; }
    grep -q "fails to read" "$T/verify.out" && cat "$T/verify.out"
    [ "$1" -lt "$ROUNDS" ] || note "$(tail -n 1 "$T/verify.out")"
  done
  return 0
}

# fsck_clean: fsck -p repairs what the crash left (exit 0 or 1), then fsck -n finds nothing.
fsck_clean() {
  local rc=0
  "$FSCK" -p --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
  [ "$rc" -le 1 ] || { cat "$T/fsck.out" >&2; fail "round $1 (seed $SEED): fsck -p exited $rc"; }
  [ "$rc" -eq 0 ] || note "round $1: fsck -p repaired: $(grep -c . "$T/fsck.out") lines"
  "$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 ||
    { cat "$T/fsck.out" >&2; fail "round $1 (seed $SEED): fsck -n after fsck -p is not clean"; }
}

for ((r = 1; r <= ROUNDS; r++)); do
  opts=key_file=$key
  ((r % 2)) || opts=$opts,no_writeback_cache
  mount_vol "$vol" "$mnt" "$opts"
  verify_rounds $((r - 1))
  "$LOAD" run "$mnt/r$r" "$T/j$r" $((SEED * 100 + r)) >"$T/load.out" 2>&1 &
  lpid=$!
  # 0.3 to 2.2 s into the workload
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"
  sleep 0.3
  pid=$(daemon_pid "$mnt")
  [ -n "$pid" ] || fail "round $r: no daemon serves $mnt"
  proc_alive "$lpid" || { cat "$T/load.out" >&2; fail "round $r: the workload ended before the kill"; }
  kill -KILL "$pid"
  wait_exit "$lpid"
  [ "$WAIT_RC" -eq 0 ] || { cat "$T/load.out" >&2; fail "round $r (seed $SEED): the workload failed"; }
  note "round $r ($opts): $(tail -n 1 "$T/load.out")"
  for ((i = 0; i < HANG_SECS * 10; i++)); do proc_alive "$pid" || break; sleep 0.1; done
  fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" || fail "cannot detach the dead mount"
  fsck_clean "$r"
done

mount_vol "$vol" "$mnt" "key_file=$key"
verify_rounds "$ROUNDS"
umount_wait "$mnt"
note "ok"
