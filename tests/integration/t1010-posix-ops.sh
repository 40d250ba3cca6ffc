#!/bin/bash
# POSIX semantics (tests/tools/posixops.c) on plain tmpfs, then on a volume of every cipher with
# 4 KiB chunks and one with 64 KiB chunks; what posixops leaves (mmap-written data, sparse
# file, xattrs, links, times) survives a remount; other users' access with
# allow_other,default_permissions follows the modes.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
POSIXOPS=$(ecfs_tool posixops)
FAILED=()

# run_posixops LABEL ARGS...: runs posixops, shows its failed checks, records a failure.
run_posixops() {
  local label=$1 rc=0
  shift
  "$POSIXOPS" "$@" >"$T/posixops.log" 2>&1 || rc=$?
  note "$label: posixops exit $rc, $(grep -c '^ok ' "$T/posixops.log") checks passed," \
    "$(grep -c '^not ok ' "$T/posixops.log") failed"
  if [ $rc -ne 0 ]; then
    grep -v -e '^ok ' -e '^# *SEEK' -e '^# *f_namemax' "$T/posixops.log" | head -n 40 >&2
    FAILED+=("$label")
  fi
}

# plain_ok DIR: DIR supports what posixops needs of a plain file system (user xattrs, which
# tmpfs has only since Linux 6.6, and punching holes).
plain_ok() {
  local r=0
  head -c 8192 /dev/zero >"$1/.probe" || return 1
  setfattr -n user.probe -v 1 "$1/.probe" 2>/dev/null || r=1
  fallocate -p -o 0 -l 4096 "$1/.probe" 2>/dev/null || r=1
  rm -f "$1/.probe"
  return $r
}

# The program itself, on tmpfs (or on the scratch file system when tmpfs cannot be mounted or
# lacks user xattrs).
plain=$T/tmpfs
register_mount "$plain"
if ! mount -t tmpfs -o size=256m tmpfs "$plain" 2>/dev/null || ! plain_ok "$plain"; then
  mountpoint -q "$plain" && umount "$plain"
  plain=$T/plain
  mkdir "$plain"
  plain_ok "$plain" || fail "neither tmpfs nor $(stat -f -c %T "$T") has user xattrs and hole punching"
fi
run_posixops "plain $(stat -f -c %T "$plain")" "$plain"
run_posixops "plain, persisted entries" --check-persist "$plain"
[ ${#FAILED[@]} -eq 0 ] || fail "posixops fails on a plain directory: the checks are wrong"

# The backing file system punches holes (ext4 and tmpfs do), so the volume must too.
punch=()
head -c 8192 /dev/zero >"$T/punch-probe"
if ! fallocate -p -o 0 -l 4096 "$T/punch-probe" 2>/dev/null; then
  note "the backing file system cannot punch holes: EOPNOTSUPP is accepted"
  punch=(--allow-no-punch)
fi

# cipher:chunk size[:extra mount options]
for cfg in aes-256-gcm:4096 aes-256-xts:4096 aes-128-xts:4096 sm4-xts:4096 aes-256-gcm:65536 \
  aes-256-xts:4096:no_writeback_cache; do
  IFS=: read -r cipher chunk extra <<<"$cfg"
  name=$cipher-$chunk${extra:+-$extra}
  vol=$T/vol-$name
  mnt=$T/mnt-$name
  key=$T/key-$name
  opts=key_file=$key${extra:+,$extra}
  note "$cipher, chunk size $chunk${extra:+, -o $extra}"
  make_vol "$vol" "$key" "$cipher" "$chunk"
  mount_vol "$vol" "$mnt" "$opts"
  run_posixops "$name" --ecfs "${punch[@]}" "$mnt"
  remount "$vol" "$mnt" "$opts"
  run_posixops "$name after remount" --check-persist "$mnt"
  umount_wait "$mnt"
done

# Other users with allow_other,default_permissions: the modes decide.
note "allow_other,default_permissions as user nobody"
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
vol=$T/vol-aes-256-gcm-4096
mnt=$T/mnt-perm
mount_vol "$vol" "$mnt" "key_file=$T/key-aes-256-gcm-4096,allow_other,default_permissions"
chmod 755 "$T" "$mnt" # the backing root (so the mount root) is 0700 after mkfs
mkdir -m 755 "$mnt/perm"
mkdir -m 700 "$mnt/perm/closed"
echo public >"$mnt/perm/public"
echo secret >"$mnt/perm/secret"
chmod 644 "$mnt/perm/public"
chmod 600 "$mnt/perm/secret"
[ "$(as_nobody cat "$mnt/perm/public")" = public ] || fail "nobody cannot read a 0644 file"
expect_exit 1 as_nobody cat "$mnt/perm/secret"
stderr_has "Permission denied"
expect_exit 1 as_nobody truncate -s 0 "$mnt/perm/public"
stderr_has "Permission denied"
expect_exit 1 as_nobody touch "$mnt/perm/new"
stderr_has "Permission denied"
expect_exit 2 as_nobody ls "$mnt/perm/closed"
stderr_has "Permission denied"
[ "$(cat "$mnt/perm/public")" = public ] && [ ! -e "$mnt/perm/new" ] ||
  fail "a refused operation changed something"
chmod 666 "$mnt/perm/public"
echo changed | as_nobody dd of="$mnt/perm/public" status=none 2>"$T/stderr" ||
  { cat "$T/stderr" >&2; fail "nobody cannot write a 0666 file"; }
[ "$(cat "$mnt/perm/public")" = changed ] || fail "nobody's write did not land"

note "new entries belong to their maker; a set-group-ID directory gives them its group"
owners() { local f o=; for f in "$@"; do o+="$(stat -c %u:%g "$f") "; done; echo "$o"; }
for d in plain sgid; do
  mkdir -m 777 "$mnt/perm/$d"
  [ $d = plain ] || { chgrp 100 "$mnt/perm/$d" && chmod 2777 "$mnt/perm/$d"; }
  touch "$mnt/perm/$d/root-file" && mkdir "$mnt/perm/$d/root-dir"
  mknod "$mnt/perm/$d/root-fifo" p && ln -s x "$mnt/perm/$d/root-link"
  as_nobody touch "$mnt/perm/$d/nobody-file" && as_nobody mkdir "$mnt/perm/$d/nobody-dir"
  as_nobody mknod "$mnt/perm/$d/nobody-fifo" p && as_nobody ln -s x "$mnt/perm/$d/nobody-link"
done
p=$mnt/perm
got=$(owners "$p"/plain/{root,nobody}-{file,dir,fifo} "$p"/sgid/{root,nobody}-{file,dir,fifo})
want="0:0 0:0 0:0 65534:65534 65534:65534 65534:65534 0:100 0:100 0:100 65534:100 65534:100 65534:100 "
[ "$got" = "$want" ] || fail "owners of new entries: $got; expected $want"
got=$(owners "$p"/{plain,sgid}/{root,nobody}-link)
[ "$got" = "0:0 65534:65534 0:100 65534:100 " ] || fail "owners of new symlinks: $got"
[ "$(stat -c %A "$p"/sgid/{root,nobody}-dir | cut -c7 | tr -d '\n')" = ss ] ||
  fail "a directory made in a set-group-ID directory is not set-group-ID itself"
umount_wait "$mnt"

[ ${#FAILED[@]} -eq 0 ] || fail "posixops failed for: ${FAILED[*]}"
