#!/bin/bash
# Format 2: a crash between a write past the end and the close that lists the chunks it
# skipped leaves all-zero chunks past the header's size that no holes map lists. fsck -p
# repairs it without dropping what was written: the zero chunks become listed holes when
# written chunks follow them (a crash by the fault hook just before the header names the new
# map, leaving that map behind; and a kill -9 before the close), and are cut off when only
# zeros follow. Afterwards fsck -n finds nothing and the file reads as written.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection
command -v python3 >/dev/null || skip "python3 is missing"

CS=4096
SC=$((CS + 28))
key=$T/key
mnt=$T/mnt

# write_past_end FILE WAIT: on one O_DIRECT handle (each write reaches the daemon as made),
# writes chunk 0 from $T/c0, fsyncs, writes chunk 5 from $T/c5 (chunks 1-4 are skipped);
# with WAIT=wait it then says "ready" and sleeps with the handle open, otherwise closes it.
write_past_end() {
  python3 - "$@" "$T/c0" "$T/c5" <<'PY'
import mmap, os, sys, time
CS = 4096
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
buf = mmap.mmap(-1, CS)
for idx, src in ((0, sys.argv[3]), (5, sys.argv[4])):
    buf[:] = open(src, "rb").read()
    assert os.pwritev(fd, [buf], idx * CS) == CS
    if idx == 0:
        os.fsync(fd)
if sys.argv[2] == "wait":
    print("ready", flush=True)
    time.sleep(120)
try:
    os.close(fd)
except OSError:
    pass
PY
}

# fsck_repairs VOL WHAT: fsck -n reports WHAT once for the file (no chunk failures), fsck -p
# repairs it (exit 1), then fsck -n finds nothing.
fsck_repairs() {
  local rc=0
  fsck -n --key-file "$key" "$1" >"$T/fsck.n" 2>&1 || rc=$?
  [ "$rc" -eq 4 ] || { cat "$T/fsck.n" >&2; fail "$2: fsck -n exited $rc, not 4"; }
  grep -q "unlisted zero chunks past the file's size" "$T/fsck.n" ||
    { cat "$T/fsck.n" >&2; fail "$2: fsck -n does not name the zero chunks past the size"; }
  grep -q "chunk fails authentication" "$T/fsck.n" &&
    { cat "$T/fsck.n" >&2; fail "$2: the zero chunks are reported twice"; }
  rc=0
  fsck -p --key-file "$key" "$1" >"$T/fsck.p" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat "$T/fsck.p" >&2; fail "$2: fsck -p exited $rc, not 1"; }
  grep -q "$3" "$T/fsck.p" || { cat "$T/fsck.p" >&2; fail "$2: fsck -p did not say '$3'"; }
  fsck -n --key-file "$key" "$1" >"$T/fsck.n" 2>&1 ||
    { cat "$T/fsck.n" >&2; fail "$2: fsck -n after fsck -p is not clean"; }
}

head -c $CS /dev/urandom >"$T/c0"
head -c $CS /dev/urandom >"$T/c5"
{ cat "$T/c0"; head -c $((4 * CS)) /dev/zero; cat "$T/c5"; } >"$T/expect"

note "a crash just before the header names the map listing the skipped chunks"
vol=$T/vol1
make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
register_mount "$mnt"
# Steps of the close's commit: the map's temporary file, its fsync, its rename, the
# directory's fsync (0-3), then the blob header (4).
ECFS_FAULT_AFTER=4 ECFS_FAULT_KIND=crash \
  env --default-signal=INT,TERM "$ECFS" -f "$vol" "$mnt" -o "key_file=$key,no_writeback_cache" \
  >"$T/log1" 2>&1 &
DAEMON=$!
wait_mounted "$mnt" "$DAEMON"
write_past_end "$mnt/f" close
wait_exit "$DAEMON" 60
[ "$WAIT_RC" -eq "$FAULT_CRASH_STATUS" ] ||
  { cat "$T/log1" >&2; fail "the daemon did not crash at the header (exit $WAIT_RC)"; }
fusermount3 -u -z "$mnt" 2>/dev/null || true
ls "$vol"/envcryptfs.holes.* >/dev/null 2>&1 || fail "the crash left no holes map behind"
fsck_repairs "$vol" "crash before the header" "listed as holes"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log1r"
cmp "$T/expect" "$mnt/f" || fail "crash before the header: the file does not read as written"
umount_fg "$mnt"
log_clean "$T/log1r"

note "kill -9 with the file open after a write past the end"
vol=$T/vol2
make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key,no_writeback_cache" "$T/log2"
coproc WRITER { write_past_end "$mnt/f" wait; }
wpid=$WRITER_PID # bash unsets WRITER_PID once the writer ends
line=
read -r -t 60 line <&"${WRITER[0]}" || true
[ "$line" = ready ] || fail "the writer did not get to its write past the end"
kill -KILL "$DAEMON"
wait_exit "$DAEMON" 60
fusermount3 -u -z "$mnt" 2>/dev/null || true
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
fsck_repairs "$vol" "kill -9" "listed as holes"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2r"
cmp "$T/expect" "$mnt/f" || fail "kill -9: the file does not read as written"
umount_fg "$mnt"
log_clean "$T/log2r"

note "only zero chunks past the size (a shrink cut short, or zeros appended): cut back"
vol=$T/vol3
make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log3"
head -c $((2 * CS)) /dev/urandom >"$T/two"
cp "$T/two" "$mnt/g"
ino=$(stat -c %i "$mnt/g")
umount_fg "$mnt"
blob=$(find "$vol" -maxdepth 1 -inum "$ino" -print -quit)
[ -n "$blob" ] || fail "no blob for g"
head -c $((3 * SC)) /dev/zero >>"$blob"
fsck_repairs "$vol" "zero chunks appended" "cut back to $((2 * CS)) bytes"
[ "$(stat -c %s "$blob")" -eq $((128 + 2 * SC)) ] || fail "the blob was not cut back"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log3r"
cmp "$T/two" "$mnt/g" || fail "zero chunks appended: the file does not read as before"
umount_fg "$mnt"
log_clean "$T/log3r"
note "ok"
