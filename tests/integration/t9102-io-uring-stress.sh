#!/bin/bash
# -o io_uring under the concurrency stress tool (with the fuse module's enable_uring set; the
# old value comes back in the trap): many lseek(SEEK_DATA/SEEK_HOLE) calls at once on files
# with dirty cached pages, whose replies come from the lseek thread while the write-backs
# they wait for need ring entries of the same queues (t5130 on /dev/fuse), then writers,
# readers and directory operations together. The tool's watchdog fails the test (with the
# daemon's threads) when any call makes no progress for 60 s.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
. "$ECFS_TESTS/t9100-io-uring.inc"
need_progs
STRESS=$(ecfs_tool stress)
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
note "seed=$SEED (rerun with SEED=$SEED)"
uring_enable Y
vol=$T/vol mnt=$T/mnt key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096
mount_fg "$vol" "$mnt" "key_file=$key,io_uring" "$T/daemon.log"
uring_wait_log "$T/daemon.log" "serving through io_uring"
mkdir "$mnt/s" "$mnt/m"
run_stress "$mnt" "$DAEMON" --dir "$mnt/s" --seconds 10 --seed "$SEED" --writers 8 \
  --readers 0 --seekers 24 --dirops 0 --files 24 --stall "${STRESS_STALL:-60}"
run_stress "$mnt" "$DAEMON" --dir "$mnt/m" --seconds 10 --seed "$SEED" --writers 4 \
  --readers 4 --seekers 2 --dirops 2 --stall "${STRESS_STALL:-60}"
umount_fg "$mnt"
log_clean "$T/daemon.log"
