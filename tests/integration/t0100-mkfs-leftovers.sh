#!/bin/bash
# mkfs.envcryptfs checks every option before it touches the directory, writes the header last,
# cleans up after an interrupted run on the next one, and says what state a run that failed
# after the primary header left.
. "$ECFS_TESTS/lib.sh"
[ -x "$MKFS" ] || skip "$MKFS not built"
[ -x "$CTL" ] || skip "$CTL not built"
sanitizer_logs
trap finish_test EXIT

key=$T/key
newkey "$key"
mk() { "$MKFS" -q "${FAST_ARGON[@]}" --key-file "$key" "$@"; }

note "bad options leave nothing behind: no directory is made"
for bad in "--chunk-size 5000" "--chunk-size 2k" "--chunk-size 4m" "--cipher rot13" \
  "--label $(printf 'x%.0s' {1..65})"; do
  # shellcheck disable=SC2086 # the options are split on purpose
  expect_exit 2 mk $bad "$T/new"
  [ -s "$T/stderr" ] || fail "mkfs $bad: no message"
  [ ! -e "$T/new" ] || fail "mkfs $bad left $T/new behind"
done
note "... nor anything in an existing empty directory"
mkdir "$T/empty"
expect_exit 2 mk --chunk-size 5000 "$T/empty"
[ -z "$(ls -A "$T/empty")" ] || fail "mkfs --chunk-size 5000 left files: $(ls -A "$T/empty")"

note "a failing header write leaves nothing behind either (and says why)"
ECFS_FAULT_AFTER=0 expect_exit 1 mk "$T/faulted"
[ -s "$T/stderr" ] || fail "a failed mkfs printed no message"
[ ! -e "$T/faulted" ] || fail "a failed mkfs left $T/faulted: $(ls -A "$T/faulted")"

note "what an interrupted mkfs leaves (a root directory ID, a temporary header, the lock)"
mkdir "$T/interrupted"
head -c 16 /dev/urandom >"$T/interrupted/envcryptfs.dirid"
head -c 700 /dev/urandom >"$T/interrupted/envcryptfs.tmp.0123456789abcdef"
: >"$T/interrupted/envcryptfs.metalock"
expect_exit 4 "$CTL" info "$T/interrupted" # not a volume yet
note "... a rerun cleans it up and makes the volume"
expect_exit 0 mk "$T/interrupted"
[ ! -e "$T/interrupted/envcryptfs.tmp.0123456789abcdef" ] || fail "the temporary header stayed"
"$CTL" check-key "$T/interrupted" --unlock-key-file "$key" >/dev/null || fail "the volume does not open"
note "... and so does --force next to other files, which are kept"
mkdir "$T/forced"
echo keep >"$T/forced/user-file"
head -c 16 /dev/urandom >"$T/forced/envcryptfs.dirid"
expect_exit 1 mk "$T/forced"
stderr_has "not empty"
expect_exit 0 mk --force "$T/forced"
[ "$(cat "$T/forced/user-file")" = keep ] || fail "--force touched a file of its own"
"$CTL" check-key "$T/forced" --unlock-key-file "$key" >/dev/null || fail "the forced volume does not open"
note "... but a directory with a volume is never reused"
expect_exit 1 mk --force "$T/forced"
stderr_has "already holds a volume"

note "the primary header written, the copy not: exit 6, the message says the volume exists"
ECFS_FAULT_AFTER=4 expect_exit 6 mk "$T/halfway"
stderr_has "created the volume"
stderr_has "fsck.envcryptfs -p"
"$CTL" check-key "$T/halfway" --unlock-key-file "$key" >/dev/null || fail "the volume does not open"
