#!/bin/bash
# t7050 where fusectl is not mounted, as in many containers: the daemon cannot read the
# kernel's count of unanswered requests, and takes the writes that a stop's syncfs(2) queued
# as served once none has been under way or answered for half a second, although each of
# them takes 600 ms here. Runs t7050 in a mount namespace of its own, with an empty
# directory over /sys/fs/fuse/connections.
set -euo pipefail
command -v unshare >/dev/null || { echo "unshare not installed"; exit 77; }
unshare -m true 2>/dev/null || { echo "no mount namespace here (needs CAP_SYS_ADMIN)"; exit 77; }
exec unshare -m --propagation private bash -c '
  set -e
  mount -t tmpfs -o size=1m none /sys/fs/fuse/connections
  [ -z "$(ls -A /sys/fs/fuse/connections)" ] || { echo "FAIL: fusectl still visible" >&2; exit 1; }
  exec bash "$0"' "$ECFS_TESTS/t7050-sigterm-flush.sh"
