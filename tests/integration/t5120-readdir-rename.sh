#!/bin/bash
# Listing a directory while its long-named entries are renamed away: an entry listed from the
# backing directory can be gone, with its side file, by the time its name is decoded. That is
# a race, not damage: it must not be logged as a missing side file nor fail the listing, and
# lookups racing the renames must not fail with EIO.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
vol=$T/vol mnt=$T/mnt key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096
mount_fg "$vol" "$mnt" "key_file=$key" "$T/daemon.log"
mkdir "$mnt/a" "$mnt/b"
long=$(printf 'L%.0s' $(seq 200))
# Enough entries that a listing takes several READDIR requests.
for i in $(seq 100 499); do echo "$i" >"$mnt/a/$long$i"; done

mover() {
  local end=$((SECONDS + 8)) i
  while [ $SECONDS -lt $end ]; do
    for i in $(seq 100 499); do
      mv "$mnt/a/$long$i" "$mnt/b/$long$i" 2>/dev/null || mv "$mnt/b/$long$i" "$mnt/a/$long$i"
    done
  done
}
lister() {
  local end=$((SECONDS + 8)) i
  while [ $SECONDS -lt $end ]; do
    ls -f "$mnt/a" "$mnt/b" >/dev/null || exit 1
    for i in 100 333 499; do
      cat "$mnt/a/$long$i" "$mnt/b/$long$i" 2>&1 | in_output 'Input/output error' && exit 1
    done
  done
  exit 0
}
mover &
m=$!
lister &
l1=$!
lister &
l2=$!
wait "$m" || fail "a rename failed"
wait "$l1" || fail "a listing or read failed while the entries were renamed"
wait "$l2" || fail "a listing or read failed while the entries were renamed"
[ "$(ls "$mnt/a" "$mnt/b" | grep -c "^$long")" -eq 400 ] || fail "entries were lost"
umount_fg "$mnt"
log_clean "$T/daemon.log"
