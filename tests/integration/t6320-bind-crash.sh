#!/bin/bash
# Format 2: a daemon killed between any two steps of a directory rename (the ID file rewritten
# with both places, the rename(2), the ID file rewritten with the new place) never leaves an
# unreadable directory: after a remount the directory reads under its old or its new name,
# with its contents, and fsck finds the volume clean once its repairs (leftover temporary
# files) are done. The crash is the fault-injection build's: the daemon ends at step N.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection
[ -x "$FSCK" ] || skip "$FSCK not built"

vol=$T/vol mnt=$T/mnt key=$T/key log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096 --format-version 2
mount_vol "$vol" "$mnt" "key_file=$key"
mkdir -p "$mnt/from" "$mnt/to"
for i in 0 3 4 7 8; do
  mkdir "$mnt/from/d$i"
  echo "contents $i" >"$mnt/from/d$i/f"
done
umount_wait "$mnt"

# Two atomic rewrites of four steps each (write, fsync, rename, directory fsync): a crash
# before the first step (0), before the rename(2) (3), after it (4), before the last step (7),
# and none (8).
for n in 0 3 4 7 8; do
  register_mount "$mnt"
  env ECFS_FAULT_KIND=crash ECFS_FAULT_AFTER=$n "$ECFS" -f "$vol" "$mnt" -o "key_file=$key" \
    >"$log" 2>&1 &
  pid=$!
  wait_mounted "$mnt" "$pid"
  rc=0
  mv "$mnt/from/d$n" "$mnt/to/m$n" 2>/dev/null || rc=$?
  if [ "$n" -lt 8 ]; then
    wait_exit "$pid" 60
    [ "$WAIT_RC" -eq "$FAULT_CRASH_STATUS" ] || { cat "$log" >&2; fail "step $n: daemon exit $WAIT_RC"; }
    fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
  else
    [ $rc -eq 0 ] || fail "the rename without a fault failed"
    umount_fg "$mnt" 2>/dev/null || { fusermount3 -u "$mnt"; wait_exit "$pid" 60; }
  fi
  mount_fg "$vol" "$mnt" "key_file=$key" "$T/after.log"
  if [ -d "$mnt/to/m$n" ]; then where=$mnt/to/m$n; else where=$mnt/from/d$n; fi
  [ "$(cat "$where/f" 2>&1)" = "contents $n" ] ||
    { cat "$T/after.log" >&2; fail "crash before step $n: ${where#"$mnt"/} does not read"; }
  ls "$where" >/dev/null || fail "crash before step $n: ls ${where#"$mnt"/} fails"
  [ ! -d "$mnt/to/m$n" ] || [ ! -d "$mnt/from/d$n" ] || fail "step $n: both names exist"
  note "crash before step $n: the directory reads as ${where#"$mnt"/}"
  umount_fg "$mnt"
  ! grep -q "bound to another place" "$T/after.log" ||
    { cat "$T/after.log" >&2; fail "step $n: a binding failed"; }
done
"$FSCK" -p --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 || true
"$FSCK" -n --key-file "$key" "$vol" >"$T/fsck.out" 2>&1 ||
  { cat "$T/fsck.out" >&2; fail "fsck -n does not find the volume clean after fsck -p"; }
