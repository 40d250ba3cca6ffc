#!/bin/bash
# Fails when the shipped sources call a function with a safer replacement in this project:
# unbounded copies and formats (snprintf, memcpy with a checked length, asprintf instead),
# number parsing that cannot report errors (strtol, strtoul instead), hidden state (strtok_r),
# and randomness that is not RAND_bytes. Like git's banned.h, but a grep: a macro header
# would have to come after every system header, which nothing here guarantees.
set -u
cd "$(dirname "$0")/../.."
banned='strcpy|strcat|strncpy|strncat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|rand|srand|random|drand48'
dirs=(envcryptfs kms fsck.envcryptfs mkfs.envcryptfs)
# Strip comments and string literals first, so that prose and messages may name them.
hits=$(for f in $(find "${dirs[@]}" -name '*.[ch]'); do
  sed -e 's://.*$::' -e 's:/\*.*\*/::g' -e 's:"\([^"\\]\|\\.\)*":"":g' "$f" |
    grep -nE "(^|[^A-Za-z0-9_.>])($banned)[[:space:]]*\(" | sed "s|^|$f:|"
done)
if [ -n "$hits" ]; then
  printf '%s\n' "$hits" >&2
  echo "banned functions called above (see tests/lint/banned.sh for the replacements)" >&2
  exit 1
fi
echo "no banned functions in the shipped sources"
