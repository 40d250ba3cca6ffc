#!/bin/bash
# Key material in the memory of a running daemon. Two volumes are mounted: aes-256-gcm unlocked
# through envcryptfs-kmsd (TLS, a token file), aes-256-xts unlocked by a key file. Files are
# written, read and closed on both. Then, for each daemon:
#
#  1. gdb's gcore dumps the running daemon (as root, which may ptrace it although it is not
#     dumpable). gcore leaves out mappings marked MADV_DONTDUMP (it reads the "dd" flag from
#     /proc/PID/smaps), as the kernel does. The core must hold none of: the DEK, any subkey
#     (and each half of the two-key ones: the start of an AES key schedule is its key),
#     the per-file keys and their GCM hash keys, the KMS token, the DEK in base64 (what the
#     KMS decrypt response carried). The core must hold the mount point's path: it is a real
#     dump of that process.
#  2. /proc/PID/mem is read in full, DONTDUMP regions included: every secret found must lie in
#     a DONTDUMP region (locked, wiped on free), and the per-file keys must be found nowhere:
#     every file is closed, so its key and key schedule are wiped. The DEK must be found (it
#     is held for the life of the mount): the search itself works.
#
# The check 2 is the meaningful one (a core may be written by other means than gcore); the
# check 1 is what an administrator's gcore of the daemon would show.
#
# A lazily bound call goes through ld.so's resolver, which saves the vector registers on the
# stack, where a per-file key the cipher had just used stayed (found here in about one run in
# three before the programs were linked with -z now): the daemon must bind every symbol at load.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"

