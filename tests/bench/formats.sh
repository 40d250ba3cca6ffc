#!/bin/bash
# `make bench-formats`: is format 2 slower than format 1? A format-1 and a format-2 volume
# (aes-256-gcm, 4 KiB chunks) are mounted side by side on one tmpfs; each round runs every
# workload on both, in alternating order, so that both see the same machine. Prints, per
# workload, the median over the rounds of format 2's speed divided by format 1's (above 1:
# format 2 faster), its quartiles, and in how many rounds format 2 was faster. Runs of the
# whole bench move by up to 2x between runs on a shared machine; paired rounds do not. Needs
# root. Never part of `make check`.
#
# Environment: FORMATS_ROUNDS=20, FORMATS_WORK="io small tar" (io: fio 1 MiB sequential write
# and cold read of 256 MiB, 4 KiB random write and cold read for 2 s each; small: 3,000 4 KiB
# files in 30 directories, created, stat'ed, read and deleted; tar: the bench's /usr/include
# tarball extracted, compared with diff -r and removed, each after a cache drop).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${ECFS_BIN:-$top/build}
ROUNDS=${FORMATS_ROUNDS:-20}
WORK=${FORMATS_WORK:-io small tar}
[ "$(id -u)" = 0 ] || { echo "bench-formats: run as root (mounts, drop_caches)" >&2; exit 2; }
for p in fio jq bc; do
  command -v $p >/dev/null || { echo "bench-formats: $p is missing (apt-get install $p)" >&2; exit 2; }
done
W=$(mktemp -d /tmp/ecfs-formats.XXXXXX)
cleanup() {
  for f in 1 2; do mountpoint -q "$W/m$f" && { fusermount3 -u "$W/m$f" || umount -l "$W/m$f"; }; done
  for _ in $(seq 50); do pgrep -f -- "$W/m[12]" >/dev/null || break; sleep 0.1; done
  mountpoint -q "$W" && umount -l "$W"
  rm -rf "$W"
}
trap cleanup EXIT
mount -t tmpfs -o size=4G tmpfs "$W"
cc -O2 -o "$W/smallfiles" "$here/smallfiles.c"
mkdir -p "$W/include"; cp -a /usr/include/. "$W/include/"; tar -C "$W/include" -cf "$W/include.tar" .
head -c 64 /dev/urandom >"$W/key"; chmod 600 "$W/key"
for f in 1 2; do
  mkdir -p "$W/m$f"
  "$BIN/mkfs.envcryptfs" -q --force --format-version $f --key-file "$W/key" "$W/v$f" >/dev/null
  "$BIN/envcryptfs" "$W/v$f" "$W/m$f" -o key_file="$W/key",log_file="$W/log$f"
done

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
fio_run() { # dir name rw bs size extra... -> "bw_MBps iops"
  local d=$1 n=$2 rw=$3 bs=$4 size=$5; shift 5
  fio --name="$n" --directory="$d" --filename="$n.dat" --rw="$rw" --bs="$bs" --size="$size" \
    --numjobs=1 --ioengine=psync --output-format=json "$@" >"$W/fio.json"
  local dir=read; [[ $rw == *write* ]] && dir=write
  jq -r ".jobs[0].$dir | \"\(.bw_bytes / 1e6) \(.iops)\"" "$W/fio.json"
}
# Each workload prints "metric format value"; for metrics ending in _s lower is better.
work_io() {
  local d=$W/m$1 o
  o=$(fio_run "$d" seq write 1M 256M --end_fsync=1); echo "seq_write_MBps $1 ${o% *}"
  drop_caches; o=$(fio_run "$d" seq read 1M 256M); echo "seq_read_MBps $1 ${o% *}"
  rm -f "$d/seq.dat"
  o=$(fio_run "$d" rand randwrite 4k 64M --time_based --runtime=2 --end_fsync=1)
  echo "rand_write_iops $1 ${o#* }"
  drop_caches; o=$(fio_run "$d" rand randread 4k 64M --time_based --runtime=2)
  echo "rand_read_iops $1 ${o#* }"
  rm -f "$d/rand.dat"
}
work_small() {
  local cr st rd dl
  drop_caches
  read -r _ cr _ st _ rd _ dl < <("$W/smallfiles" "$W/m$1" 3000 30 4096)
  printf 'small_create_s %s %s\nsmall_stat_s %s %s\nsmall_read_s %s %s\nsmall_delete_s %s %s\n' \
    "$1" "$cr" "$1" "$st" "$1" "$rd" "$1" "$dl"
}
work_tar() {
  local d=$W/m$1 t0
  drop_caches; t0=$(now); mkdir "$d/src"; tar -C "$d/src" -xf "$W/include.tar"
  echo "tar_extract_s $1 $(echo "$(now) - $t0" | bc -l)"
  drop_caches; t0=$(now); diff -r -q --no-dereference "$W/include" "$d/src" >/dev/null
  echo "tar_diff_s $1 $(echo "$(now) - $t0" | bc -l)"
  drop_caches; t0=$(now); rm -rf "$d/src"
  echo "tar_remove_s $1 $(echo "$(now) - $t0" | bc -l)"
}

for r in $(seq "$ROUNDS"); do
  for w in $WORK; do
    if [ $((r % 2)) = 1 ]; then work_$w 1; work_$w 2; else work_$w 2; work_$w 1; fi
  done
  echo "bench-formats: round $r of $ROUNDS" >&2
done >"$W/results"

echo "machine: $(nproc) cores, $(uname -r); rounds: $ROUNDS; work: $WORK"
printf '%-16s %8s %8s %8s   %s\n' metric "f2/f1" q1 q3 "f2 faster"
# Paired ratios per round: the n-th value of a metric on format 1 goes with the n-th on 2.
awk '{ k = $1 SUBSEP $2; n[k]++; v[$1, $2, n[k]] = $3; if (!($1 in seen)) { seen[$1] = 1; m[++nm] = $1 } }
  END {
    for (i = 1; i <= nm; i++) {
      x = m[i]; c = n[x SUBSEP 1]; faster = 0
      for (j = 1; j <= c; j++) {
        a = v[x, 1, j]; b = v[x, 2, j]
        r[j] = (x ~ /_s$/) ? a / b : b / a
        if (r[j] > 1) faster++
      }
      for (j = 2; j <= c; j++) for (k = j; k > 1 && r[k] < r[k - 1]; k--) { t = r[k]; r[k] = r[k - 1]; r[k - 1] = t }
      med = (c % 2) ? r[(c + 1) / 2] : (r[c / 2] + r[c / 2 + 1]) / 2
      printf "%-16s %8.3f %8.3f %8.3f   %d of %d\n", x, med, r[int((c + 3) / 4)], r[int((3 * c + 3) / 4)], faster, c
    }
  }' "$W/results"
