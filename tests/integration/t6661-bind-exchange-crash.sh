#!/bin/bash
# Format 2: a crash inside a RENAME_EXCHANGE involving a symbolic link, after the exchange and
# before the copy sealed for the link's new place replaces it, leaves that link failing with
# EIO at its new name and the copy beside it; fsck -p puts the copy in its place, so the link
# reads its target at its new name (a link with the other link, across directories and with
# a long target in a side file; a link with a regular file), and fsck -n then finds nothing.
# The daemon is ended before the Nth replacement by the fault hook (exit status 99).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection
command -v python3 >/dev/null || skip "python3 is needed for renameat2"

key=$T/key
mnt=$T/mnt
long=$(head -c 3500 /dev/zero | tr '\0' 'x')

# crash_exchange VOL STEP A B: exchanges A and B (paths in the volume) on a daemon that the
# fault hook ends at step STEP (the replacements of the exchange's link copies: 0, 1).
crash_exchange() {
  local vol=$1 step=$2
  register_mount "$mnt"
  ECFS_FAULT_AFTER=$step ECFS_FAULT_KIND=crash \
    env --default-signal=INT,TERM "$ECFS" -f "$vol" "$mnt" -o "key_file=$key" \
    >"$T/logc" 2>&1 &
  DAEMON=$!
  wait_mounted "$mnt" "$DAEMON"
  python3 - "$mnt/$3" "$mnt/$4" <<'PY' || true
import ctypes, sys
ctypes.CDLL(None, use_errno=True).renameat2(-100, sys.argv[1].encode(), -100,
                                            sys.argv[2].encode(), 2)
PY
  wait_exit "$DAEMON" 60
  [ "$WAIT_RC" -eq "$FAULT_CRASH_STATUS" ] ||
    { cat "$T/logc" >&2; fail "step $step: the daemon did not crash (exit $WAIT_RC)"; }
  fusermount3 -u -z "$mnt" 2>/dev/null || true
}

# repaired VOL WHAT: fsck -n names the copy (exit 4), fsck -p puts it in place (exit 1), then
# fsck -n finds nothing.
repaired() {
  local rc=0
  fsck -n --key-file "$key" "$1" >"$T/fsck.n" 2>&1 || rc=$?
  [ "$rc" -eq 4 ] || { cat "$T/fsck.n" >&2; fail "$2: fsck -n exited $rc, not 4"; }
  grep -q "symbolic link copy of an interrupted exchange" "$T/fsck.n" ||
    { cat "$T/fsck.n" >&2; fail "$2: fsck -n does not name the copy"; }
  rc=0
  fsck -p --key-file "$key" "$1" >"$T/fsck.p" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat "$T/fsck.p" >&2; fail "$2: fsck -p exited $rc, not 1"; }
  fsck -n --key-file "$key" "$1" >"$T/fsck.n" 2>&1 ||
    { cat "$T/fsck.n" >&2; fail "$2: fsck -n after fsck -p is not clean"; }
}

# setup VOL: a/l1 -> target-one, b/l2 -> the long target, a/lx -> target-x, a/fx (a file).
setup() {
  make_vol "$1" "$key" aes-256-gcm 4096 --format-version 2
  mount_fg "$1" "$mnt" "key_file=$key" "$T/log0"
  mkdir "$mnt/a" "$mnt/b"
  ln -s target-one "$mnt/a/l1"
  ln -s "$long" "$mnt/b/l2"
  ln -s target-x "$mnt/a/lx"
  echo plain >"$mnt/a/fx"
  umount_fg "$mnt"
}

for step in 0 1; do
  note "two links across directories, one with a long target: a crash before replacement $step"
  vol=$T/vol$step
  setup "$vol"
  crash_exchange "$vol" "$step" a/l1 b/l2
  repaired "$vol" "links, step $step"
  mount_fg "$vol" "$mnt" "key_file=$key" "$T/log$step"
  [ "$(readlink "$mnt/b/l2")" = target-one ] || fail "step $step: b/l2 does not read target-one"
  [ "$(readlink "$mnt/a/l1")" = "$long" ] || fail "step $step: a/l1 does not read the long target"
  umount_fg "$mnt"
  log_clean "$T/log$step"
done

note "a link and a regular file: a crash before the link's copy replaces it"
vol=$T/volf
setup "$vol"
crash_exchange "$vol" 0 a/lx a/fx
repaired "$vol" "link and file"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/logf"
[ "$(readlink "$mnt/a/fx")" = target-x ] || fail "a/fx is not the exchanged link"
[ "$(cat "$mnt/a/lx")" = plain ] || fail "a/lx is not the exchanged file"
umount_fg "$mnt"
log_clean "$T/logf"
note "ok"
