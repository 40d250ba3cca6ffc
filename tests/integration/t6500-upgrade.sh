#!/bin/bash
# envcryptfsctl upgrade converts a format-1 volume to format 2 in place: everything a user
# stored reads back the same (contents, empty and sparse files, long names, hard links across
# directories with one inode, short and long symbolic links, extended attributes, owners,
# modes, times), fsck finds the result clean, and the result is bound as format 2 is (a
# swapped blob reads as EIO). It refuses a mounted volume; a second run says there is nothing
# to do. An upgrade cut short at any step (an injected crash) leaves a volume that nothing
# but the upgrade unlocks, and running the upgrade again finishes it with nothing lost.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$FSCK" ] || skip "$FSCK not built"
command -v setfattr >/dev/null || skip "setfattr (package attr) is missing"

key=$T/key mnt=$T/mnt
register_mount "$mnt"
newkey "$key"
long=$(printf 'n%.0s' $(seq 200))
longtarget=$(printf 't%.0s' $(seq 3500))

# populate VOL: a tree with every kind of object format 1 stores.
populate() {
  mount_vol "$1" "$mnt" "key_file=$key"
  mkdir -p "$mnt/a/b/c" "$mnt/d"
  : >"$mnt/empty"
  printf 'x' >"$mnt/a/one"
  head -c 15 /dev/urandom >"$mnt/a/b/tail15"
  head -c 100000 /dev/urandom >"$mnt/a/b/c/big"
  echo "long name" >"$mnt/d/$long"
  dd if=/dev/urandom of="$mnt/sparse" bs=4096 count=1 seek=300 status=none
  echo shared >"$mnt/a/linked"
  ln "$mnt/a/linked" "$mnt/d/linked2"
  ln "$mnt/a/linked" "$mnt/a/b/linked3"
  : >"$mnt/emptylinked"
  ln "$mnt/emptylinked" "$mnt/d/emptylinked2"
  ln -s ../a/one "$mnt/d/short"
  ln -s "$longtarget" "$mnt/d/longlink"
  setfattr -n user.colour -v blue "$mnt/a/one"
  setfattr -n user.tag -v "$(head -c 300 /dev/urandom | base64 -w0)" "$mnt/a/b/c/big"
  setfattr -n user.dir -v yes "$mnt/a/b"
  chown 1234:4321 "$mnt/a/b/tail15"
  chmod 640 "$mnt/a/b/tail15"
  touch -d '2001-02-03 04:05:06' "$mnt/a/one"
  umount_wait "$mnt"
}

# manifest VOL: what a user sees of the tree, to compare before and after.
manifest() {
  mount_vol "$1" "$mnt" "key_file=$key"
  (
    cd "$mnt"
    # A directory's size is the backing file system's (ext4 grows it in blocks as names
    # come and go, and never shrinks it): not part of what the upgrade keeps.
    { find . -not -type d -printf '%p %y %s %m %U %G %n %T@ %l\n'
      find . -type d -printf '%p %y - %m %U %G %n %T@\n'; } | sort
    find . -type f -exec sha256sum {} + | sort -k2
    { getfattr -R -h -d -m user. --absolute-names . 2>/dev/null || true; } | grep -v '^#' | sort
    # the names of one hard-linked file share an inode
    if [ "$(stat -c %i a/linked)" = "$(stat -c %i d/linked2)" ] &&
      [ "$(stat -c %i a/linked)" = "$(stat -c %i a/b/linked3)" ]; then
      echo "links share an inode"
    fi
    if [ "$(stat -c %i emptylinked)" = "$(stat -c %i d/emptylinked2)" ]; then
      echo "empty links share an inode"
    fi
  ) >"$2"
  umount_wait "$mnt"
}

format_of() {
  "$CTL" info "$1" --json | grep -o '"format_version":[0-9]*' | cut -d: -f2
}

vol=$T/vol
make_vol "$vol" "$key" aes-256-gcm 4096 --format-version 1
populate "$vol"
cp -a "$vol" "$T/orig-small"
manifest "$vol" "$T/before"
grep -q "links share an inode" "$T/before" || fail "the test's hard links are not links"

note "a mounted volume is refused (exit 5)"
mount_vol "$vol" "$mnt" "key_file=$key"
expect_exit 5 "$CTL" upgrade "$vol" --unlock-key-file "$key"
stderr_has "is mounted"
umount_wait "$mnt"
[ "$(format_of "$vol")" = 1 ] || fail "a refused upgrade changed the format"

note "the upgrade converts everything, and the tree reads back the same"
cp "$vol/envcryptfs.header" "$T/header-v1"
expect_exit 0 "$CTL" upgrade "$vol" --unlock-key-file "$key"
grep -q "format 2" "$T/stdout" || fail "upgrade said: $(cat "$T/stdout")"
[ "$(format_of "$vol")" = 2 ] || fail "the header does not say format 2"
manifest "$vol" "$T/after"
diff "$T/before" "$T/after" >&2 || fail "the upgraded tree differs"
expect_exit 0 "$FSCK" -n --key-file "$key" "$vol"
expect_exit 0 "$CTL" upgrade "$vol" --unlock-key-file "$key"
grep -q "already format 2" "$T/stdout" || fail "a second run said: $(cat "$T/stdout")"

note "the format-1 header put back is refused: it would switch the format-2 checks off"
cp "$vol/envcryptfs.header" "$T/header-v2"
cp "$vol/envcryptfs.header.copy" "$T/header-v2.copy"
cp "$T/header-v1" "$vol/envcryptfs.header"
cp "$T/header-v1" "$vol/envcryptfs.header.copy"
expect_exit 4 "$ECFS" "$vol" "$mnt" -o "key_file=$key" </dev/null
stderr_has "upgraded to format 2"
cp "$T/header-v2" "$vol/envcryptfs.header"
cp "$T/header-v2.copy" "$vol/envcryptfs.header.copy"

