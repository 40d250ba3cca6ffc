#!/bin/bash
# Concurrency under the sanitizers: writers, readers, lseek(SEEK_DATA/SEEK_HOLE) and racing
# directory operations (tests/tools/stress.c) against the build's daemon, with and without
# the write-back cache. No unexpected error, wrong byte, stall, sanitizer report or damage
# message; afterwards (and after a remount) every listed entry stats with the right link
# count and fsck.envcryptfs -n finds the volume clean.
# STRESS_SECONDS=N sets the run time per mode (default 12; `make stress-test` runs longer);
# SEED=N reproduces a run; STRESS_NOFILE=N limits the daemon to N descriptors, so that inodes
# park (e.g. 192); STRESS_FORMAT=1 makes format-1 volumes (default 2, mkfs's default);
# STRESS_OPTS=OPTS adds mount options (e.g. io_uring).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
STRESS=$(ecfs_tool stress)
SECS=${STRESS_SECONDS:-12}
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
note "seed=$SEED (rerun with SEED=$SEED), $SECS s per mode"

# A run that fails (here at once: no such directory) is reported, not waited for.
(run_stress "$T" "$$" --dir "$T/no-such-dir" --seconds 1 >/dev/null 2>&1) &
rc=0
wait $! || rc=$?
[ "$rc" -ne 0 ] || fail "run_stress did not report a stress run that failed"

i=0
for extra in "" no_writeback_cache; do
  name=${extra:-writeback_cache}
  vol=$T/vol-$name mnt=$T/mnt-$name key=$T/key-$name log=$T/daemon-$name.log
  opts=key_file=$key${STRESS_OPTS:+,$STRESS_OPTS}${extra:+,$extra}
  seed=$((SEED + i))
  i=$((i + 1))
  note "$name: stress --seed $seed --seconds $SECS"
  make_vol "$vol" "$key" aes-256-gcm 4096 --format-version "${STRESS_FORMAT:-2}"
  NOFILE=${STRESS_NOFILE:-} mount_fg "$vol" "$mnt" "$opts" "$log"
  mkdir "$mnt/s"
  STRESS_LOG=$log run_stress "$mnt" "$DAEMON" --dir "$mnt/s" --seconds "$SECS" --seed "$seed" --writers 3 \
    --readers 3 --seekers 12 --dirops 6 --files 24 --stall "${STRESS_STALL:-60}"
  umount_fg "$mnt"
  note "$name: after a remount"
  NOFILE=${STRESS_NOFILE:-} mount_fg "$vol" "$mnt" "$opts" "$log.2"
  run_stress "$mnt" "$DAEMON" --check-only --dir "$mnt/s" --stall "${STRESS_STALL:-60}"
  umount_fg "$mnt"
  log_clean "$log"
  log_clean "$log.2"
  "$FSCK" -n --key-file "$key" "$vol" </dev/null >"$T/fsck.out" 2>&1 ||
    { cat "$T/fsck.out" >&2; fail "$name: fsck.envcryptfs -n does not find the volume clean"; }
done
