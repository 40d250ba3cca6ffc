#!/bin/bash
# An sm4-xts volume reads the same through every SM4 path: files written through OpenSSL's
# SM4 read back through each bulk implementation this CPU runs, and the other way round,
# over every kind of chunk (a tail under 16 bytes, ciphertext stealing, whole chunks, a
# short last chunk). The path is forced with ECFS_FAULT_SM4_IMPL (test builds only).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
need_fault_injection

has() { grep -qw "$1" /proc/cpuinfo; }
paths=(openssl)
has gfni && has avx2 && paths+=(gfni-avx2)
has aes && has avx2 && paths+=(aesni-avx2)
note "SM4 paths on this CPU: ${paths[*]}"

src=$T/src
mkdir -p "$src/dir"
for n in 1 15 16 17 31 4095 4096 4097 4111 8192 12345 70000 1048576; do
  head -c "$n" /dev/urandom >"$src/f$n"
done
head -c 300000 /dev/urandom >"$src/dir/inner"

for w in "${paths[@]}"; do
  vol=$T/vol-$w
  key=$T/key-$w
  make_vol "$vol" "$key" sm4-xts 4096
  ECFS_FAULT_SM4_IMPL=$w mount_vol "$vol" "$T/mnt" "key_file=$key"
  cp -a "$src/." "$T/mnt/"
  umount_wait "$T/mnt"
  for r in "${paths[@]}"; do
    note "written through $w, read through $r"
    ECFS_FAULT_SM4_IMPL=$r mount_vol "$vol" "$T/mnt" "key_file=$key"
    same_tree "$src" "$T/mnt"
    umount_wait "$T/mnt"
  done
done
