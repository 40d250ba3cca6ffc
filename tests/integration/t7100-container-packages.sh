#!/bin/bash
# deploy/container/Containerfile stays in step with the build: its build stage installs
# exactly the [build] packages of .ci/packages; its runtime stage installs the package of
# every shared library the tools link (taken from the built tools: their DT_NEEDED entries,
# resolved by ldd and dpkg -S), besides the base image's own, and nothing else but fuse3 and
# ca-certificates; and it copies the tools that `make install` put in sbin to a directory
# on the default PATH.
. "$ECFS_TESTS/lib.sh"
need_progs
command -v python3 >/dev/null || skip "python3 not installed"
command -v dpkg >/dev/null || skip "not a Debian system (dpkg missing)"
command -v objdump >/dev/null || skip "objdump (binutils) not installed"

top=$(cd "$ECFS_TESTS/../.." && pwd)
cf=$top/deploy/container/Containerfile
cfpy=$top/tests/deploy/containerfile.py
[ -f "$cf" ] || fail "no $cf"

note "the build stage installs the [build] packages of .ci/packages"
awk '/^# \[/ {sec = $2} !/^#/ && sec == "[build]" {for (i = 1; i <= NF; i++) print $i}' \
  "$top/.ci/packages" | sort -u >"$T/ci-build"
[ -s "$T/ci-build" ] || fail ".ci/packages has no [build] group"
python3 "$cfpy" packages "$cf" build | sort -u >"$T/cf-build"
diff -u "$T/ci-build" "$T/cf-build" >&2 ||
  fail "the Containerfile's build stage (+) and .ci/packages [build] (-) differ"

note "the runtime stage installs the package of every library the tools link"
python3 "$cfpy" packages "$cf" runtime | sort -u >"$T/cf-runtime"
[ -s "$T/cf-runtime" ] || fail "the Containerfile's runtime stage installs nothing"
progs=()
for f in "$ECFS_BIN"/*; do [ -f "$f" ] && [ -x "$f" ] && progs+=("$f"); done
[ ${#progs[@]} -ge 4 ] || fail "found only ${#progs[@]} tools in $ECFS_BIN"
: >"$T/needed"
for f in "${progs[@]}"; do
  ldd "$f" >"$T/ldd" || fail "ldd $f failed"
  for lib in $(objdump -p "$f" | awk '$1 == "NEEDED" {print $2}'); do
    case $lib in libasan.so* | libubsan.so* | ld-linux*) continue ;; esac # the test build's
    path=$(awk -v l="$lib" '$1 == l && $2 == "=>" {print $3}' "$T/ldd")
    [ -n "$path" ] || fail "ldd $f does not resolve $lib"
    echo "$path $lib $(basename "$f")" >>"$T/needed"
  done
done
# One dpkg -S for all the libraries (it reads the whole file list each time), under both
# names of a merged /usr; missing names are checked below.
mapfile -t paths < <(awk '{print $1; print "/usr" $1}' "$T/needed" | sed 's,^/usr/usr/,/usr/,' | sort -u)
dpkg -S "${paths[@]}" >"$T/owners" 2>/dev/null || true
while read -r path lib prog; do
  pkg=$(awk -v p="$path" -v u="/usr$path" '$2 == p || $2 == u {sub(/:.*/, "", $1); print $1; exit}' "$T/owners")
  [ -n "$pkg" ] || fail "no Debian package holds $path ($lib, linked by $prog)"
  echo "$pkg $lib $prog"
done <"$T/needed" | sort -u >"$T/linked"
# debian:12-slim holds the Essential and required packages and what they depend on (libc6
# and the like).
dpkg-query -W -f='${Package}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}\n' |
  awk -F'\t' '$2 == "yes" || tolower($3) == "required" {
    print $1; n = split($4, d, /[,|]/)
    for (i = 1; i <= n; i++) { x = d[i]; gsub(/\([^)]*\)|:any| /, "", x); if (x != "") print x } }' |
  sort -u >"$T/base-image"
base=()
while read -r pkg lib prog; do
  grep -qx "$pkg" "$T/cf-runtime" && continue
  grep -qx "$pkg" "$T/base-image" ||
    fail "$prog links $lib from $pkg, which the Containerfile's runtime stage does not install"
  base+=("$pkg")
done <"$T/linked"
note "from the base image: $(printf '%s\n' "${base[@]:-}" | sort -u | tr '\n' ' ')"

note "the runtime stage installs nothing else but fuse3, ca-certificates and a TCTI module"
# fuse3: fusermount3 (the manifests' preStop, and unprivileged mounting); ca-certificates:
# the KMS's TLS is checked against them; libtss2-tcti-device0: the module that libtss2-tctildr
# loads at run time for the default TPM, device:/dev/tpmrm0.
while read -r pkg; do
  case $pkg in fuse3 | ca-certificates | libtss2-tcti-device0) continue ;; esac
  awk '{print $1}' "$T/linked" | in_output -x "$pkg" ||
    fail "the runtime stage installs $pkg, which no tool links (drop it, or say here why it is needed)"
done <"$T/cf-runtime"

note "the tools reach a directory on the default PATH"
grep -q 'make install DESTDIR=/out PREFIX=/usr/local' "$cf" ||
  fail "the build stage does not run make install DESTDIR=/out PREFIX=/usr/local"
python3 "$cfpy" copies "$cf" | in_output -x '/out/usr/local/sbin/ /usr/local/sbin/' ||
  fail "the runtime stage does not copy /out/usr/local/sbin/ to /usr/local/sbin/"
