#!/bin/bash
# Fails when a manual page renders with warnings on an 80-column terminal (a table wider than
# the line, a bad request): what a reader of `man` would see as a broken page.
set -u
cd "$(dirname "$0")/../.."
command -v man >/dev/null || { echo "man is not installed: manual pages not checked"; exit 0; }
bad=0
for page in man/*.[1-8]; do
  out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  if [ -n "$out" ]; then
    printf '%s:\n%s\n' "$page" "$out" >&2
    bad=1
  fi
done
[ "$bad" = 0 ] || { echo "manual pages render with warnings (see above)" >&2; exit 1; }
echo "manual pages render without warnings"
