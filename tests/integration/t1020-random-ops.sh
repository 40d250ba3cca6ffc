#!/bin/bash
# Random pwrite/truncate/punch/rename/unlink sequences (tests/tools/fsrandom.c) give the same
# results on a volume as on a plain directory, per cipher, before and after a remount.
# SEED=N reproduces a run; FSRANDOM_OPS=N changes the number of ops per volume (default 3000).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
FSRANDOM=$(ecfs_tool fsrandom)
OPS=${FSRANDOM_OPS:-3000}
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
note "seed=$SEED (rerun with SEED=$SEED), $OPS ops per volume"

i=0
# cipher:chunk size[:extra mount options]
for cfg in aes-256-gcm:4096 aes-256-xts:4096 aes-128-xts:65536 sm4-xts:4096 aes-256-gcm:65536 \
  aes-256-gcm:4096:no_writeback_cache; do
  IFS=: read -r cipher chunk extra <<<"$cfg"
  seed=$((SEED + i))
  i=$((i + 1))
  name=$cipher-$chunk${extra:+-$extra}
  vol=$T/vol-$name
  mnt=$T/mnt-$name
  key=$T/key-$name
  ref=$T/ref-$name
  opts=key_file=$key${extra:+,$extra}
  note "$cipher, chunk size $chunk${extra:+, -o $extra}: fsrandom --seed $seed --ops $OPS"
  make_vol "$vol" "$key" "$cipher" "$chunk"
  mount_vol "$vol" "$mnt" "$opts"
  mkdir "$mnt/work" "$ref"
  "$FSRANDOM" --seed "$seed" --ops "$OPS" --check-every 500 --dir-a "$mnt/work" --dir-b "$ref" ||
    fail "fsrandom failed on $name with --seed $seed --ops $OPS (see above)"
  remount "$vol" "$mnt" "$opts"
  "$FSRANDOM" --seed "$seed" --verify-only --dir-a "$mnt/work" --dir-b "$ref" ||
    fail "after a remount $name (seed $seed) differs from the reference"
  umount_wait "$mnt"
done
