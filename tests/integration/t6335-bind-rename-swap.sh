#!/bin/bash
# Format 2: a rename holds the moved file's io lock while it reads the header of the file it
# replaces (or, in an exchange, of the other file). An attacker who meanwhile makes that name a
# hard link of the moved file in the backing directory, so that both names lead to one file,
# must not make the daemon lock it a second time. It did: glibc refused the second lock
# (EDEADLK), the daemon went on as if it held it and then unlocked it twice (undefined
# behaviour), and an exchange went through with both names leading to one file. Now the
# replaced name is read under the lock already held, an exchange fails with EIO and a log
# line, and the file's next writes and reads do not hang. The renames pause with the lock
# held (ECFS_FAULT_RENAME_DELAY_MS) while the test changes the backing directory. (The
# exchange fails without the fix; the plain rename passes without it too, this glibc's
# rwlock surviving the extra unlock.)
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection

PAUSE_MS=1500
ECFS_FAULT_RENAME_DELAY_MS=$PAUSE_MS bound_volume

# unhung CMD...: CMD ends within 20 s; a broken lock makes it wait for ever.
unhung() {
  local rc=0
  timeout -k 5 20 "$@" || rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fuse_abort "$mnt"
    fail "'$*' hung"
  fi
  return $rc
}

# swap_during NAME CMD...: runs CMD in the background and, while its rename pauses, makes
# NAME's backing entry a hard link of the moved file ($moved, a backing path). Sets RC to CMD's
# exit status. A CMD that creates $T/ready is waited for and then told to go ($T/go), so that a
# slow start is not mistaken for the pause. A change that comes after the pause (a loaded
# machine) raced nothing: noted, not failed.
swap_during() {
  local name=$1 start pid i
  shift
  rm -f "$T/ready" "$T/go"
  "$@" 2>"$T/cmd.err" &
  pid=$!
  if [ -n "${HANDSHAKE:-}" ]; then
    for i in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
    touch "$T/go"
  fi
  start=${EPOCHREALTIME/./}
  sleep 0.4
  ln -f "$moved" "$(backing_of "$name")"
  (((${EPOCHREALTIME/./} - start) / 1000 < PAUSE_MS)) || note "the change came too late to race"
  RC=0
  wait $pid || RC=$?
}

note "a rename over a hard-linked file whose name is made the moved file's"
echo moved >"$mnt/src"
echo replaced >"$mnt/dst"
ln "$mnt/dst" "$mnt/dst2" # a LINKED file: the rename reads its header through its name
moved=$(backing_of src)
swap_during dst mv "$mnt/src" "$mnt/dst"
[ $RC -eq 0 ] || { cat "$T/cmd.err" >&2; fail "the rename failed ($RC)"; }
unhung sh -c "echo more >>'$mnt/dst'" || fail "cannot append to dst"
[ "$(unhung cat "$mnt/dst")" = "$(printf 'moved\nmore')" ] || fail "dst does not read moved, more"
has dst2 replaced

note "an exchange whose second name is made the first file's"
echo one >"$mnt/e1"
echo two >"$mnt/e2"
moved=$(backing_of e1)
# (A background job's standard input is /dev/null: the script is a file.)
cat >"$T/exchange.py" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
open(sys.argv[3] + "/ready", "w").close()
while not os.path.exists(sys.argv[3] + "/go"):
    time.sleep(0.01)
if libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
PY
HANDSHAKE=1 swap_during e2 python3 "$T/exchange.py" "$mnt/e1" "$mnt/e2" "$T"
[ $RC -ne 0 ] && in_output "Input/output error" "$T/cmd.err" ||
  { cat "$T/cmd.err" >&2; fail "the exchange did not fail with EIO ($RC)"; }
grep -q "now leads to the other file of the rename" "$log" || { cat "$log" >&2; fail "no log line names the change"; }
unhung sh -c "echo more >>'$mnt/e1'" || fail "cannot append to e1"
[ "$(unhung cat "$mnt/e1")" = "$(printf 'one\nmore')" ] || fail "e1 does not read one, more"

umount_fg "$mnt"
