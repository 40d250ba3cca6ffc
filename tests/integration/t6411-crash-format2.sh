#!/bin/bash
# t5010 on a format-2 volume: after kill -9 at random moments of a workload (appends,
# truncates, renames), every file still opens and reads: the header's authenticated size
# never runs ahead of the blob, so a crash never turns into a false "cut short".
export ECFS_CRASH_FORMAT=2 ECFS_CRASH_ROUNDS=${ECFS_CRASH_ROUNDS:-3}
exec bash "$ECFS_TESTS/t5010-crash-daemon.sh"
