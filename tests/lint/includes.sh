#!/bin/bash
# The module boundaries the compiler cannot see. Which headers each part may include is
# enforced by the build, which gives each directory only the include paths it may use
# (Makefile, INC_*); this catches the ways around that:
#  - a quoted include with a path ("../client/client.h" reaches any header);
#  - a function declared by hand in a .c file instead of once in a header (a changed
#    signature would then still link);
#  - the utilities (envcryptfs/util) including anything but their own header, and the public
#    headers including a private one.
set -u
cd "$(dirname "$0")/../.."
shipped=(envcryptfs kms fsck.envcryptfs mkfs.envcryptfs)
fail=0
report() { printf '%s\n' "$1" >&2; fail=1; }

while IFS= read -r hit; do
  report "$hit: include by path; use the include paths the Makefile gives this directory"
done < <(grep -rn --include='*.[ch]' -E '^#[[:space:]]*include[[:space:]]+"[^"]*/' "${shipped[@]}" tests)

# "type name(args);" at the start of a line of a .c file, not static: a hand declaration.
while IFS= read -r hit; do
  report "$hit: a function declared in a .c file; declare it once in a header"
done < <(grep -rn --include='*.c' -E '^[a-z][a-z0-9_ *]*[ *]ecfs_[a-z0-9_]+\([^;{]*\);$' "${shipped[@]}" |
  grep -v ':static ')

while IFS= read -r hit; do
  report "$hit: the utilities include only ecfs_util.h and system headers"
done < <(grep -rn -E '^#[[:space:]]*include[[:space:]]+"' envcryptfs/util | grep -v '"ecfs_util.h"')

while IFS= read -r hit; do
  report "$hit: a public header includes a private one"
done < <(grep -n -E '^#[[:space:]]*include[[:space:]]+"' envcryptfs/include/*.h kms/include/*.h |
  grep -v -E '"(ecfs_util|envcryptfs|ecfs_kms)\.h"')

[ $fail -eq 0 ] || { echo "module boundaries crossed (see above)" >&2; exit 1; }
echo "module boundaries hold"
