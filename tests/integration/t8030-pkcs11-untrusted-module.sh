#!/bin/bash
# The PKCS#11 module is local configuration, never read from the backing directory: loading a
# library is running its code, as root. The attacker writes a "module" naming a library of
# their own into the slot of the primary header (checksum fixed, MAC not) and into both
# copies: whatever the tools do - info, a mount without a module, a mount with the real one,
# envcryptfsctl - that library is never loaded; the real module still opens the volume and
# the planted primary is repaired from the intact copy.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/t8020-pkcs11.inc"
. "$ECFS_TESTS/t6000-attacker.inc"
need_progs
p11_setup

vol=$T/vol mnt=$T/mnt marker=$T/evil-ran
register_mount "$mnt"
cat >"$T/evil.c" <<EOC
#include <fcntl.h>
#include <unistd.h>
static void mark(void) { close(open("$marker", O_CREAT | O_WRONLY, 0600)); }
__attribute__((constructor)) static void on_load(void) { mark(); }
int C_GetFunctionList(void **list);
int C_GetFunctionList(void **list) { mark(); *list = 0; return 5; }
EOC
${CC:-cc} -shared -fPIC -o "$T/evil.so" "$T/evil.c" || fail "cannot build the planted module"
expect_exit 0 "$MKFS" $(p11_new K) --pkcs11-create-key "$vol"
register_mount "$mnt"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$P11_O" </dev/null
echo secret >"$mnt/file"
umount_wait "$mnt"

# plant HEADER: the slot's pkcs11 object names the attacker's module.
plant() {
  tail -c +113 "$1" | sed "s|\"pkcs11\":{|\"pkcs11\":{\"module\":\"$T/evil.so\",|" >"$T/planted.json"
  grep -qF "\"module\":\"$T/evil.so\"" "$T/planted.json" || fail "nothing planted in $1"
  plant_json "$1" "$T/planted.json"
}
never_loaded() { [ ! -e "$marker" ] || fail "$1: the module named in the header was loaded"; }

note "the primary header names another module"
plant "$vol/envcryptfs.header"
expect_exit 0 "$CTL" info "$vol"
never_loaded "info"
expect_exit 2 "$ECFS" "$vol" "$mnt" </dev/null
stderr_has "-o pkcs11_module=PATH"
never_loaded "a mount without a module"
expect_exit 0 "$CTL" check-key "$vol" "${P11_UNLOCK[@]}"
stderr_has "fails the header MAC"
never_loaded "check-key"
expect_exit 0 "$ECFS" "$vol" "$mnt" -o "$P11_O" </dev/null
stderr_has "rewrote both header copies"
[ "$(cat "$mnt/file")" = secret ] || fail "content after the repair"
umount_wait "$mnt"
never_loaded "the mount"
! grep -qF evil.so "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy" ||
  fail "the planted module survived the repair"

note "both copies name it: still never loaded, and the MAC refuses the header"
plant "$vol/envcryptfs.header"
cp "$vol/envcryptfs.header" "$vol/envcryptfs.header.copy"
expect_exit 4 "$ECFS" "$vol" "$mnt" -o "$P11_O" </dev/null
stderr_has "MAC"
! mountpoint -q "$mnt" || fail "mounted a header whose MAC fails"
expect_exit 4 "$CTL" check-key "$vol" "${P11_UNLOCK[@]}"
never_loaded "both copies planted"
note "the module named in a header was never loaded"
