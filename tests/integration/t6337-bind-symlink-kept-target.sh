#!/bin/bash
# Format 2: a rename or exchange of a symbolic link replaces its backing link by a copy sealed
# for the new place, so the kernel's inode of the original has no backing link left (nor,
# for a long target, side file). Reading the link through that inode (a descriptor opened
# before the rename; a path walk that raced two renames of one link) still gives its target,
# as on any file system, not ESTALE.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t6330-bind.inc"
sanitizer_logs
trap finish_test EXIT
need_progs

bound_volume
long=$(printf 'long/%.0s' $(seq 600)) # 3,000 bytes: stored in a side file

# readlink_after HOW LINK OTHER: opens LINK with O_PATH, renames it to OTHER (HOW=rename) or
# exchanges it with OTHER (HOW=exchange) through the mount, then prints readlinkat of the
# descriptor.
cat >"$T/readlink_after.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
how, link, other = sys.argv[1:4]
fd = os.open(link, os.O_PATH | os.O_NOFOLLOW)
flags = 2 if how == "exchange" else 0
if libc.renameat2(-100, link.encode(), -100, other.encode(), flags) != 0:
    sys.exit(how + ": " + os.strerror(ctypes.get_errno()))
buf = ctypes.create_string_buffer(8192)
n = libc.readlinkat(fd, b"", buf, len(buf))
if n < 0:
    sys.exit("readlinkat of the renamed link: " + os.strerror(ctypes.get_errno()))
sys.stdout.write(buf.raw[:n].decode())
PY
readlink_after() { python3 "$T/readlink_after.py" "$@" 2>"$T/py.err" || fail "$(cat "$T/py.err")"; }

for target in short/target "$long"; do
  note "rename, a ${#target}-byte target"
  ln -s "$target" "$mnt/l"
  [ "$(readlink_after rename "$mnt/l" "$mnt/l2")" = "$target" ] ||
    fail "the renamed link's old inode reads another target"
  [ "$(readlink "$mnt/l2")" = "$target" ] || fail "the renamed link reads another target"
  rm "$mnt/l2"
done

note "exchange of two links"
ln -s "$long" "$mnt/a"
ln -s short "$mnt/b"
[ "$(readlink_after exchange "$mnt/a" "$mnt/b")" = "$long" ] ||
  fail "the exchanged link's old inode reads another target"
[ "$(readlink "$mnt/a")" = short ] && [ "$(readlink "$mnt/b")" = "$long" ] ||
  fail "the exchanged links read other targets"

umount_fg "$mnt"
"$FSCK" -n --key-file "$key" "$vol" </dev/null >"$T/fsck.out" 2>&1 ||
  { cat "$T/fsck.out" >&2; fail "fsck.envcryptfs -n does not find the volume clean"; }
