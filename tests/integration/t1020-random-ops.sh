#!/bin/bash
# Random pwrite/truncate/punch/rename/unlink sequences (tests/tools/fsrandom.c) give the same
# results on a volume as on a plain directory, per cipher, before and after a remount.
# SEED=N reproduces a run; FSRANDOM_OPS=N changes the number of ops per volume (default 3000).
. "$ECFS_TESTS/lib.sh"
need_progs
FSRANDOM=$(ecfs_tool fsrandom)
OPS=${FSRANDOM_OPS:-3000}
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
note "seed=$SEED (rerun with SEED=$SEED), $OPS ops per volume"

i=0
for cfg in aes-256-gcm:4096 aes-256-xts:4096 aes-128-xts:65536 sm4-xts:4096 aes-256-gcm:65536; do
  cipher=${cfg%:*}
  chunk=${cfg#*:}
  seed=$((SEED + i))
  i=$((i + 1))
  vol=$T/vol-$cipher-$chunk
  mnt=$T/mnt-$cipher-$chunk
  key=$T/key-$cipher-$chunk
  ref=$T/ref-$cipher-$chunk
  note "$cipher, chunk size $chunk: fsrandom --seed $seed --ops $OPS"
  make_vol "$vol" "$key" "$cipher" "$chunk"
  mount_vol "$vol" "$mnt" "key_file=$key"
  mkdir "$mnt/work" "$ref"
  "$FSRANDOM" --seed "$seed" --ops "$OPS" --check-every 250 --dir-a "$mnt/work" --dir-b "$ref" ||
    fail "fsrandom failed on $cipher/$chunk with --seed $seed --ops $OPS (see above)"
  remount "$vol" "$mnt" "key_file=$key"
  "$FSRANDOM" --seed "$seed" --verify-only --dir-a "$mnt/work" --dir-b "$ref" ||
    fail "after a remount $cipher/$chunk (seed $seed) differs from the reference"
  umount_wait "$mnt"
done
