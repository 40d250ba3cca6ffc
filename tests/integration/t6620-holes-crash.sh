#!/bin/bash
# Format 2: a crash at each step of making a hole (the holes map's temporary file, its
# fsync, its rename, the directory's fsync, then the blob header naming the map's generation)
# never turns a hole into EIO: after a remount the file reads as it was before the growing
# truncate or as after it, and fsck finds nothing but leftovers to remove. The daemon
# is ended at the Nth step by the fault hook (ECFS_FAULT_KIND=crash, exit status 99).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection

CS=4096
key=$T/key
mnt=$T/mnt
head -c $((CS + 100)) /dev/urandom >"$T/data"
{ cat "$T/data"; head -c $((6 * CS - CS - 100)) /dev/zero; } >"$T/grown"

crashed=0
for step in 0 1 2 3 4 5; do
  vol=$T/vol$step
  make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
  register_mount "$mnt"
  ECFS_FAULT_AFTER=$step ECFS_FAULT_KIND=crash \
    env --default-signal=INT,TERM "$ECFS" -f "$vol" "$mnt" -o "key_file=$key" \
    >"$T/logc$step" 2>&1 &
  DAEMON=$!
  wait_mounted "$mnt" "$DAEMON"
  cp "$T/data" "$mnt/f" && sync "$mnt/f"
  truncate -s $((6 * CS)) "$mnt/f" 2>/dev/null || true
  fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true
  wait_exit "$DAEMON" 60
  [ "$WAIT_RC" -eq "$FAULT_CRASH_STATUS" ] && crashed=$((crashed + 1))
  [ "$step" -lt 5 ] && [ "$WAIT_RC" -ne "$FAULT_CRASH_STATUS" ] &&
    { cat "$T/logc$step" >&2; fail "step $step: the daemon did not crash (exit $WAIT_RC)"; }
  mount_fg "$vol" "$mnt" "key_file=$key" "$T/logr$step"
  cmp "$T/data" "$mnt/f" 2>/dev/null || cmp "$T/grown" "$mnt/f" ||
    { cat "$T/logr$step" >&2; fail "step $step: the file reads neither as before nor as after"; }
  umount_fg "$mnt"
  log_clean "$T/logr$step"
  # fsck may find the map's temporary file or a map the header does not name yet (a crash
  # before the rename or before the header), nothing else.
  "$FSCK" -n --key-file "$key" "$vol" </dev/null >"$T/fsck$step" 2>&1 && continue
  grep -v -e "temporary file of an interrupted update" -e "holes map is a leftover" \
    "$T/fsck$step" | in_output "fsck.envcryptfs: /" &&
    { cat "$T/fsck$step" >&2; fail "step $step: fsck finds damage"; }
done
[ "$crashed" -eq 5 ] || fail "the daemon crashed in $crashed of the 5 steps"
