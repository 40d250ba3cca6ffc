# Sourced by every integration test: scratch space, helpers, and a trap that unmounts and
# cleans up on every path, failures included.
set -euo pipefail
: "${ECFS_BIN:?}"
MKFS="$ECFS_BIN/mkfs.envcryptfs"
ECFS="$ECFS_BIN/envcryptfs"
FSCK="$ECFS_BIN/fsck.envcryptfs"
CTL="$ECFS_BIN/envcryptfsctl"
T=$(mktemp -d /tmp/ecfs-test.XXXXXX)
MOUNTS=()
# Fast Argon2 costs, below the floor that only --allow-weak-kdf lifts, so that tests do not
# spend a second per passphrase.
FAST_ARGON=(--argon2-time 1 --argon2-memory 8192 --argon2-parallel 1 --allow-weak-kdf)
# How long a wait may take before a test calls it a hang. Generous, because the suite runs on
# shared, loaded machines: a passing test never waits this long, only a hung one does.
HANG_SECS=${ECFS_HANG_SECS:-90}

# A mount whose daemon died answers ENOTCONN to mountpoint(1); /proc/self/mounts still
# lists it, so look there and detach lazily.
is_mounted() { awk -v m="$1" '$2 == m {f = 1} END {exit !f}' /proc/self/mounts; }

cleanup() {
  local m
  for m in "${MOUNTS[@]:-}"; do
    [ -n "$m" ] && is_mounted "$m" && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"; }
  done
  rm -rf "$T"
  machine_unlock
}
trap cleanup EXIT

# machine_lock NAME: waits until no other running test holds NAME, a setting of the whole
# machine (a kernel module's parameter), so that tests run side by side (ECFS_TEST_JOBS) do
# not change it under each other; cleanup lets it go. A lock whose holder died is taken
# over. (A directory, not flock(1): a daemon the test starts would inherit the descriptor.)
MACHINE_LOCKS=()
machine_lock() {
  local d=/tmp/ecfs-test-lock.$1 holder i
  for ((i = 0; i < ${ECFS_TEST_TIMEOUT:-600} * 5; i++)); do
    if mkdir "$d" 2>/dev/null; then
      echo $$ >"$d/pid"
      MACHINE_LOCKS+=("$d")
      return 0
    fi
    holder=$(cat "$d/pid" 2>/dev/null || true)
    if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; then
      rm -rf "$d"
      continue
    fi
    sleep 0.2
  done
  fail "$d is still held by process ${holder:-unknown}"
}

