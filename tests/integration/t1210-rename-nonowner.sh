#!/bin/bash
# Renames by a user who owns neither the directories nor (always) the entries, on a mount with
# allow_other,default_permissions: the same operations succeed and fail as on tmpfs. Moving a
# file between two 0777 directories of root's is allowed (it once failed with EACCES); moving
# another user's directory needs write permission on it (to change its ".."); the sticky bit
# protects other users' entries.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v setpriv >/dev/null || skip "setpriv (util-linux) is needed"

vol=$T/vol
mnt=$T/mnt
key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096
chmod 755 "$T"

as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

# scenario ROOT: runs the renames under ROOT and prints one line per operation: its outcome.
scenario() {
  local r=$1 op
  mkdir -m 0777 "$r/a" "$r/b"
  chmod 0777 "$r/a" "$r/b"
  as 1000 sh -c "echo u1000 >'$r/a/mine'; mkdir '$r/a/mydir'; echo t >'$r/b/target'"
  echo root >"$r/a/roots"
  mkdir "$r/a/rootdir"
  as 1000 mkdir -m 0777 "$r/a/opendir"
  for op in "mv -T a/mine b/mine" "mv -T a/roots b/roots" "mv -T b/mine b/target" \
    "mv -T a/opendir b/opendir" "mv -T a/rootdir b/rootdir" "mv -T a/mydir b/mydir" \
    "mv -T b/target a/target"; do
    if (cd "$r" && as 65534 $op) 2>/dev/null; then echo "ok    $op"; else echo "fails $op"; fi
  done
  chmod 1777 "$r/a" "$r/b"
  as 1000 sh -c "echo s >'$r/a/sticky'"
  if (cd "$r" && as 65534 mv -T a/sticky b/sticky) 2>/dev/null; then echo "ok    sticky"; else echo "fails sticky"; fi
  ls -A "$r/a" "$r/b" | sed "s|$r/||"
}

note "the same renames on tmpfs and on the mount, as user nobody"
ref=$T/tmpfs
register_mount "$ref"
mount -t tmpfs -o size=4m,mode=0755 tmpfs "$ref" || fail "cannot mount a tmpfs"
scenario "$ref" >"$T/want"
sed "s/^/# tmpfs: /" "$T/want"
grep -q "^ok    mv -T a/roots b/roots" "$T/want" || fail "tmpfs refuses the move: the scenario is wrong"
grep -q "^fails mv -T a/rootdir b/rootdir" "$T/want" || fail "tmpfs allows moving root's directory"

for opts in "" ",no_writeback_cache"; do
  mount_vol "$vol" "$mnt" "key_file=$key,allow_other,default_permissions$opts"
  chmod 755 "$mnt"
  scenario "$mnt" >"$T/got"
  diff -u "$T/want" "$T/got" >&2 || fail "renames as nobody differ from tmpfs (-o allow_other$opts)"
  rm -rf "${mnt:?}"/a "$mnt"/b
  umount_wait "$mnt"
done
