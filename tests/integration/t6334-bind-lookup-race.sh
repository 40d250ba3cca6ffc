#!/bin/bash
# Format 2: a lookup the kernel sends without the directory lock (revalidating a cached entry,
# here after a readlink of a renamed symlink failed with ESTALE) may find a file at a name
# that a rename or unlink takes away before the lookup records where it found it. The file
# must not keep that stale place: its next open through its other cached name must not be
# checked against it and fail with EIO ("file bound to another place"). The daemon's
# lookups of regular files pause (ECFS_FAULT_LOOKUP_DELAY_MS) between opening the entry and
# recording its place, and the rename or unlink comes in that pause.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection

PAUSE_MS=1200
ECFS_FAULT_LOOKUP_DELAY_MS=$PAUSE_MS bound_volume

# stale_link LINK TARGET: LINK, a symlink to TARGET, whose inode in the kernel has no backing
# name left (a rename seals a copy of a symlink for its new place): reading it fails with
# ESTALE, and the kernel walks the path again revalidating every entry, TARGET's too.
stale_link() {
  ln -s "$2" "$mnt/$1.tmp"
  mv "$mnt/$1.tmp" "$mnt/$1"
}

# race LINK CMD...: opens LINK in the background and runs CMD while the lookup of the link's
# target pauses; LINK's open may fail with ENOENT (its target went), never with EIO. A CMD that
# ends after the pause (a loaded machine) raced nothing: noted, not failed.
race() {
  local link=$1 rc=0 start pid
  shift
  start=${EPOCHREALTIME/./}
  cat "$mnt/$link" >"$T/race.out" 2>&1 &
  pid=$!
  sleep 0.3
  "$@"
  (((${EPOCHREALTIME/./} - start) / 1000 < PAUSE_MS)) || note "$* came too late to race"
  wait $pid || rc=$?
  if grep -q "Input/output error" "$T/race.out"; then
    cat "$log" >&2
    fail "opening $link while its target went: $(cat "$T/race.out")"
  fi
  [ $rc -eq 0 ] || grep -q "No such file" "$T/race.out" || fail "$link: $(cat "$T/race.out")"
}

note "a rename during a lookup of the name it takes away"
echo one >"$mnt/x"
has x one
stale_link m x
race m mv "$mnt/x" "$mnt/y"
has y one

note "an unlink of a hard-linked file's name during a lookup of that name"
echo two >"$mnt/z"
ln "$mnt/z" "$mnt/z2"
has z two
stale_link m2 z
race m2 rm "$mnt/z"
has z2 two

note "an exchange during a lookup of one of its names"
# Python starts slowly on a loaded machine: it is started before the race, and exchanges the
# two names when told to (go).
exchange_on_go() {
  python3 - "$1" "$2" "$T" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
open(sys.argv[3] + "/ready", "w").close()
while not os.path.exists(sys.argv[3] + "/go"):
    time.sleep(0.01)
if libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
PY
}
go() { touch "$T/go"; wait "$1" || fail "RENAME_EXCHANGE failed"; }
echo three >"$mnt/e1"
echo four >"$mnt/e2"
has e1 three
has e2 four
stale_link m3 e1
exchange_on_go "$mnt/e1" "$mnt/e2" &
xpid=$!
for i in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
race m3 go $xpid
has e1 four
has e2 three

umount_fg "$mnt"
if grep "bound to another place" "$log"; then fail "the daemon refused a file it moved itself"; fi
"$FSCK" -n --key-file "$key" "$vol" </dev/null >"$T/fsck.out" 2>&1 ||
  { cat "$T/fsck.out" >&2; fail "fsck.envcryptfs -n does not find the volume clean"; }
