#!/bin/bash
# Many lseek(SEEK_DATA/SEEK_HOLE) calls at once on files with dirty cached pages, with the
# write-back cache: each has the kernel write those pages back first, which takes worker
# threads; done on the workers themselves, ten such lseeks left none to serve the writes and
# the mount hung. The stress tool's watchdog fails the test (with the daemon's threads) when
# any call makes no progress for 60 s.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
STRESS=$(ecfs_tool stress)
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
note "seed=$SEED (rerun with SEED=$SEED)"
vol=$T/vol mnt=$T/mnt key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096
mount_fg "$vol" "$mnt" "key_file=$key" "$T/daemon.log"
mkdir "$mnt/s"
run_stress "$mnt" "$DAEMON" --dir "$mnt/s" --seconds 10 --seed "$SEED" --writers 8 \
  --readers 0 --seekers 24 --dirops 0 --files 24 --stall "${STRESS_STALL:-60}"
umount_fg "$mnt"
log_clean "$T/daemon.log"
