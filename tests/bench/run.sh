#!/bin/bash
# `make bench`: the same workloads, in one run, on a tmpfs and on the machine's disk, for the
# raw directory, two FUSE passthroughs (bindfs, mergerfs), gocryptfs and envcryptfs (each
# cipher at the default chunk size, and aes-256-gcm at 64 KiB and 1 MiB). Prints one table
# per backing with absolute figures and, for envcryptfs, ratios against gocryptfs (G) and the
# better passthrough (P) of the same run. Needs root. Never part of `make check`.
#
# Reported, never asserted, besides the throughput: the daemon's CPU seconds (utime + stime
# from /proc/PID/stat) per GiB moved by the sequential write and read, and for gocryptfs and
# the aes-256-gcm systems the daemon's peak and resident memory (VmHWM, VmRSS) once a new
# daemon has looked up 100,000 files (a `find` that stats each of them).
#
# Environment: BENCH_BACKINGS="tmpfs disk", BENCH_SYSTEMS (names as in the table; ecfs
# systems make format-2 volumes, the default; with -f1 appended, e.g. ecfs-gcm-f1, the same
# on a format-1 volume, and -f2 names format 2 explicitly; with -uring before that, e.g.
# ecfs-gcm-uring, the daemon serves through FUSE over io_uring: -o io_uring, with the fuse
# module's enable_uring set for the run and put back afterwards; with -nowb after that (before
# any -f1), e.g. ecfs-gcm-nowb, it runs without the write-back cache: -o no_writeback_cache),
# BENCH_SEQ_MB=1024, BENCH_RUNTIME=10 (seconds per random-I/O job), BENCH_DISK_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${ECFS_BIN:-$top/build}
SEQ_MB=${BENCH_SEQ_MB:-1024}
RUNTIME=${BENCH_RUNTIME:-10}
BACKINGS=${BENCH_BACKINGS:-tmpfs disk}
SYSTEMS=${BENCH_SYSTEMS:-raw bindfs mergerfs gocryptfs ecfs-gcm ecfs-gcm-64k ecfs-gcm-1m ecfs-aes256xts ecfs-aes128xts ecfs-sm4xts}
DISK_DIR=${BENCH_DISK_DIR:-/var/tmp/envcryptfs-bench}
W=$(mktemp -d /tmp/ecfs-bench.XXXXXX)
RESULTS=$W/results.tsv
MNT=$W/mnt

need() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_OLD=
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; }
  [ -z "$URING_OLD" ] || echo "$URING_OLD" >"$URING_PARAM"
  mountpoint -q "$W/tmpfs" 2>/dev/null && umount -l "$W/tmpfs"
  rm -rf "$W" "$DISK_DIR"
}
trap cleanup EXIT

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# ---- mounting each system over BACK, at MNT; DAEMON_PID set for FUSE systems ----------------
mount_system() {
  local sys=$1 back=$2
  mkdir -p "$MNT" "$back/data"
  BACK=$back
  DAEMON_PID=
  case $sys in
    raw) TARGET=$back/data; return ;;
    bindfs) bindfs -o big_writes --multithreaded "$back/data" "$MNT" 2>/dev/null ||
              bindfs --multithreaded "$back/data" "$MNT" ;;
    mergerfs) mergerfs -o cache.files=auto-full,dropcacheonclose=true "$back/data" "$MNT" ;;
    gocryptfs)
      echo benchpass >"$W/gopass"
      gocryptfs -q -init -passfile "$W/gopass" -scryptn 10 "$back/data" >/dev/null
      gocryptfs -q -nosyslog -passfile "$W/gopass" "$back/data" "$MNT" ;;
    ecfs-*)
      local cipher=aes-256-gcm chunk= format= uring= extra=
      case $sys in *-f1) format="--format-version 1" ;; *-f2) format="--format-version 2" ;; esac
      local base=${sys%-f[12]}
      case $base in *-nowb) extra=,no_writeback_cache; base=${base%-nowb} ;; esac
      case $base in *-uring) uring=,io_uring,log_file=$W/ecfs.log; base=${base%-uring} ;; esac
      if [ -n "$uring" ] && [ -z "$URING_OLD" ]; then
        URING_OLD=$(cat "$URING_PARAM") && echo Y >"$URING_PARAM"
      fi
      case $base in
        ecfs-gcm-64k) chunk=64k ;; ecfs-gcm-1m) chunk=1M ;;
        ecfs-aes256xts) cipher=aes-256-xts ;; ecfs-aes128xts) cipher=aes-128-xts ;;
        ecfs-sm4xts) cipher=sm4-xts ;;
      esac
      head -c 64 /dev/urandom >"$W/key"; chmod 600 "$W/key"
      rmdir "$back/data"
      "$BIN/mkfs.envcryptfs" -q --force --cipher $cipher ${chunk:+--chunk-size $chunk} \
        $format --key-file "$W/key" "$back/data" >/dev/null
      rm -f "$W/ecfs.log"
      ECFS_OPTS=key_file="$W/key$uring$extra"
      "$BIN/envcryptfs" "$back/data" "$MNT" -o "$ECFS_OPTS"
      if [ -n "$uring" ]; then # the daemon says once INIT is answered
        for _ in $(seq 50); do grep -q "io_uring" "$W/ecfs.log" && break; sleep 0.2; done
        grep -q "serving through io_uring" "$W/ecfs.log" ||
          echo "bench: $sys does not use io_uring: $(tail -n 1 "$W/ecfs.log")" >&2
      fi ;;
  esac
  TARGET=$MNT
  DAEMON_PID=$(pgrep -n -f -- "$MNT" || true)
}

