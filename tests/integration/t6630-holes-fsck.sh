#!/bin/bash
# fsck.envcryptfs on format 2: a link file or holes map at the root that no file claims (its
# file removed, or a crash before the header named it) is reported (exit 4 with -n) and
# removed by -p (exit 1), leaving the ones files claim; the files still read back after.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

CS=4096
key=$T/key
mnt=$T/mnt
vol=$T/vol
sidecars() { find "$vol" -maxdepth 1 -name "envcryptfs.$1.*" | sort; }
nmaps() { sidecars holes | wc -l; }
nlinks() { sidecars links | wc -l; }

make_vol "$vol" "$key" aes-256-gcm $CS --format-version 2
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log"
head -c $CS /dev/urandom >"$T/data"
for f in keep gone; do cp "$T/data" "$mnt/$f" && truncate -s $((4 * CS)) "$mnt/$f"; done
for f in keepl gonel; do cp "$T/data" "$mnt/$f" && ln "$mnt/$f" "$mnt/$f.2"; done
[ "$(sidecars holes | wc -l)" -eq 2 ] || fail "expected two holes maps"
[ "$(sidecars links | wc -l)" -eq 2 ] || fail "expected two link files"
mkdir "$T/saved"
cp -p $(sidecars holes) $(sidecars links) "$T/saved/"
rm "$mnt/gone" "$mnt/gonel" "$mnt/gonel.2"
settles 1 nmaps || fail "removing a sparse file left its holes map"
settles 1 nlinks || fail "removing a file's last name left its link file"
umount_fg "$mnt"
expect_exit 0 fsck -n --key-file "$key" "$vol"

note "leftovers are reported, and removed by -p"
cp -p "$T"/saved/envcryptfs.* "$vol/"
expect_exit 4 fsck -n --key-file "$key" "$vol"
stderr_has "holes map is a leftover"
stderr_has "link file is a leftover"
[ "$(grep -c "is a leftover" "$T/stderr")" -eq 2 ] || fail "expected exactly two leftovers"
expect_exit 0 fsck -n "$vol" # without a key no header says what it claims
expect_exit 1 fsck -p --key-file "$key" "$vol"
[ "$(sidecars holes | wc -l)" -eq 1 ] || fail "-p did not remove the leftover holes map alone"
[ "$(sidecars links | wc -l)" -eq 1 ] || fail "-p did not remove the leftover link file alone"
expect_exit 0 fsck -n --key-file "$key" "$vol"
mount_fg "$vol" "$mnt" "key_file=$key" "$T/log2"
{ cat "$T/data"; head -c $((3 * CS)) /dev/zero; } | cmp - "$mnt/keep" || fail "keep reads back wrong"
cmp "$T/data" "$mnt/keepl.2" || fail "keepl.2 reads back wrong"
umount_fg "$mnt"
log_clean "$T/log"
log_clean "$T/log2"
