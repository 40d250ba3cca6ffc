#!/bin/bash
# envcryptfsctl status --prometheus: the text exposition format, checked by a parser (every
# sample has its HELP and TYPE, well-formed labels naming the mount point and UUID, a number);
# the counters move with reads, writes and an authentication failure; a KMS-unlocked mount
# adds its KMS's reachability, key version and last rewrap.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t4500-kms.inc"
command -v python3 >/dev/null || skip "python3 not installed"

# metrics.py FILE MNT UUID: parses FILE, checks its form, prints "name value" lines.
cat >"$T/metrics.py" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
mnt, uuid = sys.argv[2], sys.argv[3]
helps, types, seen = {}, {}, {}
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\} (\S+)$')
label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
assert text.endswith("\n"), "no final newline"
for line in text.splitlines():
    if line.startswith("# HELP "):
        name, h = line[7:].split(" ", 1)
        assert name not in helps, "HELP twice for " + name
        helps[name] = h
    elif line.startswith("# TYPE "):
        name, t = line[7:].split(" ")
        assert t in ("counter", "gauge"), line
        types[name] = t
    else:
        m = sample.match(line)
        assert m, "not a sample: %r" % line
        name = m.group(1)
        assert name in helps and name in types, "no HELP or TYPE before " + name
        assert name not in seen, "two samples of " + name
        labels = dict(label.findall(m.group(2)))
        assert labels == {"mountpoint": mnt, "uuid": uuid}, labels
        if types[name] == "counter":
            assert name.endswith("_total"), name
        seen[name] = float(m.group(3))
for n, v in sorted(seen.items()):
    print(n, int(v))
PY
# metric NAME: the value of NAME in $T/metrics.
metric() { awk -v n="$1" '$1 == n {print $2; f = 1} END {exit !f}' "$T/metrics"; }
prom() {
  expect_exit 0 "$CTL" status "$1" --prometheus --timeout 30
  python3 "$T/metrics.py" "$T/stdout" "$1" "$2" >"$T/metrics" ||
    { cat "$T/stdout" >&2; fail "status --prometheus does not parse"; }
}

note "a key-file mount: up, bytes, operations, authentication failures, KEK generation"
key=$T/key
vol=$T/vol
mnt=$T/mnt
make_vol "$vol" "$key" aes-256-gcm 4096
uuid=$("$CTL" info "$vol" | sed -n 's/^UUID: //p')
mount_vol "$vol" "$mnt" "key_file=$key"
expect_exit 2 "$CTL" status "$mnt" --prometheus --json
prom "$mnt" "$uuid"
[ "$(metric envcryptfs_up)" = 1 ] || fail "envcryptfs_up is not 1"
[ "$(metric envcryptfs_kek_generation)" = 1 ] || fail "KEK generation is not 1"
[ "$(metric envcryptfs_authentication_failures_total)" = 0 ] || fail "failures before any damage"
! metric envcryptfs_kms_reachable >/dev/null || fail "KMS metrics for a key-file mount"
w0=$(metric envcryptfs_written_bytes_total)
head -c 100000 /dev/urandom >"$T/data"
cp "$T/data" "$mnt/data"
echo small >"$mnt/victim"
sync "$mnt/data"
cmp "$T/data" "$mnt/data" >/dev/null
prom "$mnt" "$uuid"
[ "$(metric envcryptfs_written_bytes_total)" -ge $((w0 + 100000)) ] || fail "bytes written did not grow by 100000"
[ "$(metric envcryptfs_write_operations_total)" -ge 1 ] || fail "no write operations counted"
[ "$(metric envcryptfs_read_bytes_total)" -ge 0 ] || fail "no bytes read counter"
started=$(metric envcryptfs_start_time_seconds)
[ $((started - $(date +%s))) -le 5 ] && [ $(($(date +%s) - started)) -le 3600 ] ||
  fail "start time $started is not about now"
umount_wait "$mnt"
# A damaged chunk: the last byte of the small file's blob (a tag byte, whatever the layout).
small=$(find "$vol" -maxdepth 1 -type f ! -name 'envcryptfs.*' -printf '%s %p\n' | sort -n |
  head -n 1 | cut -d' ' -f2-)
[ -f "$small" ] || fail "cannot tell the small file's blob"
size=$(stat -c %s "$small")
printf '\x55' | dd of="$small" bs=1 seek=$((size - 1)) conv=notrunc status=none
mount_vol "$vol" "$mnt" "key_file=$key"
! cat "$mnt/victim" >/dev/null 2>&1 || fail "the damaged file read"
prom "$mnt" "$uuid"
[ "$(metric envcryptfs_authentication_failures_total)" -ge 1 ] || fail "the failure was not counted"
cat "$mnt/data" >/dev/null
prom "$mnt" "$uuid"
[ "$(metric envcryptfs_read_bytes_total)" -ge 100000 ] || fail "bytes read did not count the read"
[ "$(metric envcryptfs_read_operations_total)" -ge 1 ] || fail "no read operations counted"
umount_wait "$mnt"

note "a KMS-unlocked mount: reachability, key version, last rewrap"
kms_setup
kvol=$T/kvol
kmnt=$T/kmnt
kms_vol "$kvol" vol1
kuuid=$("$CTL" info "$kvol" | sed -n 's/^UUID: //p')
register_mount "$kmnt"
expect_exit 0 "$ECFS" "$kvol" "$kmnt" -o "$KMS_O" </dev/null
prom "$kmnt" "$kuuid"
[ "$(metric envcryptfs_kms_reachable)" = 1 ] || fail "the KMS is not reachable"
[ "$(metric envcryptfs_kms_key_version)" = 1 ] || fail "the KMS key version is not 1"
[ "$(metric envcryptfs_kms_rewrap_failing)" = 0 ] || fail "a rewrap failure without a rewrap"
metric envcryptfs_kms_last_rewrap_timestamp_seconds >/dev/null || fail "no last rewrap metric"
umount_wait "$kmnt"
kms_stop
