#!/bin/bash
# The quick start: on a Debian 12 machine, as root, installs what is missing, builds
# envcryptfs, creates a demo volume with a generated key file, mounts it, and shows a file
# through the mount beside its ciphertext in the backing directory.
set -euo pipefail
cd "$(dirname "$0")"
.ci/install-deps
make -s -j"$(nproc)"
demo=${DEMO_DIR:-/tmp/envcryptfs-demo}
rm -rf "$demo"; mkdir -p "$demo/mnt"
head -c 64 /dev/urandom >"$demo/demo.key"; chmod 600 "$demo/demo.key"
echo "== mkfs.envcryptfs --key-file $demo/demo.key $demo/backing"
build/mkfs.envcryptfs --key-file "$demo/demo.key" --label demo "$demo/backing"
if [ -x build/envcryptfs ]; then
  echo "== envcryptfs $demo/backing $demo/mnt -o key_file=$demo/demo.key"
  build/envcryptfs "$demo/backing" "$demo/mnt" -o key_file="$demo/demo.key"
  trap 'fusermount3 -u "$demo/mnt" 2>/dev/null || true' EXIT
  mkdir "$demo/mnt/reports"
  echo "Quarterly numbers: all good." >"$demo/mnt/reports/q3.txt"
  echo "== through the mount:"
  ls -lR "$demo/mnt"; cat "$demo/mnt/reports/q3.txt"
  echo "== in the backing directory (what the disk holds):"
  ls -lR "$demo/backing"
  blob=$(find "$demo/backing" -type f -size +40c ! -name 'envcryptfs.*' | head -n 1)
  xxd "$blob" | head -n 5
  fusermount3 -u "$demo/mnt"; trap - EXIT
  echo "== unmounted; the volume is in $demo/backing, its key in $demo/demo.key"
fi
