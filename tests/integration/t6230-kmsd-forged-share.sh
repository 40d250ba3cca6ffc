#!/bin/bash
# envcryptfs-kmsd unseal: a share forged from the public store ID (which passes the typo
# check anyone can compute) is refused at once by its verifier, whether it takes a real
# custodian's index or another one, submitted before the real shares or between them; the
# server logs it, the progress made with real shares is kept, and the real custodians still
# unseal. At start, a forged --unseal-share exits 3. A store without verifiers is announced.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/kmsd.inc"
# unseal SHARE-TEXT: PUT /v1/sys/unseal; the status in $STATUS, the body in $T/body.
unseal() {
  STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -X PUT --data-binary "{\"key\":\"$1\"}" \
    "$URL/v1/sys/unseal")
}
# forge INDEX: a share for INDEX with random bytes and the check anyone can compute from the
# store ID (bytes 12..27 of the store file, also in each share file's comment).
forge() {
  local idx y uuid check
  idx=$(printf '%02x' "$1")
  y=$(head -c 32 /dev/urandom | xxd -p -c 64)
  uuid=$(xxd -p -s 12 -l 16 "$T/st/kmsd.store")
  check=$({ printf 'envcryptfs-kmsd share 1'; echo "$uuid$idx$y" | xxd -r -p; } | sha256sum | cut -c1-8)
  echo "$idx$y$check"
}

"$KMSD" init --store "$T/st" --shares 3 --threshold 2 >/dev/null || fail "kmsd init"
[ "$(stat -c %a "$T/st/kmsd.verify")" = 600 ] || fail "no share verifiers file of mode 600"

note "a forged share passes the public check (the attack is real) but is refused at once"
start_server
f1=$(forge 1)
[ ${#f1} -eq 74 ] || fail "test bug: a forged share of ${#f1} digits"
unseal "$f1"
expect 400 "unseal share 1 is not the one this key store was made with"
grep -q "unseal refused: unseal share 1 is not the one" "$T/serve.log" ||
  { cat "$T/serve.log" >&2; fail "the server did not log the forged share"; }
unseal "$(share 1)"
expect 200 '"progress":1'
unseal "$(forge 3)"
expect 400 "progress stays 1 of 2"
unseal "$(share 2)"
expect 200 '"sealed":false'
stop_server

note "at start, a forged --unseal-share exits 3"
forge 2 >"$T/forged"
expect_exit 3 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 --insecure-http \
  --unseal-share "$T/st/share.1" --unseal-share "$T/forged"
stderr_has "is not the one this key store was made with"

note "a store made without verifiers says so"
rm "$T/st/kmsd.verify"
start_server
grep -q "no share verifiers" "$T/serve.log" || { cat "$T/serve.log" >&2; fail "no warning"; }
unseal "$(share 3)"
unseal "$(share 1)"
expect 200 '"sealed":false'
stop_server
