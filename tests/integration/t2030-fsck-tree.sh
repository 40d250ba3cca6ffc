#!/bin/bash
# fsck.envcryptfs, passes 2 and 4: a renamed encrypted name (4), a missing directory ID (4; an
# empty directory gets a new one with -p), long-name side files (orphan removed by -p; missing
# or not matching: 4), a damaged symlink target (4), entries that are not ours (reported,
# never removed), leftovers of interrupted operations (removed by -p), and the questions on a
# terminal: a yes repairs, ^C cancels (32).
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs
[ -x "$FSCK" ] || skip "$FSCK not built"

key=$T/key
LONG=$(printf 'L%.0s' $(seq 220))

make_vol "$T/orig" "$key" aes-256-gcm 4096
mount_vol "$T/orig" "$T/mnt" "key_file=$key"
mkdir -p "$T/mnt/dir/sub" "$T/mnt/empty"
echo one >"$T/mnt/dir/one"
echo two >"$T/mnt/dir/sub/two"
echo long >"$T/mnt/$LONG"
ln -s dir/one "$T/mnt/link"
umount_wait "$T/mnt"
# entries DIR [FIND-TESTS...]: the user entries of a backing directory.
entries() { find "$1" -mindepth 1 -maxdepth 1 ! -name 'envcryptfs.*' "${@:2}"; }

expect_exit 0 fsck --key-file "$key" "$T/orig"

note "an encrypted name renamed to another valid name of the same length"
fresh name
for d in $(entries "$vol" -type d); do
  [ -n "$(entries "$d" -type d)" ] && dir=$d # the one holding sub