note "a volume with an object that does not decrypt is refused before anything is written"
bad=$T/bad
cp -a "$T/orig-small" "$bad"
ln=$(find "$bad" -type l | head -1)
ln -sfn "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$ln"
expect_exit 4 "$CTL" upgrade "$bad" --unlock-key-file "$key"
stderr_has "does not decrypt"
! grep -q upgrading-to-2 "$bad/envcryptfs.header" || fail "a refused upgrade marked the header"
expect_exit 0 "$CTL" check-key "$bad" --unlock-key-file "$key"

note "the upgraded volume is bound: two directories with their names swapped read as EIO"
cp -a "$vol" "$T/swapped"
mount_vol "$T/swapped" "$mnt" "key_file=$key"
ls "$mnt/a" >/dev/null && ls "$mnt/d" >/dev/null || fail "listing before the swap"
umount_wait "$mnt"
da=$(dirname "$(find "$T/swapped" -mindepth 2 -maxdepth 2 -name envcryptfs.dirid | head -1)")
db=$(dirname "$(find "$T/swapped" -mindepth 2 -maxdepth 2 -name envcryptfs.dirid | tail -1)")
[ "$da" != "$db" ] || fail "two top-level directories not found"
mv "$da" "$T/swap" && mv "$db" "$da" && mv "$T/swap" "$db"
mount_vol "$T/swapped" "$mnt" "key_file=$key"
! ls "$mnt/a" >/dev/null 2>&1 || fail "a directory swapped after the upgrade was listed"
! ls "$mnt/d" >/dev/null 2>&1 || fail "a directory swapped after the upgrade was listed"
umount_wait "$mnt"
rm -rf "$T/swapped"

note "the upgraded volume is bound: two swapped blobs read as EIO, hard links still open"
cp -a "$vol" "$T/swapped"
a=$(find "$T/swapped" -type f -size 100828c)
b=$(find "$T/swapped" -type f -size -200c -size +140c -links 1 -not -name 'envcryptfs.*' | head -1)
[ -n "$a" ] && [ -n "$b" ] || fail "blobs to swap not found"
mv "$a" "$T/swap" && mv "$b" "$a" && mv "$T/swap" "$b"
mount_vol "$T/swapped" "$mnt" "key_file=$key"
! cat "$mnt/a/b/c/big" >/dev/null 2>&1 || fail "a blob swapped after the upgrade was read"
[ "$(cat "$mnt/d/linked2")" = shared ] || fail "a hard link of the upgraded volume does not open"
umount_wait "$mnt"
rm -rf "$T/swapped"

# no_dir_meta: a manifest without directories' sizes and times, which an interrupted run may
# leave changed (its temporary entries grew the backing directory; only a complete run
# restores the times).
no_dir_meta() { awk '$2 == "d" {$3 = ""; $8 = ""} {print}'; }

# finish VOL WHAT: after an interruption, only the upgrade unlocks VOL if the header says it
# is under way; running it again finishes it, and the tree reads back as before.
finish() {
  if grep -q upgrading-to-2 "$1/envcryptfs.header"; then
    expect_exit 4 "$ECFS" "$1" "$mnt" -o "key_file=$key" </dev/null
    stderr_has "envcryptfsctl upgrade"
  fi
  expect_exit 0 "$CTL" upgrade "$1" --unlock-key-file "$key"
  manifest "$1" "$T/after"
  diff <(no_dir_meta <"$T/before") <(no_dir_meta <"$T/after") >&2 ||
    fail "$2: the finished upgrade differs"
  clean_after "$1" --key-file "$key" # fsck -p removes the temporary files it left
}

note "an upgrade killed at any moment is finished by the next run"
orig=$T/orig
make_vol "$orig" "$key" aes-256-gcm 4096 --format-version 1
populate "$orig"
mount_vol "$orig" "$mnt" "key_file=$key"
for i in $(seq 150); do echo "file $i" >"$mnt/a/b/many$i"; done
umount_wait "$mnt"
manifest "$orig" "$T/before"
for delay in 0.05 0.2 0.5 1; do
  v=$T/killed
  rm -rf "$v" && cp -a "$orig" "$v"
  "$CTL" upgrade "$v" --unlock-key-file "$key" >/dev/null 2>&1 </dev/null &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  finish "$v" "killed after ${delay}s"
done

note "an upgrade cut short at each step of its header, ID-file and side-file writes"
need_fault_injection
rc=1
for n in $(seq 0 3 400); do
  v=$T/fault
  rm -rf "$v" && cp -a "$orig" "$v"
  rc=0
  ECFS_FAULT_AFTER=$n ECFS_FAULT_KIND=crash "$CTL" upgrade "$v" --unlock-key-file "$key" \
    >"$T/out" 2>&1 </dev/null || rc=$?
  if [ "$rc" = 0 ]; then
    manifest "$v" "$T/after"
    diff "$T/before" "$T/after" >&2 || fail "an upgrade that was not interrupted differs"
    note "every third of the $n interruptible steps was tried"
    break
  fi
  [ "$rc" = "$FAULT_CRASH_STATUS" ] || { cat "$T/out" >&2; fail "step $n: exit $rc"; }
  finish "$v" "crash before step $n"
done
[ "$rc" = 0 ] || fail "the upgrade never finished without an injected crash"
