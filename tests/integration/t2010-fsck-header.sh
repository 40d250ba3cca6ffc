#!/bin/bash
# fsck.envcryptfs, pass 1: a damaged header copy is rebuilt from the good one (-p, with the key),
# a MAC that fails in one copy too; damage in both copies cannot be repaired: a damaged wrapped
# DEK or canary with valid checksums looks like a wrong key (8), damage that breaks both
# checksums leaves no usable header (4).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

key=$T/key

# edit_json FILE NAME: changes the first base64 character of the JSON string member NAME.
edit_json() {
  local off c
  off=$(grep -abo "\"$2\":\"" "$1" | head -n 1 | cut -d: -f1)
  [ -n "$off" ] || fail "no \"$2\" in $1"
  off=$((off + ${#2} + 4))
  c=$(dd if="$1" bs=1 skip="$off" count=1 status=none)
  [ "$c" = A ] && c=B || c=A
  printf %s "$c" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}

make_vol "$T/orig" "$key" aes-256-gcm 4096
mount_vol "$T/orig" "$T/mnt" "key_file=$key"
mkdir "$T/mnt/dir"
head -c 10000 /dev/urandom >"$T/mnt/dir/file"
umount_wait "$T/mnt"

note "primary's prefix damaged: -n and no key report it (4), -p rebuilds it (1), then 0"
fresh prefix
flip_byte "$vol/envcryptfs.header" 16
expect_exit 4 fsck -n --key-file "$key" "$vol"
stderr_has "header primary damaged"
expect_exit 4 fsck -p "$vol"
stderr_has "not repaired: needs the key"
expect_exit 4 fsck -n --json --key-file "$key" "$vol"
grep -q '"kind":"header-primary-damaged"' "$T/stdout" || fail "JSON: $(cat "$T/stdout")"
grep -q '"pass":"header"' "$T/stdout" || fail "JSON lacks the header pass"
expect_exit 1 fsck -p --key-file "$key" "$vol"
stderr_has "both copies rewritten"
expect_exit 0 fsck --key-file "$key" "$vol"
cmp -s "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" || fail "the copies differ"

note "copy missing and copy damaged: -p rebuilds it"
fresh copy
rm "$vol/envcryptfs.header.copy"
expect_exit 4 fsck -n --key-file "$key" "$vol"
stderr_has "header copy missing"
expect_exit 1 fsck -p --key-file "$key" "$vol"
expect_exit 0 fsck --key-file "$key" "$vol"
flip_byte "$vol/envcryptfs.header.copy" 200
expect_exit 1 fsck -y --key-file "$key" "$vol"
expect_exit 0 fsck --key-file "$key" "$vol"
mount_vol "$vol" "$T/mnt" "key_file=$key"
[ "$(stat -c %s "$T/mnt/dir/file")" -eq 10000 ] || fail "the repaired volume does not read"
umount_wait "$T/mnt"

note "primary's MAC fails (checksum valid): the copy is used and -p rebuilds the primary"
fresh mac
flip_byte "$vol/envcryptfs.header" 50
fix_checksum "$vol/envcryptfs.header"
expect_exit 4 fsck -n --json --key-file "$key" "$vol"
grep -q '"kind":"header-primary-mac"' "$T/stdout" || fail "JSON: $(cat "$T/stdout")"
expect_exit 1 fsck -p --key-file "$key" "$vol"
expect_exit 0 fsck --key-file "$key" "$vol"

note "a slot's wrapped DEK damaged in both copies: no slot opens (8)"
fresh dek
for h in envcryptfs.header envcryptfs.header.copy; do
  edit_json "$vol/$h" dek
  fix_checksum "$vol/$h"
done
expect_exit 0 fsck -n "$vol" # the structure is intact
expect_exit 8 fsck --key-file "$key" "$vol"
stderr_has "cannot unlock"
stderr_has "a damaged key slot or canary looks the same"

note "canary damaged in both copies: 8 with valid checksums, 4 (no usable header) without"
fresh canary
for h in envcryptfs.header envcryptfs.header.copy; do
  edit_json "$vol/$h" data
  fix_checksum "$vol/$h"
done
expect_exit 8 fsck --key-file "$key" "$vol"
stderr_has "cannot unlock"
fresh canary2
for h in envcryptfs.header envcryptfs.header.copy; do edit_json "$vol/$h" data; done
expect_exit 4 fsck --key-file "$key" "$vol"
stderr_has "both header copies are damaged"
expect_exit 4 fsck -y --json "$vol"
grep -q '"kind":"header-unusable"' "$T/stdout" || fail "JSON: $(cat "$T/stdout")"
grep -q '"uuid":null' "$T/stdout" || fail "JSON: uuid should be null: $(cat "$T/stdout")"
