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
# Fast Argon2 costs so that tests do not spend a second per passphrase.
FAST_ARGON=(--argon2-time 1 --argon2-memory 8192 --argon2-parallel 1)

cleanup() {
  local m
  for m in "${MOUNTS[@]:-}"; do
    [ -n "$m" ] && mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
  done
  rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
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