PROBE=$ECFS_BIN/tools/keyprobe
[ -x "$PROBE" ] || skip "$PROBE not built"
command -v gcore >/dev/null || skip "gcore (gdb) not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[ "$(id -u)" = 0 ] || skip "needs root (to read a non-dumpable daemon's memory)"
# Under AddressSanitizer (make check) its shadow and heap would make a core of gigabytes: the
# check 1 is left to the release build, and the check 2 passes over ASan's shadow mappings
# (over a gigabyte each). ASan's quarantine keeps freed memory as it was for a while, so a
# secret freed without a wipe is found there too.
asan=false
ldd "$ECFS" | in_output libasan && asan=true
command -v readelf >/dev/null || skip "readelf (binutils) not installed"
readelf -d "$ECFS" | in_output 'BIND_NOW' || fail "$ECFS binds symbols lazily (link it with -z now)"

cat >"$T/scan.py" <<'PY'
import base64, mmap, re, sys

def secrets(path):
    out = {}
    for line in open(path):
        name, hexval = line.split()
        out[name] = bytes.fromhex(hexval)
        if name == "dek":  # a KMS carries it in base64 (padding dropped: it may be split)
            out["dek-base64"] = base64.b64encode(out[name]).rstrip(b"=")
    return out

def regions(pid):
    cur = None
    for line in open(f"/proc/{pid}/smaps"):
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
        if m:
            if cur:
                yield cur
            cur = [int(m[1], 16), int(m[2], 16), m[3], m[4], False]
        elif line.startswith("VmFlags:"):
            cur[4] = " dd" in line + " "
    if cur:
        yield cur

def scan_mem(pid, sec):
    hits = []
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for lo, hi, perms, path, dd in regions(pid):
            if "r" not in perms or path == "[vvar]" or hi - lo > (1 << 30):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            for name, val in sec.items():
                at = data.find(val)
                if at >= 0:
                    # What surrounds a hit tells where the copy came from.
                    around = data[max(0, at - 48):at + len(val) + 16] if not dd else b""
                    hits.append((name, dd, f"{lo:x}-{hi:x} {path} {around!r}"))
    return hits

mode, target, secfile = sys.argv[1:4]
sec = secrets(secfile)
if mode == "core":
    f = open(target, "rb")
    data = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    marker = sys.argv[4].encode()
    if data.find(marker) < 0:
        print(f"CORE-BROKEN the core lacks {marker!r}")
    for name, val in sec.items():
        if data.find(val) >= 0:
            print(f"FOUND {name}")
else:
    for name, dd, where in scan_mem(int(target), sec):
        print(f"{'DONTDUMP' if dd else 'DUMPED'} {name} {where}")
PY

kms_setup
gvol=$T/gvol gmnt=$T/gmnt xvol=$T/xvol xmnt=$T/xmnt
newkey "$T/gkey"
newkey "$T/xkey"
kms_vol "$gvol" secmem --cipher aes-256-gcm --key-file "$T/gkey"
make_vol "$xvol" "$T/xkey" aes-256-xts 4096

note "mount: the GCM volume through the KMS, the XTS volume with its key file"
register_mount "$gmnt"
expect_exit 0 "$ECFS" "$gvol" "$gmnt" -o "$KMS_O" </dev/null
mount_vol "$xvol" "$xmnt" "key_file=$T/xkey"

note "I/O: files written, read back and closed"
for mnt in "$gmnt" "$xmnt"; do
  mkdir "$mnt/dir"
  for i in 1 2 3; do
    head -c $((100000 * i + 7)) /dev/urandom >"$T/data$i"
    cp "$T/data$i" "$mnt/dir/file$i"
  done
  echo small >"$mnt/small"
  ln -s "dir/file1" "$mnt/link"
  sync
  for i in 1 2 3; do cmp "$T/data$i" "$mnt/dir/file$i" || fail "$mnt/dir/file$i differs"; done
  ls -lR "$mnt" >/dev/null
done

note "the secrets: every key of both volumes, the per-file keys, the token"
mapfile -t gblobs < <(find "$gvol" -type f)
"$PROBE" "$gvol" "$T/gkey" "${gblobs[@]}" >"$T/gsecrets" || fail "keyprobe failed on $gvol"
"$PROBE" "$xvol" "$T/xkey" >"$T/xsecrets" || fail "keyprobe failed on $xvol"
grep -q '^file-key:' "$T/gsecrets" || fail "keyprobe found no per-file key in $gvol"
printf 'token %s\n' "$(tr -d '\n' <"$TOKEN_FILE" | od -An -tx1 | tr -d ' \n')" >>"$T/gsecrets"

failures=0
# check_daemon MNT SECRETS: the two checks above for the daemon serving MNT.
check_daemon() {
  local mnt=$1 sec=$2 pid i found
  pid=$(daemon_pid "$mnt")
  [ -n "$pid" ] || fail "no daemon for $mnt"

  if ! $asan; then
    rm -f "$T/core.$pid"
    gcore -o "$T/core" "$pid" >"$T/gcore.log" 2>&1 || { cat "$T/gcore.log" >&2; fail "gcore $pid failed"; }
    [ -s "$T/core.$pid" ] || fail "gcore wrote no core for $pid"
    found=$(python3 "$T/scan.py" core "$T/core.$pid" "$sec" "$mnt")
    rm -f "$T/core.$pid"
    if [ -n "$found" ]; then
      echo "$found" | sed "s|^|# core of the daemon for $mnt: |"
      failures=$((failures + 1))
    fi
  fi

  # The kernel sends the last RELEASE of a file after close() returns: give it time.
  for ((i = 0; i < 40; i++)); do
    python3 "$T/scan.py" mem "$pid" "$sec" >"$T/mem" || fail "cannot read the memory of $pid"
    grep -q ' file-' "$T/mem" || break
    sleep 0.25
  done
  grep -q '^DONTDUMP dek ' "$T/mem" || { cat "$T/mem" >&2; fail "the DEK is not found in memory: the search is broken"; }
  if grep -e '^DUMPED ' -e ' file-' "$T/mem" >"$T/bad"; then
    sed "s|^|# memory of the daemon for $mnt: |" "$T/bad"
    failures=$((failures + 1))
  fi
}

note "the daemon of the GCM (KMS) volume"
check_daemon "$gmnt" "$T/gsecrets"
note "the daemon of the XTS volume"
check_daemon "$xmnt" "$T/xsecrets"
[ "$failures" -eq 0 ] || fail "key material outside locked, non-dumpable memory (above)"

umount_wait "$gmnt"
umount_wait "$xmnt"
