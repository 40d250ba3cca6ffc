#!/bin/bash
# -o io_uring: with the fuse module's enable_uring set (the old value comes back in the trap),
# the daemon says it serves through io_uring, holds io_uring descriptors whose completion
# counts grow with the requests, and serves real work through them: create, write and read
# back, rename, mkdir, readdir, unlink, parallel large writes, tests/tools/posixops, the
# data intact after a remount; it unmounts cleanly, and once killed with SIGKILL its mount
# answers ENOTCONN and the process goes, without hanging anything.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
. "$ECFS_TESTS/t9100-io-uring.inc"
need_progs
POSIXOPS=$(ecfs_tool posixops)
uring_enable Y

key=$T/key
vol=$T/vol
mnt=$T/mnt
log=$T/daemon.log
opts="key_file=$key,io_uring,log_file=$log"
make_vol "$vol" "$key" aes-256-gcm 4096

# ring_completions PID: the completions all of PID's io_uring rings have seen.
ring_completions() {
  local fd n=0 c
  for fd in /proc/"$1"/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[io_uring]" ] || continue
    c=$(awk '$1 == "CqTail:" {print $2}' "/proc/$1/fdinfo/${fd##*/}")
    n=$((n + ${c:-0}))
  done
  echo $n
}

note "mounted with -o io_uring: in use"
mount_vol "$vol" "$mnt" "$opts"
uring_wait_log "$log" "serving through io_uring"
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "no daemon for $mnt"
rings=$(find /proc/"$pid"/fd -lname 'anon_inode:\[io_uring\]' | wc -l)
[ "$rings" -ge 1 ] || fail "the daemon holds no io_uring descriptor"
before=$(ring_completions "$pid")

note "file operations through the rings"
head -c 300000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/file"
cmp "$T/data" "$mnt/file" || fail "read back differs"
mkdir "$mnt/dir"
mv "$mnt/file" "$mnt/dir/renamed"
[ ! -e "$mnt/file" ] && cmp "$T/data" "$mnt/dir/renamed" || fail "rename lost the file"
for i in $(seq 1 50); do echo "small $i" >"$mnt/dir/s$i"; done
[ "$(ls "$mnt/dir" | wc -l)" -eq 51 ] || fail "readdir lists $(ls "$mnt/dir" | wc -l) entries, not 51"
[ "$(cat "$mnt/dir/s17")" = "small 17" ] || fail "a small file reads wrong"
rm "$mnt/dir/s1"
[ ! -e "$mnt/dir/s1" ] || fail "unlink left the file"
for i in 1 2 3 4; do
  head -c $((8 << 20)) /dev/urandom >"$T/big$i"
  cp "$T/big$i" "$mnt/big$i" &
done
wait
for i in 1 2 3 4; do cmp "$T/big$i" "$mnt/big$i" || fail "parallel write $i reads back wrong"; done
after=$(ring_completions "$pid")
[ $((after - before)) -ge 100 ] ||
  fail "only $((after - before)) ring completions for all that: the requests went elsewhere"
note "$((after - before)) requests came through the rings"

punch=()
head -c 8192 /dev/zero >"$T/punch-probe"
fallocate -p -o 0 -l 4096 "$T/punch-probe" 2>/dev/null || punch=(--allow-no-punch)
mkdir "$mnt/posix"
"$POSIXOPS" --ecfs "${punch[@]}" "$mnt/posix" >"$T/posixops.log" 2>&1 ||
  { grep -v '^ok ' "$T/posixops.log" | head -n 40 >&2; fail "posixops fails through io_uring"; }

note "clean unmount, data intact after a remount"
umount_wait "$mnt"
grep -qiE "error|damaged" "$log" && { cat "$log" >&2; fail "the daemon logged an error"; }
mount_vol "$vol" "$mnt" "$opts"
cmp "$T/data" "$mnt/dir/renamed" || fail "the renamed file differs after a remount"
for i in 1 2 3 4; do cmp "$T/big$i" "$mnt/big$i" || fail "big$i differs after a remount"; done

note "SIGKILL: the mount answers ENOTCONN, nothing hangs"
pid=$(daemon_pid "$mnt")
cat "$mnt/big1" >/dev/null
kill -9 "$pid"
for ((i = 0; i < HANG_SECS * 10; i++)); do
  proc_alive "$pid" || break
  sleep 0.1
done
! proc_alive "$pid" || fail "the killed daemon still exists after $HANG_SECS s"
rc=0
timeout "$HANG_SECS" stat "$mnt" >/dev/null 2>"$T/stderr" || rc=$?
[ $rc -ne 124 ] || fail "stat of the dead mount hung"
grep -q "not connected" "$T/stderr" || { cat "$T/stderr" >&2; fail "the dead mount does not answer ENOTCONN"; }
fusermount3 -u "$mnt" || fail "cannot unmount the dead mount"
fsck -n "$vol" >/dev/null || fail "fsck finds the volume damaged after the kill"
