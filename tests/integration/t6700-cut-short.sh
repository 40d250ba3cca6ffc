#!/bin/bash
# Format 2, a blob shorter than its header's size: what a power loss leaves when the size
# raised at close was written before the appended data (nothing syncs at close), and what
# cutting the blob does. The file still opens; reads inside the blob succeed, a read past
# it fails with EIO and the log line "cut short" (also a file cut while open: never a short
# read); stat of the open file shows the header's size; a writable close does not lower it.
# fsck.envcryptfs reports "file is cut short" (4), -p leaves it, -y sets the size to what
# the blob holds (1), after which the file reads that much and fsck is clean. A shrinking
# truncate makes the smaller size durable (fdatasync) before it cuts the blob.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

CS=4096
SC=$((CS + 28))
key=$T/key
vol=$T/vol
mnt=$T/mnt
log=$T/log
blob_of() { find "$vol" -maxdepth 1 -inum "$(stat -c %i "$mnt/$1")" -print -quit; }

make_vol "$vol" "$key" aes-256-gcm $CS
mount_fg "$vol" "$mnt" "key_file=$key" "$log"
head -c $((3 * CS + 100)) /dev/urandom >"$T/f"
head -c $((2 * CS)) /dev/urandom >"$T/g"
cp "$T/f" "$mnt/f"
cp "$T/g" "$mnt/g"
cp "$T/g" "$mnt/h"
bf=$(blob_of f)
bg=$(blob_of g)
umount_fg "$mnt"
log_clean "$log"

note "the size is durable, the appended data is not: the blob ends after chunk 1"
truncate -s $((128 + 2 * SC)) "$bf"
# (With the write-back cache, the default, the kernel keeps the size it has and ignores the
# daemon's, so stat is checked without it.)
mount_fg "$vol" "$mnt" "key_file=$key,no_writeback_cache" "$log"
exec 3<"$mnt/f"
[ "$(stat -c %s "$mnt/f")" -eq $((3 * CS + 100)) ] ||
  fail "stat of the open file shows $(stat -c %s "$mnt/f") bytes, not the header's size"
dd bs=$CS count=2 status=none <&3 >"$T/got" || fail "the chunks the blob holds do not read"
cmp "$T/got" <(head -c $((2 * CS)) "$T/f") || fail "the chunks the blob holds read wrong"
expect_exit 1 dd bs=$CS skip=2 count=1 status=none if="$mnt/f" of=/dev/null
stderr_has "Input/output error"
expect_exit 1 cat "$mnt/f"
stderr_has "Input/output error"
exec 3<&-
grep -F -- "${bf##*/}" "$log" | in_output "cut short: header says $((3 * CS + 100)) bytes, blob holds $((2 * CS))" ||
  { cat "$log" >&2; fail "no 'cut short' log line naming the blob"; }

umount_fg "$mnt"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log1"
expect_exit 1 cat "$mnt/f"
stderr_has "Input/output error"
cmp -n $((2 * CS)) "$mnt/f" "$T/f" || fail "with the write-back cache: the chunks the blob holds read wrong"

note "a writable open and close keeps the header's size"
exec 3>>"$mnt/f"
exec 3>&-
expect_exit 1 cat "$mnt/f"

note "a blob cut while its file is open: the read fails, it is not short"
exec 4<"$mnt/g"
truncate -s $((128 + SC)) "$bg"
expect_exit 1 dd bs=$CS skip=1 count=1 status=none of=/dev/null <&4
stderr_has "Input/output error"
exec 4<&-
grep -F -- "${bg##*/}" "$T/log1" | in_output "cut short: header says $((2 * CS)) bytes, blob holds $CS" ||
  { cat "$T/log1" >&2; fail "no 'cut short' log line for the file cut while open"; }

note "a shrinking truncate syncs the smaller size before it cuts the blob"
pid=$DAEMON
strace -f -qq -p "$pid" -e trace=pwrite64,pwritev,fdatasync,ftruncate -o "$T/trace" &
spid=$!
for _ in $(seq 100); do grep -q "^TracerPid:[[:space:]]*$spid" /proc/"$pid"/status && break; sleep 0.1; done
truncate -s $((CS + 1)) "$mnt/h"
sleep 1
kill "$spid"
wait "$spid" 2>/dev/null || true
# The header write (128 bytes at offset 0, one buffer), then fdatasync, then the cut; in
# this order.
awk '/pwrite64\(.*, 128, 0\)/ || /pwritev\(.*iov_len=128\}\], 1, 0\)/ {h = NR} /fdatasync\(/ && h {s = NR} /ftruncate\(/ && s {t = NR}
     END {exit !(h && s && t && h < s && s < t)}' "$T/trace" ||
  { cat "$T/trace" >&2; fail "no header write, fdatasync, ftruncate in that order"; }
cmp "$mnt/h" <(head -c $((CS + 1)) "$T/g") || fail "the truncated file reads wrong"
umount_fg "$mnt"

note "fsck: reported (4), -p leaves it, -y sets the size to what the blob holds (1)"
expect_exit 4 fsck -n --key-file "$key" "$vol"
stderr_has "/f: file is cut short: the header says $((3 * CS + 100)) bytes, the blob holds $((2 * CS))"
stderr_has "/g: file is cut short: the header says $((2 * CS)) bytes, the blob holds $CS"
expect_exit 4 fsck -p --key-file "$key" "$vol"
expect_exit 1 fsck -y --key-file "$key" "$vol"
stderr_has "size set to $((2 * CS)) bytes, what the blob holds"
expect_exit 0 fsck -n --key-file "$key" "$vol"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2"
cmp "$mnt/f" <(head -c $((2 * CS)) "$T/f") || fail "f after fsck -y reads wrong"
cmp "$mnt/g" <(head -c $CS "$T/g") || fail "g after fsck -y reads wrong"
umount_fg "$mnt"
log_clean "$T/log2"
