#!/bin/bash
# Tokens lock their PIN after a few wrong tries, so a PIN the token refused is offered to it
# once per command, however many PKCS#11 slots the volume has or header copies are tried. A
# module of our own in front of SoftHSM2 counts the C_Login calls (it also shows that any
# module the local configuration names is used, and the volume's slot names none).
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t8020-pkcs11.inc"
. "$ECFS_TESTS/t6000-attacker.inc"
need_progs
p11_setup
command -v pkg-config >/dev/null && pkg-config --exists p11-kit-1 ||
  skip "p11-kit's pkcs11.h is not installed (libp11-kit-dev)"

vol=$T/vol mnt=$T/mnt log=$T/logins
register_mount "$mnt"
cat >"$T/counting.c" <<EOC
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>
static CK_FUNCTION_LIST list;
static CK_C_Login real_login;
static CK_RV counting_login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	int fd = open("$log", O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd >= 0) { (void)!write(fd, "C_Login\n", 8); close(fd); }
	return real_login(s, u, pin, len);
}
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	void *dl = dlopen("$P11_MODULE", RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList get = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : 0;
	CK_FUNCTION_LIST_PTR real;
	if (!get || get(&real) != CKR_OK)
		return CKR_GENERAL_ERROR;
	list = *real;
	real_login = real->C_Login;
	list.C_Login = counting_login;
	*out = &list;
	return CKR_OK;
}
EOC
${CC:-cc} -shared -fPIC $(pkg-config --cflags p11-kit-1) -o "$T/counting.so" "$T/counting.c" ||
  fail "cannot build the counting module"
logins() { [ -f "$log" ] && wc -l <"$log" || echo 0; }
expect_logins() {
  local n; n=$(logins)
  [ "$n" -eq "$1" ] || fail "$2: $n C_Login calls, expected $1"
  rm -f "$log"
}

note "a volume with two PKCS#11 slots, each on its own key"
expect_exit 0 "$MKFS" $(p11_new K) --pkcs11-create-key "$vol"
expect_exit 0 "$CTL" slot add "$vol" "${P11_UNLOCK[@]}" --pkcs11-token T --pkcs11-key K2 \
  --pkcs11-create-key
grep -qF "added key slot 1 (pkcs11)" "$T/stdout" || fail "the second slot"
rm -f "$log"
BAD_O="pkcs11_module=$T/counting.so,pkcs11_pin_file=$BADPIN"

note "a wrong PIN is offered once, not once per slot"
expect_exit 3 "$ECFS" "$vol" "$mnt" -o "$BAD_O" </dev/null
stderr_has "rejected the PIN"
expect_logins 1 "mount, wrong PIN"
expect_exit 3 "$CTL" check-key "$vol" --unlock-pkcs11 --pkcs11-module "$T/counting.so" \
  --pkcs11-pin-file "$BADPIN"
expect_logins 1 "check-key, wrong PIN"

note "nor again for the other header copy"
tail -c +113 "$vol/envcryptfs.header" | sed 's|"pkcs11":{|"pkcs11":{"note":"changed",|' >"$T/changed.json"
plant_json "$vol/envcryptfs.header" "$T/changed.json"
! cmp -s "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" || fail "the copies are alike"
expect_exit 3 "$ECFS" "$vol" "$mnt" -o "$BAD_O" </dev/null
expect_logins 1 "mount, wrong PIN, copies differ"

note "the right PIN through the same module opens the volume"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "pkcs11_module=$T/counting.so,pkcs11_pin_file=$PIN" </dev/null
mountpoint -q "$mnt" || fail "not mounted"
umount_wait "$mnt"
[ "$(logins)" -ge 1 ] || fail "the counting module was not used"
note "a refused PIN was offered once per command"
