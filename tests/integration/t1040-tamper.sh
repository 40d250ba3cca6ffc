#!/bin/bash
# aes-256-gcm detects tampering: a flipped byte in a stored chunk makes that chunk read as EIO
# while the other chunks still read; a changed encrypted name never shows as a garbage name;
# an all-zero stored chunk reads as zeros (the documented hole rule).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

CS=4096
STORED=$((CS + 28)) # 12-byte nonce + ciphertext + 16-byte tag
HDR=24
vol=$T/vol
mnt=$T/mnt
key=$T/key
# Format 1: its layout and its hole rule (format 2 is attacked in t6410).
make_vol "$vol" "$key" aes-256-gcm $CS --format-version 1
mount_vol "$vol" "$mnt" "key_file=$key"
head -c $((3 * CS)) /dev/urandom >"$T/data"
head -c $((3 * CS + 100)) /dev/urandom >"$T/holey"
cp "$T/data" "$mnt/data"
cp "$T/holey" "$mnt/holey"
printf 'keep\n' >"$mnt/keep"
head -c 100 /dev/zero | tr '\0' v >"$mnt/victim"
umount_wait "$mnt"

# blob_of SIZE: the one backing entry in the root that is a blob of SIZE bytes.
blob_of() {
  local f n=0 found=
  for f in "$vol"/*; do
    case ${f##*/} in envcryptfs.*) continue ;; esac
    if [ -f "$f" ] && [ "$(stat -c %s "$f")" -eq "$1" ]; then
      found=$f
      n=$((n + 1))
    fi
  done
  [ $n -eq 1 ] || fail "expected one backing blob of $1 bytes, found $n: $(ls -l "$vol")"
  echo "$found"
}

# The format: 24-byte header, then one stored chunk of chunk size + 28 bytes per chunk (the
# last one holds its length + 28).
data_blob=$(blob_of $((HDR + 3 * STORED)))
holey_blob=$(blob_of $((HDR + 3 * STORED + 100 + 28)))
keep_blob=$(blob_of $((HDR + 5 + 28)))
victim_blob=$(blob_of $((HDR + 100 + 28)))

note "flip one byte in the middle of stored chunk 1 of data"
flip_byte "$data_blob" $((HDR + STORED * 1 + 20))

note "change one character of victim's encrypted name"
vname=${victim_blob##*/}
pos=$((${#vname} / 2))
c=${vname:pos:1}
[ "$c" = A ] && nc=B || nc=A
newname=${vname:0:pos}$nc${vname:pos+1}
[ ${#newname} -eq ${#vname} ] && [ "$newname" != "$vname" ] || fail "bad name edit"
mv "$victim_blob" "$vol/$newname"

note "overwrite stored chunk 1 of holey with zeros"
dd if=/dev/zero of="$holey_blob" bs=1 seek=$((HDR + STORED)) count=$STORED conv=notrunc status=none

mount_vol "$vol" "$mnt" "key_file=$key"

# Chunk 0 and chunk 2 of data read correctly, chunk 1 gives EIO.
dd if="$mnt/data" bs=$CS skip=0 count=1 status=none of="$T/c0" 2>"$T/stderr" ||
  { cat "$T/stderr" >&2; fail "chunk 0 of the tampered file does not read"; }
cmp "$T/c0" <(head -c $CS "$T/data") || fail "chunk 0 of the tampered file reads wrong data"
expect_exit 1 dd if="$mnt/data" bs=$CS skip=1 count=1 status=none of="$T/c1"
stderr_has "Input/output error"
dd if="$mnt/data" bs=$CS skip=2 count=1 status=none of="$T/c2" 2>"$T/stderr" ||
  { cat "$T/stderr" >&2; fail "chunk 2 of the tampered file does not read"; }
cmp "$T/c2" <(tail -c $CS "$T/data") || fail "chunk 2 of the tampered file reads wrong data"
expect_exit 1 cat "$mnt/data"
stderr_has "Input/output error"
# A partial read inside the bad chunk fails too.
expect_exit 1 dd if="$mnt/data" bs=100 skip=50 count=1 status=none of=/dev/null
stderr_has "Input/output error"

# The renamed entry: absent from the listing (or the listing reports EIO), never a garbage name.
rc=0
ls -A1 "$mnt" >"$T/ls" 2>"$T/stderr" || rc=$?
if [ $rc -ne 0 ]; then
  grep -q "Input/output error" "$T/stderr" || { cat "$T/stderr" >&2; fail "ls failed ($rc)"; }
  note "ls reports EIO for the damaged entry"
  grep -vxF -e data -e holey -e keep "$T/ls" >&2 && fail "ls shows unexpected names (above)"
else
  diff <(printf '%s\n' data holey keep) <(sort "$T/ls") >&2 ||
    fail "the listing is not exactly data, holey, keep (above)"
fi
rc=0
stat "$mnt/victim" >/dev/null 2>"$T/stderr" || rc=$?
[ $rc -ne 0 ] || fail "victim still resolves after its encrypted name changed"
grep -q -e "No such file or directory" -e "Input/output error" "$T/stderr" ||
  { cat "$T/stderr" >&2; fail "stat of victim: unexpected error"; }
[ "$(cat "$mnt/keep")" = keep ] || fail "an untouched file no longer reads"
[ "$(stat -c %s "$keep_blob")" -eq $((HDR + 5 + 28)) ] || fail "reading changed an untouched blob"

# The documented hole rule: an all-zero stored chunk is a hole and reads as zeros.
cmp "$mnt/holey" <(head -c $CS "$T/holey"; head -c $CS /dev/zero; tail -c $((CS + 100)) "$T/holey") ||
  fail "holey: the zeroed stored chunk does not read as zeros, or the other chunks changed"
umount_wait "$mnt"
