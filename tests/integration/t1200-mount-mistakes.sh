#!/bin/bash
# Mount-time mistakes are refused before anything is unlocked or prompted for, each with its
# documented exit code: a mount point that is a file (5) or not empty (5, unless -o nonempty),
# an unknown option (2), no key option for a volume without a passphrase slot (2, naming the
# options that open it); a dead mount of the volume (its daemon killed) is detached and
# mounted over, any other dead mount is refused with the command to run (5). O_TMPFILE is
# not supported: EOPNOTSUPP.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
trap finish_test EXIT
need_progs

vol=$T/vol
mnt=$T/mnt
key=$T/key
make_vol "$vol" "$key" aes-256-gcm 4096
printf 'a passphrase\n' >"$T/pass"
chmod 600 "$T/pass"
chmod 600 "$T/pass"
"$MKFS" -q "${FAST_ARGON[@]}" --passphrase-file "$T/pass" "$T/vol-p" >/dev/null ||
  fail "mkfs with a passphrase file failed"
not_mounted() { ! is_mounted "$1" || fail "$1 is mounted but should not be"; }

# on_tty SECS CMD...: runs CMD on a pseudo-terminal (so that a prompt would wait for input),
# killed after SECS; its output lands in $T/stderr, its exit code in TTY_RC (124: it waited).
on_tty() {
  local secs=$1 cmd
  shift
  printf -v cmd '%q ' "$@"
  TTY_RC=0
  timeout -k 5 "$secs" script -qec "$cmd" /dev/null </dev/null >"$T/stderr" 2>&1 || TTY_RC=$?
}

note "a mount point that is a regular file: exit 5, nothing mounted"
echo "a file" >"$T/file"
MOUNTS+=("$T/file")
expect_exit 5 "$ECFS" "$vol" "$T/file" -o "key_file=$key"
stderr_has "is not a directory"
not_mounted "$T/file"
[ "$(cat "$T/file")" = "a file" ] || fail "the file used as a mount point changed"

note "a non-empty mount point: exit 5 without -o nonempty"
mkdir -p "$mnt"
echo "hidden" >"$mnt/underneath"
register_mount "$mnt"
expect_exit 5 "$ECFS" "$vol" "$mnt" -o "key_file=$key"
stderr_has "is not empty"
stderr_has "nonempty"
not_mounted "$mnt"
note "-o nonempty mounts over it; the contents are back after the unmount"
mount_vol "$vol" "$mnt" "key_file=$key,nonempty"
[ ! -e "$mnt/underneath" ] || fail "the mount does not cover the mount point's contents"
echo "in the volume" >"$mnt/f"
umount_wait "$mnt"
[ "$(cat "$mnt/underneath")" = hidden ] || fail "the mount point's own contents are gone"
rm "$mnt/underneath"

note "an unknown option is reported before any prompt: exit 2"
on_tty 60 "$ECFS" --bogus-option "$T/vol-p" "$mnt"
[ "$TTY_RC" -eq 2 ] || { cat "$T/stderr" >&2; fail "--bogus-option: exit $TTY_RC, expected 2"; }
stderr_has "--bogus-option"
! grep -qi passphrase "$T/stderr" || { cat "$T/stderr" >&2; fail "asked for a passphrase first"; }
on_tty 60 "$ECFS" "$T/vol-p" "$mnt" -o no_such_option_xyz
[ "$TTY_RC" -eq 2 ] || { cat "$T/stderr" >&2; fail "-o no_such_option_xyz: exit $TTY_RC, expected 2"; }
stderr_has "no_such_option_xyz"
! grep -qi passphrase "$T/stderr" || { cat "$T/stderr" >&2; fail "asked for a passphrase first"; }
not_mounted "$mnt"

note "no key option, no passphrase slot: no prompt, exit 2, the options that open it named"
on_tty 60 "$ECFS" "$vol" "$mnt"
[ "$TTY_RC" -eq 2 ] || { cat "$T/stderr" >&2; fail "no key option: exit $TTY_RC, expected 2"; }
stderr_has "has no passphrase slot"
stderr_has "key_file=FILE"
stderr_has "key_export=FILE"
not_mounted "$mnt"
note "the same for envcryptfsctl"
on_tty 60 "$CTL" export "$vol" --out "$T/export"
[ "$TTY_RC" -eq 2 ] || { cat "$T/stderr" >&2; fail "envcryptfsctl export without a key: exit $TTY_RC, expected 2"; }
stderr_has "has no passphrase slot"
stderr_has "--unlock-key-file"
[ ! -e "$T/export" ] || fail "envcryptfsctl export wrote a file"

note "a dead mount of the volume (daemon killed) is detached and mounted over"
mount_vol "$vol" "$mnt" "key_file=$key"
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "cannot find the daemon process for $mnt"
kill -9 "$pid"
for ((i = 0; i < 200; i++)); do proc_alive "$pid" || break; sleep 0.1; done
! proc_alive "$pid" || fail "the daemon survived kill -9"
is_mounted "$mnt" || fail "the killed daemon's mount is gone already"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "key_file=$key"
stderr_has "detached it"
[ "$(cat "$mnt/f")" = "in the volume" ] || fail "the volume does not read after the remount"
umount_wait "$mnt"
is_mounted "$mnt" && fail "a mount is left at $mnt (the dead one was not detached)"

note "a dead mount of something else is refused with the command to run: exit 5"
mount_vol "$vol" "$mnt" "key_file=$key,fsname=someone-else"
pid=$(daemon_pid "$mnt")
kill -9 "$pid"
for ((i = 0; i < 200; i++)); do proc_alive "$pid" || break; sleep 0.1; done
expect_exit 5 "$ECFS" "$vol" "$mnt" -o "key_file=$key"
stderr_has "fusermount3 -u -z"
fusermount3 -u -z "$mnt"
not_mounted "$mnt"

note "O_TMPFILE: EOPNOTSUPP"
mount_vol "$vol" "$mnt" "key_file=$key"
command -v python3 >/dev/null || skip "python3 is needed for the O_TMPFILE check"
err=$(python3 -c '
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600))
    print("opened")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
' "$mnt")
# Python names errno 95 ENOTSUP; on Linux it is EOPNOTSUPP too.
[ "$err" = EOPNOTSUPP ] || [ "$err" = ENOTSUP ] || fail "O_TMPFILE on the mount: $err, expected EOPNOTSUPP"
umount_wait "$mnt"
