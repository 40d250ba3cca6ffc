#!/bin/bash
# refresh.sh DIR: copies the vector files this directory holds from DIR (laid out as here:
# wycheproof/, openssl/, rfc/, argon2/), shows what changed and rewrites SHA256SUMS. Review
# the diff and run the known-answer tests (make check) before committing.
set -euo pipefail
src=${1:?usage: refresh.sh UPSTREAM-DIR}
cd "$(dirname "$0")"
while read -r _ f; do
  [ -f "$src/$f" ] || { echo "refresh.sh: '$src/$f' is missing" >&2; exit 1; }
  cmp -s "$src/$f" "$f" || { echo "changed: $f"; cp "$src/$f" "$f"; }
done <SHA256SUMS
awk '{print $2}' SHA256SUMS | xargs sha256sum >SHA256SUMS.new
mv SHA256SUMS.new SHA256SUMS
sha256sum -c --quiet SHA256SUMS