done
f=$(entries "$dir" -type f)
n=${f##*/}
c=${n:10:1}
[ "$c" = A ] && c=B || c=A
mv "$f" "$dir/${n:0:10}$c${n:11}"
expect_exit 4 fsck -y --key-file "$key" "$vol"
stderr_has "name does not decrypt"
expect_exit 4 fsck -n --json --key-file "$key" "$vol"
grep -q '"kind":"name-undecryptable"' "$T/stdout" || fail "JSON: $(cat "$T/stdout")"
[ -e "$dir/${n:0:10}$c${n:11}" ] || fail "-y removed the entry"
expect_exit 0 fsck "$vol" # still a well-formed name

note "a missing directory ID: 4; in an empty directory -p writes a new one"
fresh dirid
sub=$(entries "$dir" -type d)
sub=$vol/${sub#"$T"/name/}
rm -f "$sub/envcryptfs.dirid"
expect_exit 4 fsck -p --key-file "$key" "$vol"
stderr_has "/dir/sub: directory ID file is missing: the names in it cannot be decrypted"
expect_exit 4 fsck -p "$vol"
fresh dirid2
for d in $(entries "$vol" -type d); do
  [ -z "$(entries "$d")" ] && rm "$d/envcryptfs.dirid"
done
expect_exit 1 fsck -p --key-file "$key" "$vol"
stderr_has "/empty: directory ID file is missing: the directory is empty; new ID written"
expect_exit 0 fsck --key-file "$key" "$vol"

note "long-name side files: an orphan is removed by -p; a missing or wrong one is 4"
fresh side
s=$(find "$vol" -name 'envcryptfs.long.*.name')
cp "$s" "$vol/envcryptfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name"
expect_exit 4 fsck -n "$vol"
stderr_has "orphaned long-name side file"
expect_exit 1 fsck -p "$vol" # needs no key
[ ! -e "$vol/envcryptfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name" ] || fail "orphan kept"
[ -e "$s" ] || fail "-p removed a side file in use"
expect_exit 0 fsck --key-file "$key" "$vol"
echo -n "x$(cat "$s")" | cut -c1-300 >"$s.new" && mv "$s.new" "$s"
expect_exit 4 fsck -y "$vol"
stderr_has "long name is lost"
rm "$s"
expect_exit 4 fsck -y --json --key-file "$key" "$vol"
grep -q '"kind":"long-side-missing"' "$T/stdout" || fail "JSON: $(cat "$T/stdout")"

note "a symlink target that does not decrypt"
fresh link
l=$(find "$vol" -maxdepth 1 -type l)
t=$(readlink "$l")
c=${t:5:1}
[ "$c" = A ] && c=B || c=A
ln -sfn "${t:0:5}$c${t:6}" "$l"
expect_exit 4 fsck --key-file "$key" "$vol"
stderr_has "/link: symbolic link target does not decrypt"

note "leftovers are removed by -p; entries that are not ours never are"
fresh left
echo junk >"$vol/envcryptfs.tmp.0011223344556677"
dir=$vol/${dir#"$T"/name/}
echo 0123456789abcdef >"$dir/envcryptfs.tmp.8899aabbccddeeff"
mkdir "$vol/envcryptfs.tmp.aaaaaaaaaaaaaaaa"
head -c 16 /dev/urandom >"$vol/envcryptfs.tmp.aaaaaaaaaaaaaaaa/envcryptfs.dirid"
mkdir "$vol/envcryptfs.tmp.bbbbbbbbbbbbbbbb"
echo precious >"$vol/envcryptfs.tmp.bbbbbbbbbbbbbbbb/precious"
echo mine >"$vol/not-ours.txt"
expect_exit 4 fsck -n --key-file "$key" "$vol"
stderr_has "temporary file of an interrupted update"
stderr_has "temporary directory of an interrupted mkdir"
stderr_has "not-ours.txt: entry is not part of the volume"
expect_exit 5 fsck -p --key-file "$key" "$vol"
[ ! -e "$vol/envcryptfs.tmp.0011223344556677" ] || fail "tmp file kept"
[ ! -e "$dir/envcryptfs.tmp.8899aabbccddeeff" ] || fail "tmp file in a subdirectory kept"
[ ! -e "$vol/envcryptfs.tmp.aaaaaaaaaaaaaaaa" ] || fail "tmp directory kept"
[ -e "$vol/envcryptfs.tmp.bbbbbbbbbbbbbbbb/precious" ] || fail "a tmp directory with data removed"
[ -e "$vol/not-ours.txt" ] || fail "an entry that is not ours was removed"
expect_exit 4 fsck -y --key-file "$key" "$vol"
[ -e "$vol/not-ours.txt" ] || fail "-y removed an entry that is not ours"
rm -r "$vol/not-ours.txt" "$vol/envcryptfs.tmp.bbbbbbbbbbbbbbbb"
expect_exit 0 fsck --key-file "$key" "$vol"
mount_vol "$vol" "$T/mnt" "key_file=$key"
[ "$(cat "$T/mnt/dir/sub/two")" = two ] || fail "the repaired volume does not read"
umount_wait "$T/mnt"

note "on a terminal: a yes repairs; ^C at a question cancels (32 + 4)"
# on_tty INPUT-FIFO OUTPUT ARGS...: runs fsck on a pseudo-terminal in the background.
on_tty() {
  local in=$1 out=$2
  shift 2
  script -qefc "$(printf '%q ' "$FSCK" "$@")" /dev/null <"$in" >"$out" 2>&1 &
}
# wait_for FILE TEXT: waits (20 s at most) until FILE holds TEXT.
wait_for() {
  local i
  for ((i = 0; i < HANG_SECS * 10; i++)); do
    grep -q -- "$2" "$1" && return 0
    sleep 0.1
  done
  fail "no '$2' in $(cat "$1")"
}
fresh tty
echo junk >"$vol/envcryptfs.tmp.0011223344556677"
echo junk >"$vol/envcryptfs.tmp.1111111111111111"
mkfifo "$T/in"
on_tty "$T/in" "$T/out" --key-file "$key" "$vol"
pid=$!
exec 3>"$T/in"
wait_for "$T/out" 'Remove it? \[y/n\]'
printf 'y\ny\n' >&3
wait_exit $pid
exec 3>&-
[ "$WAIT_RC" -eq 1 ] || fail "fsck on a terminal answered yes exited $WAIT_RC: $(cat "$T/out")"
[ ! -e "$vol/envcryptfs.tmp.0011223344556677" ] || fail "a yes did not remove it"
echo junk >"$vol/envcryptfs.tmp.0011223344556677"
on_tty "$T/in" "$T/out" --key-file "$key" "$vol"
pid=$!
exec 3>"$T/in"
wait_for "$T/out" 'Remove it? \[y/n\]'
printf '\003' >&3
wait_exit $pid
exec 3>&-
[ "$WAIT_RC" -eq 36 ] || fail "^C at a question exited $WAIT_RC: $(cat "$T/out")"
[ -e "$vol/envcryptfs.tmp.0011223344556677" ] || fail "a cancelled question removed the file"
