#!/bin/bash
# envcryptfs-kmsd across restarts: started with any 3 of its 5 share files it comes up
# unsealed and old ciphertexts still decrypt; fewer shares leave it sealed; a damaged store is
# refused with exit code 4, a tampered one with 3; SIGINT stops it cleanly. Plain HTTP on
# 127.0.0.1 (--insecure-http), since t4000 covers TLS.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/kmsd.inc"
shares() { local i; for i; do echo --unseal-share "$T/st/share.$i"; done; }

"$KMSD" init --store "$T/st" --shares 5 --threshold 3 >/dev/null || fail "init failed"
TOKEN=$(cat "$T/st/token")

note "first run: keys and ciphertexts"
start_server $(shares 1 2 3)
grep -q "unsealed: 0 keys" "$T/serve.log" || fail "not unsealed by 3 share files"
api POST transit/keys/vol '{}'; expect 200
api POST transit/encrypt/vol '{"plaintext":"c2VjcmV0IGtleQ=="}'; expect 200
CT1=$(sed -n 's/.*"ciphertext":"\([^"]*\)".*/\1/p' "$T/body")
api POST transit/keys/vol/rotate; expect 200 '"latest_version":2'
api POST transit/encrypt/vol '{"plaintext":"c2VjcmV0IGtleQ=="}'; expect 200 '"key_version":2'
CT2=$(sed -n 's/.*"ciphertext":"\([^"]*\)".*/\1/p' "$T/body")
stop_server INT
grep -q "stopping on signal 2" "$T/serve.log" || fail "no stop message on SIGINT"

note "restart with other shares"
start_server $(shares 5 3 4)
api POST transit/decrypt/vol "{\"ciphertext\":\"$CT1\"}"; expect 200 '"plaintext":"c2VjcmV0IGtleQ=="'
api POST transit/decrypt/vol "{\"ciphertext\":\"$CT2\"}"; expect 200 '"plaintext":"c2VjcmV0IGtleQ=="'
api GET transit/keys/vol; expect 200 '"latest_version":2'
stop_server

note "two shares: sealed until a third comes over HTTP"
start_server $(shares 2 4)
grep -q "still sealed: 2 of 3" "$T/serve.log" || fail "no 'still sealed' message"
api POST transit/decrypt/vol "{\"ciphertext\":\"$CT1\"}"; expect 503 "sealed"
api PUT sys/unseal "{\"key\":\"$(grep -v '^#' "$T/st/share.5")\"}"; expect 200 '"sealed":false'
api POST transit/decrypt/vol "{\"ciphertext\":\"$CT1\"}"; expect 200
stop_server

note "damaged and tampered stores"
cp "$T/st/kmsd.store" "$T/store.good"
printf 'XXXX' | dd of="$T/st/kmsd.store" bs=1 seek=0 conv=notrunc status=none
expect_exit 4 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 --insecure-http $(shares 1 2 3)
stderr_has "not an envcryptfs-kmsd key store"
cp "$T/store.good" "$T/st/kmsd.store"
size=$(stat -c %s "$T/st/kmsd.store")
printf '\001' | dd of="$T/st/kmsd.store" bs=1 seek=$((size - 20)) conv=notrunc status=none
expect_exit 3 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 --insecure-http $(shares 1 2 3)
stderr_has "does not open the key store"
cp "$T/store.good" "$T/st/kmsd.store"
truncate -s $((size - 1)) "$T/st/kmsd.store"
expect_exit 4 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 --insecure-http
cp "$T/store.good" "$T/st/kmsd.store"
# No temporary files are left behind by the atomic updates.
[ -z "$(find "$T/st" -name 'envcryptfs.tmp.*')" ] || fail "temporary files left in the store"
note "all restart checks passed"
