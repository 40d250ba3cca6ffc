#!/bin/bash
# Format 2: a hard-linked file whose recorded place (where the kernel last found it) lost its
# name opens through another name the kernel holds: the link file does not name the gone
# place, and that it is gone lets the open pass. A lookup of the file's other name may record
# that name (clearing "gone") while the open is checking the old one: the open must not then
# take the old place for a live one and fail with EIO ("file bound to another place"). The
# daemon's check pauses (ECFS_FAULT_BIND_CHECK_DELAY_MS) after the link file said no, and the
# lookup comes in that pause (t5100's spurious EIO).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection

PAUSE_MS=2000
ECFS_FAULT_BIND_CHECK_DELAY_MS=$PAUSE_MS bound_volume

# excl_on_go: an O_CREAT|O_EXCL open of a, a cached name, when told to (go); the kernel
# revalidates the name with a LOOKUP, which records a as the file's place. Python starts
# slowly on a loaded machine: it is started before the race.
excl_on_go() {
  python3 - "$mnt/a" "$T" <<'PY'
import os, sys, time
open(sys.argv[2] + "/ready", "w").close()
while not os.path.exists(sys.argv[2] + "/go"):
    time.sleep(0.01)
try:
    os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
except FileExistsError:
    sys.exit(0)
sys.exit("O_EXCL open of an existing name did not fail with EEXIST")
PY
}

echo one >"$mnt/a"
ln "$mnt/a" "$mnt/b" # the link's lookup records b as the file's place
rm "$mnt/b"          # b was the recorded place: gone; the link file names a alone
excl_on_go &
xpid=$!
for i in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
start=${EPOCHREALTIME/./}
cat "$mnt/a" >"$T/race.out" 2>&1 &
pid=$!
sleep 0.3
touch "$T/go"
wait $xpid || fail "the O_EXCL open failed"
(((${EPOCHREALTIME/./} - start) / 1000 < PAUSE_MS)) || note "the lookup came too late to race"
rc=0
wait $pid || rc=$?
if grep -q "Input/output error" "$T/race.out"; then
  cat "$log" >&2
  fail "opening a while a lookup recorded it: $(cat "$T/race.out")"
fi
[ $rc -eq 0 ] || fail "cat a: $(cat "$T/race.out")"
has a one

umount_fg "$mnt"
if grep "bound to another place" "$log"; then fail "the daemon refused a file it moved itself"; fi
"$FSCK" -n --key-file "$key" "$vol" </dev/null >"$T/fsck.out" 2>&1 ||
  { cat "$T/fsck.out" >&2; fail "fsck.envcryptfs -n does not find the volume clean"; }