# The same volume mounted again by a new daemon (gocryptfs and ecfs systems only).
remount_system() {
  fusermount3 -u "$MNT"
  daemon_gone
  case $SYS in
    gocryptfs) gocryptfs -q -nosyslog -passfile "$W/gopass" "$BACK/data" "$MNT" ;;
    ecfs-*) "$BIN/envcryptfs" "$BACK/data" "$MNT" -o "$ECFS_OPTS" ;;
  esac
  DAEMON_PID=$(pgrep -n -f -- "$MNT" || true)
}

# A daemon that exited but was not reaped (a zombie: where PID 1 reaps no orphans, as in
# some containers) is gone; kill -0 alone would wait the full 30 s after every step.
daemon_alive() {
  [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null &&
    [ "$(awk '{print $3}' "/proc/$DAEMON_PID/stat" 2>/dev/null)" != Z ]
}

# The daemon holds the backing directory (and envcryptfs its volume lock) until it exits:
# the tmpfs unmount and a new mount need it gone.
daemon_gone() {
  for _ in $(seq 300); do daemon_alive || break; sleep 0.1; done
}

umount_system() {
  [ "$TARGET" = "$MNT" ] && fusermount3 -u "$MNT"
  daemon_gone
  rm -rf "$1/data"
}

cpu_ticks() { [ -n "$DAEMON_PID" ] && awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat" || echo 0; }
status_kib() { [ -n "$DAEMON_PID" ] && awk -v f="$1:" '$1 == f {print $2}' "/proc/$DAEMON_PID/status" || echo 0; }

record() { printf '%s\t%s\t%s\t%s\n' "$BACKING" "$SYS" "$1" "$2" >>"$RESULTS"; }

fio_run() { # name rw bs size jobs extra... -> prints "bw_MBps iops"
  local name=$1 rw=$2 bs=$3 size=$4 jobs=$5; shift 5
  fio --name="$name" --directory="$TARGET" --filename="$name.dat" --rw="$rw" --bs="$bs" \
    --size="$size" --numjobs="$jobs" --group_reporting --ioengine=psync --output-format=json \
    "$@" >"$W/fio.json"
  local dir=read; [[ $rw == *write* ]] && dir=write
  jq -r ".jobs[0].$dir | \"\(.bw_bytes / 1e6) \(.iops)\"" "$W/fio.json"
}

# ---- workloads --------------------------------------------------------------------------
run_workloads() {
  local t0 t1 out c0 c1
  c0=$(cpu_ticks)
  out=$(fio_run seq write 1M "${SEQ_MB}M" 1 --end_fsync=1); record seq_write_MBps "${out% *}"
  drop_caches
  out=$(fio_run seq read 1M "${SEQ_MB}M" 1); record seq_read_MBps "${out% *}"
  c1=$(cpu_ticks)
  record cpu_s_per_GiB "$(echo "($c1 - $c0) / $(getconf CLK_TCK) / ($SEQ_MB * 2 / 1024)" | bc -l)"
  rm -f "$TARGET/seq.dat"
  for jobs in 1 4; do
    out=$(fio_run rand randwrite 4k 256M $jobs --time_based --runtime="$RUNTIME" --end_fsync=1)
    record "rand_write_iops_j$jobs" "${out#* }"
    drop_caches
    out=$(fio_run rand randread 4k 256M $jobs --time_based --runtime="$RUNTIME")
    record "rand_read_iops_j$jobs" "${out#* }"
  done
  rm -f "$TARGET/rand.dat"
  drop_caches
  read -r _ cr _ st _ rd _ dl < <("$W/smallfiles" "$TARGET" 10000 100 4096)
  record small_create_s "$cr"; record small_stat_s "$st"; record small_read_s "$rd"; record small_delete_s "$dl"
  drop_caches
  t0=$(date +%s.%N); mkdir "$TARGET/src"; tar -C "$TARGET/src" -xf "$W/include.tar"
  t1=$(date +%s.%N); record tar_extract_s "$(echo "$t1 - $t0" | bc -l)"
  drop_caches
  t0=$(date +%s.%N); diff -r -q --no-dereference "$W/include" "$TARGET/src" >/dev/null
  t1=$(date +%s.%N); record tar_diff_s "$(echo "$t1 - $t0" | bc -l)"
  t0=$(date +%s.%N); rm -rf "$TARGET/src"
  t1=$(date +%s.%N); record tar_remove_s "$(echo "$t1 - $t0" | bc -l)"
  case $SYS in gocryptfs|ecfs-gcm|ecfs-gcm-f[12]|ecfs-gcm-uring*|ecfs-gcm-nowb*) rss_after_lookups ;; esac
}

# Daemon memory with 100,000 inodes looked up: the tree is made, then a new daemon serves a
# find that stats every entry, so that nothing from the workloads before counts.
rss_after_lookups() {
  "$W/smallfiles" "$TARGET" 100000 100 0 keep >/dev/null
  remount_system
  find "$TARGET" -mindepth 1 -printf '%s\n' | wc -l >/dev/null
  record peak_rss_MiB_100k "$(echo "$(status_kib VmHWM) / 1024" | bc -l)"
  record rss_MiB_100k "$(echo "$(status_kib VmRSS) / 1024" | bc -l)"
}

# ---- the table --------------------------------------------------------------------------
print_table() {
  local backing=$1
  awk -F'\t' -v B="$backing" '
    $1 == B { v[$2 "|" $3] = $4; sys[$2] = 1; if (!($3 in seen)) { seen[$3] = 1; met[++nm] = $3 } ; order[$2] = order[$2] ? order[$2] : ++ns; name[order[$2]] = $2 }
    function better(m) { return (m ~ /_s$|cpu_|rss/) ? -1 : 1 }
    END {
      printf "\n== backing: %s   (ratios: G = against gocryptfs, P = against the better of bindfs and mergerfs; >1 is better)\n", B
      printf "%-16s", "system"; for (i = 1; i <= nm; i++) printf " %22s", met[i]; printf "\n"
      for (s = 1; s <= ns; s++) {
        n = name[s]; printf "%-16s", n
        for (i = 1; i <= nm; i++) {
          m = met[i]; x = v[n "|" m]
          if (x == "") { printf " %22s", "-"; continue }
          cell = sprintf("%.1f", x)
          if (n ~ /^ecfs/) {
            g = v["gocryptfs|" m]; b1 = v["bindfs|" m]; b2 = v["mergerfs|" m]
            p = b1; if (b2 != "" && (p == "" || (better(m) > 0 ? b2 > p : b2 < p))) p = b2
            if (g != "" && g > 0 && x > 0) cell = cell sprintf(" G%.2f", better(m) > 0 ? x / g : g / x)
            if (p != "" && p > 0 && x > 0) cell = cell sprintf(" P%.2f", better(m) > 0 ? x / p : p / x)
          }
          printf " %22s", cell
        }
        printf "\n"
      }
    }' "$RESULTS"
}

main() {
  [ "$(id -u)" = 0 ] || { echo "bench: run as root (mounts, drop_caches)" >&2; exit 2; }
  need fio bindfs mergerfs gocryptfs jq bc fuse3
  cc -O2 -o "$W/smallfiles" "$here/smallfiles.c"
  cc -O2 -o "$W/roundtrip" "$here/roundtrip.c"
  FLOOR=$("$W/roundtrip")
  mkdir -p "$W/include"; cp -a /usr/include/. "$W/include/"; tar -C "$W/include" -cf "$W/include.tar" .
  : >"$RESULTS"
  for BACKING in $BACKINGS; do
    local back
    if [ "$BACKING" = tmpfs ]; then
      mkdir -p "$W/tmpfs"; mount -t tmpfs -o size=6G tmpfs "$W/tmpfs"; back=$W/tmpfs
    else
      mkdir -p "$DISK_DIR"; back=$DISK_DIR
    fi
    for SYS in $SYSTEMS; do
      echo "bench: $BACKING / $SYS" >&2
      mount_system "$SYS" "$back"
      run_workloads
      umount_system "$back"
    done
    [ "$BACKING" = tmpfs ] && umount "$W/tmpfs"
  done
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
  echo "floor: $FLOOR (before the run; tests/bench/roundtrip.c)"
  echo "command: make bench  (BENCH_SEQ_MB=$SEQ_MB BENCH_RUNTIME=$RUNTIME)"
  for BACKING in $BACKINGS; do print_table "$BACKING"; done
  cp "$RESULTS" "${BENCH_RESULTS:-/tmp/envcryptfs-bench-results.tsv}"
}
main "$@"
