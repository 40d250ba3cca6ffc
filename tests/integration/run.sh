#!/bin/bash
# Runs every tests/integration/tNNNN-*.sh (or those named as arguments) against the programs
# in $ECFS_BIN, each in its own scratch directory (ECFS_TEST_TIMEOUT seconds at most, 600 by
# default), and ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${ECFS_BIN:?set ECFS_BIN to the build directory}"
export ECFS_BIN ECFS_TESTS="$here"
pass=0 fail=0 skip=0 failed=()
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("$here"/t[0-9]*.sh)
for t in "${tests[@]}"; do
  name=$(basename "$t" .sh)
  log=$(mktemp /tmp/ecfs-test-log.XXXXXX)
  start=$(date +%s)
  timeout --foreground -k 10 "${ECFS_TEST_TIMEOUT:-600}" bash "$t" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  case $rc in
    0) pass=$((pass + 1)); echo "ok   $name (${secs}s)";;
    77) skip=$((skip + 1)); echo "skip $name: $(tail -n 1 "$log")";;
    *) fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (exit $rc, ${secs}s)"; sed 's/^/    /' "$log" | tail -n 300;;
  esac
  rm -f "$log"
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
