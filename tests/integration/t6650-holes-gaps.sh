#!/bin/bash
# Format 2 holes maps stay exact: chunks skipped by a write past the end are listed only if
# still unwritten when the map is committed (fsync or close), so writes that arrive out of
# order leave a dense file with no map; chunks written since the last fsync and made holes
# again (punched, or cut and grown back) stay listed; a shrinking truncate takes the chunks
# it cuts off out of the map at once, so zero chunks appended to the blob later read as EIO.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
command -v python3 >/dev/null || skip "python3 is missing"

CS=4096
SC=$((CS + 28))
key=$T/key
mnt=$T/mnt
vol=$T/vol

blob_of() { find "$1" -maxdepth 1 -inum "$(stat -c %i "$mnt/$2")" -print -quit; }
map_of() {
  local id
  id=$(dd if="$1" bs=1 skip=8 count=16 status=none | base64 -w0 | tr '+/' '-_' | tr -d '=')
  echo "${1%/*}/envcryptfs.holes.$id"
}
zero_chunk() {
  dd if=/dev/zero of="$1" bs=1 seek=$((128 + $2 * SC)) count=$SC conv=notrunc status=none
}
# ops FILE STEP...: runs steps on one O_DIRECT handle (each reaches the daemon as it is
# made, in that order): wC (write chunk C with random bytes), pC (punch chunk C), tN
# (truncate to N chunks), gN (truncate to N and a half chunks), s (fsync), c (copy the file
# $COPY_FROM to $COPY_TO, with the handle open).
ops() {
  python3 - "$@" <<'PY' || fail "ops $* failed"
import mmap, os, sys, ctypes
CS = 4096
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
buf = mmap.mmap(-1, CS)
libc = ctypes.CDLL(None, use_errno=True)
for s in sys.argv[2:]:
    op, n = s[0], int(s[1:] or 0)
    if op == "w":
        buf[:] = os.urandom(CS)
        assert os.pwritev(fd, [buf], n * CS) == CS
    elif op == "p":
        if libc.fallocate(fd, 3, ctypes.c_long(n * CS), ctypes.c_long(CS)) != 0:
            raise OSError(ctypes.get_errno(), "fallocate")
    elif op == "t":
        os.ftruncate(fd, n * CS)
    elif op == "g":
        os.ftruncate(fd, n * CS + CS // 2)
    elif op == "c":
        with open(os.environ["COPY_FROM"], "rb") as a, open(os.environ["COPY_TO"], "wb") as b:
            b.write(a.read())
    elif op == "s":
        os.fsync(fd)
os.close(fd)
PY
}
# chunk_is FILE C WHAT: chunk C of FILE reads as zeros (WHAT=zeros) or fails with EIO.
chunk_is() {
  if [ "$3" = zeros ]; then
    dd if="$1" bs=$CS skip="$2" count=1 status=none | cmp -s - <(head -c $CS /dev/zero) ||
      fail "${1##*/}: chunk $2 does not read as zeros"
  else
    dd if="$1" of=/dev/null bs=$CS skip="$2" count=1 status=none 2>"$T/err" &&
      fail "${1##*/}: chunk $2 reads although it was zeroed in the blob"
    grep -q "Input/output error" "$T/err" || { cat "$T/err" >&2; fail "${1##*/}: not EIO"; }
  fi
}

make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log"

note "writes out of order: the gap they fill by close is no hole"
ops "$mnt/ooo" w9 w0 w1 w2 w3 w4 w5 w6 w7 w8
note "a gap still unwritten at fsync stays listed"
ops "$mnt/gap" w9 s w0
note "a chunk written since the last fsync and punched stays listed"
ops "$mnt/punch" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 s w5 p5 s
note "chunks written since the last fsync, cut and grown back stay listed"
ops "$mnt/regrow" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 s w5 t3 t8 s
note "a shrinking truncate never synced takes the cut chunks out of the map"
ops "$mnt/shrunk" w0 w9 s t1
note "a growing truncate lists the new partial last chunk until the next sync"
ops "$mnt/grown" w0 s
COPY_FROM=$(map_of "$(blob_of "$vol" grown)") COPY_TO=$T/grown-map ops "$mnt/grown" g5 c
# One range, chunks 1 to 5 (bytes 16 to 31 of the map, big-endian).
[ "$(od -An -tx1 -j16 -N16 "$T/grown-map" | tr -d ' \n')" = 00000000000000010000000000000006 ] ||
  fail "a growing truncate does not list its new partial last chunk"
for f in ooo gap punch regrow shrunk; do eval "blob_$f=\$(blob_of \$vol $f)"; done
umount_fg "$mnt"
log_clean "$T/log"

[ -e "$(map_of "$blob_ooo")" ] && fail "a file whose gaps all filled before close has a map"
zero_chunk "$blob_ooo" 5
zero_chunk "$blob_gap" 0
head -c $((5 * SC)) /dev/zero >>"$blob_shrunk"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2"
chunk_is "$mnt/ooo" 5 eio
chunk_is "$mnt/gap" 0 eio
chunk_is "$mnt/gap" 4 zeros
chunk_is "$mnt/punch" 5 zeros
chunk_is "$mnt/regrow" 5 zeros
chunk_is "$mnt/regrow" 7 zeros
chunk_is "$mnt/shrunk" 3 eio
umount_fg "$mnt"
