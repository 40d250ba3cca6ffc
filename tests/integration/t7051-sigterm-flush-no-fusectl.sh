#!/bin/bash
# t7050 where fusectl is not mounted, as in many containers: the daemon cannot read the
# kernel's count of unanswered requests, and takes the writes that a stop's syncfs(2) queued
# as served once none has arrived for half a second. Runs t7050 in a mount namespace of its
# own, with an empty directory over /sys/fs/fuse/connections.
set -euo pipefail
command -v unshare >/dev/null || { echo "unshare not installed"; exit 77; }
exec unshare -m --propagation private bash -c '
  set -e
  mount -t tmpfs -o size=1m none /sys/fs/fuse/connections
  [ -z "$(ls -A /sys/fs/fuse/connections)" ] || { echo "FAIL: fusectl still visible" >&2; exit 1; }
  exec bash "$0"' "$ECFS_TESTS/t7050-sigterm-flush.sh"