machine_unlock() {
  local d
  for d in "${MACHINE_LOCKS[@]:-}"; do [ -n "$d" ] && rm -rf "$d"; done
  MACHINE_LOCKS=()
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# in_output GREP-ARGS...: grep -q for the end of a pipeline. It reads its input to the end:
# grep -q stops at the first match, and a writer with more to say then dies of SIGPIPE, which
# pipefail reports as the pipeline failing (flaky, and "! cmd | grep -q" then inverts it).
in_output() { grep "$@" >/dev/null; }
note() { echo "# $*"; }
skip() { echo "$*"; exit 77; }

# expect_exit CODE CMD...: runs CMD, asserts its exit code, keeps its stderr in $T/stderr.
expect_exit() {
  local want=$1 rc=0; shift
  "$@" 2>"$T/stderr" >"$T/stdout" || rc=$?
  [ "$rc" -eq "$want" ] || { cat "$T/stderr" >&2; fail "'$*' exited $rc, expected $want"; }
}

# stderr_has TEXT: the last expect_exit's stderr contains TEXT.
stderr_has() { grep -qF -- "$1" "$T/stderr" || { cat "$T/stderr" >&2; fail "stderr lacks '$1'"; }; }

newkey() { head -c 64 /dev/urandom >"$1"; chmod 600 "$1"; }

# mount_vol DIR MNT [OPTS]: mounts in the background daemon mode and registers for cleanup.
mount_vol() {
  local dir=$1 mnt=$2 opts=${3:-}
  mkdir -p "$mnt"
  MOUNTS+=("$mnt")
  "$ECFS" "$dir" "$mnt" ${opts:+-o "$opts"}
  mountpoint -q "$mnt" || fail "$mnt is not mounted"
}

umount_vol() { fusermount3 -u "$1"; }

# need_fault_injection: skips unless the tools were built with fault injection
# (ECFS_FAULT_AFTER, ECFS_FAULT_KIND; make FAULT_INJECTION=1, the default with SANITIZE=1).
FAULT_CRASH_STATUS=99
need_fault_injection() {
  [ -x "$CTL" ] || skip "$CTL not built"
  fault_injection_built || skip "built without fault injection"
}

# fault_injection_built: true when the tools honour the ECFS_FAULT_* variables.
fault_injection_built() { "$CTL" --version | in_output '+fault-injection'; }

# ---- Helpers for the daemon tests (t1*) ----------------------------------------------------

# need_progs: skips the test when mkfs.envcryptfs or envcryptfs has not been built.
need_progs() {
  [ -x "$MKFS" ] || skip "$MKFS not built"
  [ -x "$ECFS" ] || skip "$ECFS not built"
}

# ecfs_tool NAME: prints the path of the test helper built from tests/tools/NAME.c: the one
# make put in $ECFS_BIN/tools, else (missing or older than its source) one built in $T/tools.
ecfs_tool() {
  local n=$1 src bin
  src=$(cd "$ECFS_TESTS/../tools" && pwd)/$n.c
  bin=$ECFS_BIN/tools/$n
  if [ -x "$bin" ] && [ ! "$src" -nt "$bin" ]; then echo "$bin"; return 0; fi
  bin=$T/tools/$n
  if [ ! -x "$bin" ]; then
    mkdir -p "$T/tools"
    ${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wvla -Wstrict-prototypes \
      -Wmissing-prototypes -Wformat=2 -Wshadow -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
      -o "$bin" "$src" -lpthread >&2 || fail "cannot build $src"
  fi
  echo "$bin"
}

# make_vol DIR KEYFILE CIPHER CHUNK [MKFS-OPTIONS...]: a new volume opened by KEYFILE (which is
# made when missing), with fast Argon2 costs.
make_vol() {
  local dir=$1 key=$2 cipher=$3 chunk=$4
  shift 4
  [ -f "$key" ] || newkey "$key"
  "$MKFS" -q "${FAST_ARGON[@]}" --cipher "$cipher" --chunk-size "$chunk" --key-file "$key" \
    "$@" "$dir" >/dev/null || fail "mkfs.envcryptfs --cipher $cipher --chunk-size $chunk $dir failed"
}

# register_mount MNT: the EXIT trap unmounts MNT (for mounts made without mount_vol).
register_mount() { mkdir -p "$1"; MOUNTS+=("$1"); }

# daemon_pid MNT: prints the pid of the envcryptfs process whose arguments name MNT (none
# when there is no such process).
daemon_pid() {
  local mnt=$1 p a args
  for p in /proc/[0-9]*; do
    [ -r "$p/cmdline" ] || continue
    mapfile -d '' -t args <"$p/cmdline" 2>/dev/null || continue
    [ ${#args[@]} -gt 2 ] || continue
    case ${args[0]##*/} in envcryptfs | mount.fuse.envcryptfs) ;; *) continue ;; esac
    for a in "${args[@]:1}"; do
      if [ "$a" = "$mnt" ]; then echo "${p#/proc/}"; return 0; fi
    done
  done
  return 0
}

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# umount_wait MNT: unmounts MNT and waits (HANG_SECS at most) for its daemon to exit, so that the
# volume is free for the next mount.
umount_wait() {
  local mnt=$1 pid i
  pid=$(daemon_pid "$mnt")
  fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt failed"
  ! mountpoint -q "$mnt" || fail "$mnt is still mounted after fusermount3 -u"
  if [ -n "$pid" ]; then
    for ((i = 0; i < HANG_SECS * 10; i++)); do
      proc_alive "$pid" || return 0
      sleep 0.1
    done
    fail "the daemon (pid $pid) for $mnt still runs $HANG_SECS s after the unmount"
  fi
}

# remount DIR MNT [OPTS]: umount_wait, then mount_vol.
remount() { umount_wait "$2"; mount_vol "$@"; }

# wait_mounted MNT [PID]: waits (HANG_SECS at most) until MNT is a mount point; fails at once when
# PID (a foreground daemon) exits first.
wait_mounted() {
  local mnt=$1 pid=${2:-} i
  for ((i = 0; i < HANG_SECS * 10; i++)); do
    mountpoint -q "$mnt" && return 0
    if [ -n "$pid" ] && ! proc_alive "$pid"; then
      local rc=0
      wait "$pid" || rc=$?
      fail "the daemon exited ($rc) before $mnt was mounted"
    fi
    sleep 0.1
  done
  fail "$mnt not mounted within $HANG_SECS s"
}

# wait_exit PID [SECS]: waits for the child PID to exit (SECS, by default HANG_SECS, at most;
# then it is killed and the test fails); its exit status is left in WAIT_RC.
wait_exit() {
  local pid=$1 secs=${2:-$HANG_SECS} i
  for ((i = 0; i < secs * 10; i++)); do
    proc_alive "$pid" || break
    sleep 0.1
  done
  if proc_alive "$pid"; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    fail "process $pid did not exit within $secs s"
  fi
  WAIT_RC=0
  wait "$pid" || WAIT_RC=$?
}

# kmsd_port LOG PID: waits (HANG_SECS at most) until the envcryptfs-kmsd PID says in LOG
# where it listens, and prints the port; fails when it exits first.
kmsd_port() {
  local log=$1 pid=$2 i port
  for ((i = 0; i < HANG_SECS * 20; i++)); do
    port=$(sed -n 's/.*listening on https*:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" 2>/dev/null || true)
    [ -n "$port" ] && { echo "$port"; return 0; }
    proc_alive "$pid" || { cat "$log" >&2; fail "kmsd exited at start"; }
    sleep 0.05
  done
  fail "kmsd did not start listening within $HANG_SECS s"
}

# opens VOL KEYOPTS...: the key options unlock VOL.
opens() { "$CTL" check-key "$1" "${@:2}" >/dev/null 2>&1; }

# clean_after VOL KEYOPTS...: fsck -p repairs what an interruption left, fsck -n is clean.
clean_after() {
  local vol=$1 rc=0
  shift
  "$FSCK" -p "$@" "$vol" >"$T/fsck.out" 2>&1 || rc=$?
  [ "$rc" -le 1 ] || { cat "$T/fsck.out" >&2; fail "$vol: fsck -p exited $rc"; }
  "$FSCK" -n "$@" "$vol" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out" >&2; fail "$vol: fsck -n is not clean"; }
}

# same_tree A B: both trees hold the same names, types and sizes, and equal regular files
# (compared with cmp).
same_tree() {
  local a=$1 b=$2 f
  diff <(cd "$a" && find . -printf '%y %s %p\n' | grep -v '^d' | sort) \
    <(cd "$b" && find . -printf '%y %s %p\n' | grep -v '^d' | sort) >&2 ||
    fail "the trees $a and $b differ in names or sizes"
  diff <(cd "$a" && find . -type d | sort) <(cd "$b" && find . -type d | sort) >&2 ||
    fail "the trees $a and $b differ in directories"
  while IFS= read -r -d '' f; do
    cmp -- "$a/$f" "$b/$f" || fail "$b/$f differs from $a/$f"
  done < <(cd "$a" && find . -type f -print0)
}

# unmount_registered: lazily unmounts every registered mount point still in the mount table,
# dead ones included (cleanup's mountpoint -q fails on a FUSE mount whose daemon died, which
# would leave the mount behind). finish_test runs it.
unmount_registered() {
  local m
  for m in "${MOUNTS[@]:-}"; do
    [ -n "$m" ] || continue
    if grep -qF " $m " /proc/self/mounts; then
      fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    fi
  done
}

# sanitizer_logs: sends AddressSanitizer/LeakSanitizer reports of every process of the test
# (background daemons included, whose stderr is gone) to files in $T/san, where finish_test
# finds them. (UBSan's fatal reports still go to stderr, whatever log_path says.)
sanitizer_logs() {
  mkdir -p "$T/san"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T/san/asan"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/san/ubsan"
}

# finish_test: the EXIT trap of the t1* scripts: unmounts what is still mounted (dead mounts
# too), fails the test when a sanitizer wrote a report, then runs cleanup.
#   sanitizer_logs; trap finish_test EXIT
finish_test() {
  local rc=$? f
  unmount_registered
  if [ -d "$T/san" ] && [ -n "$(ls -A "$T/san")" ]; then
    sleep 0.5 # a daemon detached by a lazy unmount may still be writing its report
    for f in "$T/san"/*; do
      if grep -q -e 'ERROR: ' -e 'runtime error' "$f"; then
        echo "FAIL: sanitizer report $(basename "$f"):" >&2
        rc=1
      else
        echo "# sanitizer output $(basename "$f") (a warning, not an error):" >&2
      fi
      head -n 60 "$f" >&2
    done
  fi
  cleanup
  exit $rc
}

# ---- Helpers for the concurrency tests (t51*) ----------------------------------------------

# mount_fg DIR MNT OPTS LOG: runs the daemon in the foreground (its messages go to LOG, which
# the background mode would send to syslog) and waits for the mount; DAEMON is its pid. With
# NOFILE=N the daemon may open N descriptors (inodes park past N/2).
mount_fg() {
  register_mount "$2"
  env --default-signal=INT,TERM ${NOFILE:+prlimit --nofile=$NOFILE:$NOFILE} \
    "$ECFS" -f "$1" "$2" -o "$3" >"$4" 2>&1 &
  DAEMON=$!
  wait_mounted "$2" "$DAEMON"
}

# umount_fg MNT: unmounts a mount_fg mount and waits for its daemon's clean exit.
umount_fg() {
  fusermount3 -u "$1" || fail "fusermount3 -u $1 failed"
  wait_exit "$DAEMON" 60
  [ "$WAIT_RC" -eq 0 ] || fail "the daemon for $1 exited $WAIT_RC"
}

# fuse_abort MNT: aborts MNT's FUSE connection (through fusectl, mounted when missing), so
# that processes waiting on a hung daemon get ENOTCONN instead of waiting for ever.
fuse_abort() {
  local dev conn=/sys/fs/fuse/connections
  dev=$(awk -v m="$1" '$5 == m {print $3}' /proc/self/mountinfo | head -n 1)
  [ -n "$dev" ] || return 0
  [ -e "$conn/${dev#*:}" ] || mount -t fusectl none "$conn" 2>/dev/null || true
  echo 1 >"$conn/${dev#*:}/abort" 2>/dev/null || true
}

# dump_threads PID: prints PID's threads with gdb (for 60 s at most: threads waiting in the
# kernel uninterruptibly may never stop for it), then their kernel stacks (last, so that a
# shortened log keeps them).
dump_threads() {
  local s
  echo "== gdb -p $1: thread apply all bt" >&2
  timeout -k 5 60 gdb -batch -nx -p "$1" -ex "thread apply all bt" </dev/null >&2 2>&1 || true
  echo "== kernel stacks of the threads of $1" >&2
  for s in /proc/"$1"/task/*/stack; do
    echo "-- $s" >&2
    timeout 5 cat "$s" >&2 || true
  done
}

# run_stress MNT PID ARGS...: runs tests/tools/stress.c with ARGS against the mount MNT served
# by daemon PID. When a thread makes no progress (in any phase) the tool prints the kernel
# stacks of its threads and "stress: stalled" and exits; then the daemon's threads are printed
# (before the tool's output), the connection aborted and the daemon killed, so that the test
# fails instead of hanging with them. (Nothing here reads the stuck process's /proc
# files: those can hang too.)
run_stress() {
  local mnt=$1 pid=$2 out=$T/stress.out spid rc=0
  shift 2
  # The tool's status comes from wait, not from a file its subshell writes: under set -e such
  # a subshell exits with the failing tool before writing it, and the loop never ended.
  "$STRESS" "$@" >"$out" 2>&1 &
  spid=$!
  while kill -0 "$spid" 2>/dev/null && ! grep -q '^stress: stalled' "$out"; do sleep 0.5; done
  if grep -q '^stress: stalled' "$out"; then
    dump_threads "$pid"
    echo "== stress output (with the kernel stacks of its threads)" >&2
    cat "$out" >&2
    fuse_abort "$mnt"
    kill -9 "$pid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    fail "stress: a thread made no progress (the stacks are above)"
  fi
  wait "$spid" || rc=$?
  cat "$out"
  # STRESS_LOG: the daemon's log, whose last lines say why a call failed.
  [ "$rc" -eq 0 ] || [ -z "${STRESS_LOG:-}" ] ||
    { echo "== the daemon's log, last 30 lines"; tail -n 30 "$STRESS_LOG"; } >&2
  [ "$rc" -eq 0 ] || fail "stress $* failed (exit $rc, output above)"
}

# log_clean LOG: the daemon logged no damage (side files, names, authentication) and no error.
log_clean() {
  ! grep -E -i 'damaged|side file|authentication|not listed|error|forget of' "$1" >&2 ||
    fail "the daemon logged the lines above"
}

# settles N CMD...: waits (5 s at most) until CMD prints N. What the daemon does when the
# kernel releases a closed file (a sparse file's holes map, the recorded size) or forgets a
# removed one (its holes map and link file go) comes just after close(2) or unlink(2) return.
settles() {
  local n=$1 i
  shift
  for i in $(seq 50); do
    [ "$("$@")" = "$n" ] && return 0
    sleep 0.1
  done
  return 1
}

# ---- Helpers that tamper with a backing directory, and run fsck ---------------------------

# flip_byte FILE OFFSET: XORs the byte at OFFSET with 0x01.
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  [ -n "$b" ] || fail "cannot read byte $2 of $1"
  printf "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
  [ "$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')" -eq $((b ^ 1)) ] || fail "flip_byte $1 $2 failed"
}

# fix_checksum FILE: recomputes a header's SHA-256 at offset 80 (of the file with that field
# zero), as anyone can: a change elsewhere is then caught only by the key slot, canary or MAC.
fix_checksum() {
  local sum
  sum=$({ head -c 80 "$1"; head -c 32 /dev/zero; tail -c +113 "$1"; } | sha256sum | cut -c1-64)
  printf "$(echo "$sum" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek=80 conv=notrunc status=none
}

# fsck ARGS...: fsck.envcryptfs with no terminal to ask on. It hides fsck(8): a test that
# means util-linux's fsck calls `command fsck`.
fsck() { "$FSCK" "$@" </dev/null; }

# fresh NAME: vol=$T/NAME, a new copy of the volume $T/orig.
fresh() { rm -rf "${T:?}/$1"; cp -a "$T/orig" "$T/$1"; vol=$T/$1; }
