#!/bin/bash
# -o io_uring when io_uring_enter(2) fails for want of memory (EAGAIN; injected in test builds
# through ECFS_FAULT_URING_ENTER=N, the Nth wait of all ring workers): the worker retries
# with what it had prepared (a reply's commit among it) instead of ending, so no request of
# its entries waits for ever; one log line says so. (With the fuse module's enable_uring set;
# the old value comes back in the trap.)
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
. "$ECFS_TESTS/t9100-io-uring.inc"
need_progs
need_fault_injection
uring_enable Y

key=$T/key
vol=$T/vol
mnt=$T/mnt
log=$T/daemon.log
make_vol "$vol" "$key" aes-256-gcm 4096
# Past the registrations (one wait per worker), among the requests below.
ECFS_FAULT_URING_ENTER=40 mount_vol "$vol" "$mnt" "key_file=$key,io_uring,log_file=$log"
uring_wait_log "$log" "serving through io_uring"

head -c 300000 /dev/urandom >"$T/data"
work() {
  local i
  for i in $(seq 1 40); do echo "small $i" >"$mnt/s$i"; done
  cp "$T/data" "$mnt/file"
  cmp "$T/data" "$mnt/file"
}
(work) &
pid=$!
for ((i = 0; i < HANG_SECS * 10; i++)); do
  proc_alive "$pid" || break
  sleep 0.1
done
if proc_alive "$pid"; then
  fuse_abort "$mnt" # a request waiting in the kernel ends only this way
  wait "$pid" 2>/dev/null || true
  fail "file operations hung after a failed io_uring_enter"
fi
rc=0
wait "$pid" || rc=$?
[ $rc -eq 0 ] || fail "file operations failed ($rc) after a failed io_uring_enter"
grep -qF "io_uring: the kernel is short of resources (Resource temporarily unavailable); retrying" "$log" ||
  { cat "$log" >&2; fail "no injected io_uring_enter failure was logged"; }
[ "$(cat "$mnt/s17")" = "small 17" ] || fail "a small file reads wrong"
umount_wait "$mnt"
