#!/bin/bash
# holes.sh A_BIN B_BIN [ROUNDS]: the workloads the format-2 holes map could slow down, on a
# format-2 aes-256-gcm volume (4 KiB chunks) over tmpfs, for two builds of the tools
# (directories holding envcryptfs and mkfs.envcryptfs), alternating A and B each round so
# that a noisy machine hurts both alike. Prints the median seconds of each workload for A and
# B and the ratio B/A. Needs root; not part of `make check`.
#   seq      one 256 MiB file written front to back (dd bs=1M)
#   appends  8000 appends of 4 KiB to one file (O_APPEND, one open)
#   small    1000 files of 1000 bytes (create, write, close)
#   sparse   a 1 GiB file made by truncate, 2000 4 KiB writes at random offsets, fsync
set -eu
A=${1:?usage: holes.sh A_BIN B_BIN [ROUNDS]}
B=${2:?usage: holes.sh A_BIN B_BIN [ROUNDS]}
ROUNDS=${3:-5}
T=$(mktemp -d /tmp/ecfs-holes-bench.XXXXXX)
mount -t tmpfs -o size=1600m tmpfs "$T"
MNT=$T/mnt
cleanup() {
  fusermount3 -u "$MNT" 2>/dev/null || true
  umount "$T" 2>/dev/null || true
  rmdir "$T" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$MNT"
head -c 64 /dev/urandom >"$T/key"
chmod 600 "$T/key"

# secs CMD...: wall-clock seconds of CMD.
secs() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

w_seq() { dd if=/dev/zero of="$MNT/seq" bs=1M count=256 status=none; }
w_appends() { dd if=/dev/zero of="$MNT/app" bs=4096 count=8000 oflag=append conv=notrunc status=none; }
w_small() {
  python3 - "$MNT/small" <<'EOF'
import os, sys
d = sys.argv[1]
os.mkdir(d)
b = b"x" * 1000
for i in range(1000):
    with open(os.path.join(d, "f%d" % i), "wb") as f:
        f.write(b)
EOF
}
w_sparse() {
  python3 - "$MNT/sparse" <<'EOF'
import os, random, sys
random.seed(7)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(fd, 1 << 30)
b = b"y" * 4096
for _ in range(2000):
    os.pwrite(fd, b, random.randrange(0, (1 << 30) - 4096))
os.fsync(fd)
os.close(fd)
EOF
}

# one BIN WORKLOAD: a fresh volume, one workload, its seconds.
one() {
  local bin=$1 w=$2 s
  rm -rf "$T/vol"
  "$bin/mkfs.envcryptfs" -q --allow-weak-kdf --format-version 2 --cipher aes-256-gcm \
    --chunk-size 4096 --key-file "$T/key" "$T/vol" >/dev/null
  "$bin/envcryptfs" "$T/vol" "$MNT" -o "key_file=$T/key,no_writeback_cache,log_file=$T/daemon.log"
  s=$(secs "w_$w")
  fusermount3 -u "$MNT"
  echo "$s"
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf '%-8s %10s %10s %8s\n' workload "A (s)" "B (s)" B/A
for w in seq appends small sparse; do
  : >"$T/a" && : >"$T/b"
  for ((i = 0; i < ROUNDS; i++)); do
    one "$A" $w >>"$T/a"
    one "$B" $w >>"$T/b"
  done
  a=$(median <"$T/a") b=$(median <"$T/b")
  printf '%-8s %10.3f %10.3f %8.3f\n' $w "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
