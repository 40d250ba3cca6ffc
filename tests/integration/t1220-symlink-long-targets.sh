#!/bin/bash
# Symbolic link targets of every length tmpfs accepts (1 to 4095 bytes) read back exactly;
# targets too long for a backing symlink live in a side file at the volume root that hard
# links share, unlink and rename keep right, fsck checks (a missing one is reported, an
# orphan removed by -p), and that holds no plaintext. 4096 bytes fail with ENAMETOOLONG.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

vol=$T/vol
mnt=$T/mnt
key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096

# target LEN: a path-like target of LEN bytes, a '/' every 100, with a marker to search for.
target() { local s; s=$(printf 'PLAINMARK%0*d' $(($1 > 9 ? $1 - 9 : 0)) 0 | tr 0 q); s=${s:0:$1}; echo "$s" | sed 's/\(.\{99\}\)./\1\//g'; }
sides() { find "$vol" -maxdepth 1 -name 'envcryptfs.target.*' | wc -l; }

# Lengths around each boundary: the longest target stored inline is 3039 bytes.
lens=(1 2 3 4 15 16 17 100 1000 2000 3036 3037 3038 3039 3040 3041 3042 4000 4093 4094 4095)
ref=$T/tmpfs
register_mount "$ref"
mount -t tmpfs -o size=8m tmpfs "$ref" || fail "cannot mount a tmpfs"
mount_vol "$vol" "$mnt" "key_file=$key"
mkdir "$mnt/d"

note "every length from 1 to 4095 at the boundaries: readlink and lstat exact"
nlong=0
for n in "${lens[@]}"; do
  t=$(target "$n")
  [ ${#t} -eq "$n" ] || fail "test bug: target of ${#t} bytes, wanted $n"
  ln -s "$t" "$ref/l$n" || fail "tmpfs refuses a $n-byte target: the test is wrong"
  ln -s "$t" "$mnt/d/l$n" || fail "symlink with a $n-byte target failed"
  [ "$(readlink "$mnt/d/l$n")" = "$t" ] || fail "readlink of the $n-byte target differs"
  [ "$(stat -c %s "$mnt/d/l$n")" -eq "$n" ] || fail "lstat size of the $n-byte link: $(stat -c %s "$mnt/d/l$n")"
  [ "$n" -gt 3039 ] && nlong=$((nlong + 1))
done
[ "$(sides)" -eq "$nlong" ] || fail "$(sides) side files for $nlong long targets"
t4096=$(target 4096)
expect_exit 1 ln -s "$t4096" "$mnt/d/l4096"
stderr_has "File name too long"

note "no plaintext target in the backing directory"
! grep -rqa PLAINMARK "$vol" || fail "a target's plaintext is in the backing directory"

note "hard links share the side file; it goes with the last one"
t=$(target 4095)
ln -P "$mnt/d/l4095" "$mnt/hard" || fail "hard link to a long symlink failed"
[ "$(readlink "$mnt/hard")" = "$t" ] || fail "the hard link reads differently"
rm "$mnt/d/l4095"
[ "$(readlink "$mnt/hard")" = "$t" ] || fail "the hard link lost its target with the other name"
[ "$(sides)" -eq "$nlong" ] || fail "the side file went while a link remained"
rm "$mnt/hard"
[ "$(sides)" -eq $((nlong - 1)) ] || fail "the side file stayed after the last link"
nlong=$((nlong - 1))

note "rename keeps the target; a long symlink replaced by a rename takes its side file along"
mkdir "$mnt/e"
mv "$mnt/d/l4094" "$mnt/e/moved"
[ "$(readlink "$mnt/e/moved")" = "$(target 4094)" ] || fail "a moved long symlink reads differently"
echo data >"$mnt/e/file"
mv "$mnt/e/file" "$mnt/e/moved"
[ "$(cat "$mnt/e/moved")" = data ] || fail "the rename over the long symlink did not land"
[ "$(sides)" -eq $((nlong - 1)) ] || fail "the replaced long symlink's side file stayed"
nlong=$((nlong - 1))
ln -s "$(target 4000)" "$mnt/e/a"
ln -s "$(target 3500)" "$mnt/e/b"
mv -T "$mnt/e/a" "$mnt/e/b"
[ "$(readlink "$mnt/e/b")" = "$(target 4000)" ] || fail "a long symlink renamed over another reads wrong"
[ "$(sides)" -eq $((nlong + 1)) ] || fail "long symlink over long symlink: $(sides) side files, expected $((nlong + 1))"
nlong=$((nlong + 1))
rm "$mnt/e/b"
nlong=$((nlong - 1))

note "after a remount every target reads back"
remount "$vol" "$mnt" "key_file=$key"
for n in "${lens[@]}"; do
  [ "$n" = 4094 ] || [ "$n" = 4095 ] && continue
  [ "$(readlink "$mnt/d/l$n")" = "$(target "$n")" ] || fail "after the remount the $n-byte target differs"
done
umount_wait "$mnt"

note "fsck: clean; a missing side file is reported; an orphan is removed by -p"
expect_exit 0 "$FSCK" -n --key-file "$key" "$vol"
expect_exit 0 "$FSCK" -n --no-key "$vol"
side=$(find "$vol" -maxdepth 1 -name 'envcryptfs.target.*' | head -n 1)
mv "$side" "$T/saved-side"
expect_exit 4 "$FSCK" -n --key-file "$key" "$vol"
stderr_has "symbolic link target is lost"
mount_vol "$vol" "$mnt" "key_file=$key"
bad=
for n in "${lens[@]}"; do
  [ "$n" -gt 3039 ] && [ "$n" -lt 4094 ] || continue
  readlink -v "$mnt/d/l$n" >/dev/null 2>"$T/stderr" || { bad=$n; break; }
done
[ -n "$bad" ] || fail "every long symlink still reads with a side file gone"
stderr_has "Input/output error"
umount_wait "$mnt"
mv "$T/saved-side" "$side"
expect_exit 0 "$FSCK" -n --key-file "$key" "$vol"
# An orphan: the backing symlink goes, its side file stays (a remove that stopped half-way).
for l in "$vol"/*/*; do
  [ -L "$l" ] && [ "$(readlink "$l")" = "$(basename "$side")" ] && rm "$l"
done
expect_exit 4 "$FSCK" -n --key-file "$key" "$vol"
stderr_has "orphaned symlink side file"
rc=0
"$FSCK" -p --key-file "$key" "$vol" >"$T/stdout" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$T/stdout" >&2; fail "fsck -p exited $rc, expected 1 (corrected)"; }
[ ! -e "$side" ] || fail "fsck -p left the orphaned side file"
expect_exit 0 "$FSCK" -n --key-file "$key" "$vol"
