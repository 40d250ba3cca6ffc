#!/bin/bash
# envcryptfs-kmsd over real TLS on 127.0.0.1, driven with curl: the command line and its exit
# codes, the seal (3 of 5 shares, a foreign or mistyped share refused), token checks, and the
# Vault Transit endpoints with Vault's shapes and status codes.
. "$ECFS_TESTS/lib.sh"
. "$ECFS_TESTS/kmsd.inc"
command -v openssl >/dev/null || skip "openssl not installed"

# A test CA and a server certificate for IP 127.0.0.1 (EC keys: fast).
make_certs() {
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (cd "$T" &&
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -subj /CN=t4000-ca -days 2 &&
    openssl req "${ec[@]}" -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
    printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
      -days 2 -extfile ext) >/dev/null 2>&1 || fail "cannot make test certificates"
}

field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$T/body"; }

note "command line"
expect_exit 0 "$KMSD" --help
for opt in --tls-client-ca --namespace --k8s-role --k8s-jwt-file --request-timeout \
  --max-connections --max-per-client --threads --unseal-share; do
  grep -qF -- "$opt" "$T/stdout" || fail "kmsd --help does not list $opt"
done
expect_exit 2 "$KMSD" frobnicate
expect_exit 2 "$KMSD" init
expect_exit 2 "$KMSD" init --store "$T/x" --shares 5 --threshold 6
expect_exit 2 "$KMSD" init --store "$T/x" --shares 3 --threshold 1
expect_exit 2 "$KMSD" serve
expect_exit 0 "$KMSD" init --store "$T/st" --shares 5 --threshold 3
stdout_has() { grep -qF -- "$1" "$T/stdout" || fail "stdout lacks '$1'"; }
stdout_has "any 3 of 5 unseal"
expect_exit 0 "$KMSD" init --store "$T/one" --shares 1 --threshold 1
stdout_has "share file: $T/one/share.1 (it alone unseals)"
grep -qF -- "share.1 .." "$T/stdout" && fail "one share file is reported as a range"
for i in 1 2 3 4 5; do
  [ "$(stat -c %a "$T/st/share.$i")" = 600 ] || fail "share.$i is not mode 600"
  [ "$(share $i | tr -d '\n' | wc -c)" -eq 74 ] || fail "share.$i does not hold 74 hex digits"
done
[ "$(stat -c %a "$T/st/token")" = 600 ] || fail "the token file is not mode 600"
[ "$(stat -c %a "$T/st/kmsd.store")" = 600 ] || fail "the store is not mode 600"
TOKEN=$(cat "$T/st/token")
expect_exit 1 "$KMSD" init --store "$T/st"
stderr_has "already holds a key store"
# The master key is nowhere whole: no share alone, and not the store, holds 32 equal bytes.
expect_exit 0 "$KMSD" init --store "$T/other" --shares 2 --threshold 2

make_certs
note "listening rules"
expect_exit 2 "$KMSD" serve --store "$T/st" --listen 0.0.0.0:0 --insecure-http
stderr_has "loopback"
expect_exit 2 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0
stderr_has "--tls-cert"
expect_exit 2 "$KMSD" serve --store "$T/st" --listen localhost:0 --insecure-http
note "bad shares at start"
expect_exit 3 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 --insecure-http \
  --unseal-share "$T/other/share.1"
stderr_has "another key store"
sed 's/^\([0-9a-f]\{20\}\)[0-9a-f]/\1x/' "$T/st/share.2" >"$T/typo"
expect_exit 3 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 --insecure-http \
  --unseal-share "$T/typo"

note "sealed server"
start_server --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
api GET sys/health; expect 503 '"sealed":true'
api POST transit/encrypt/k '{"plaintext":"aGVsbG8="}'; expect 503 '{"errors":["Vault is sealed"]}'
api GET sys/seal-status; expect 200 '"t":3,"n":5,"progress":0'
api PUT sys/unseal "{\"key\":\"$(share 4)\"}"; expect 200 '"progress":1'
api PUT sys/unseal "{\"key\":\"$(share 4)\"}"; expect 200 '"progress":1'
api PUT sys/unseal "{\"key\":\"$(share 1 | cut -c1-70)\"}"; expect 400 "not an unseal share"
api PUT sys/unseal "{\"key\":\"$(grep -v '^#' "$T/other/share.1")\"}"; expect 400 "another key store"
api PUT sys/unseal '{"reset":true}'; expect 200 '"progress":0'
api PUT sys/unseal "{\"key\":\"$(share 4)\"}"; expect 200 '"progress":1'
b64=$(share 2 | xxd -r -p | base64 -w0)
api POST sys/unseal "{\"key\":\"$b64\"}"; expect 200 '"progress":2'
api PUT sys/unseal "{\"key\":\"$(share 5)\"}"; expect 200 '"sealed":false'
api GET sys/health; expect 200 '"sealed":false'

note "tokens"
STATUS=$(curl -s --cacert "$T/ca.pem" -o "$T/body" -w '%{http_code}' "$URL/v1/transit/keys/k")
expect 403 '{"errors":["permission denied"]}'
TOKEN=wrong-token-0123456789 api GET transit/keys/k; expect 403 "permission denied"
STATUS=$(curl -s --cacert "$T/ca.pem" -o "$T/body" -w '%{http_code}' \
  -H "Authorization: Bearer $TOKEN" "$URL/v1/transit/keys/k")
expect 404 '{"errors":[]}'
grep -q "GET /v1/transit/keys/k -> 403" "$T/serve.log" || fail "refusals are not logged"
grep -qF "$TOKEN" "$T/serve.log" && fail "the token appears in the log"

note "transit"
api POST transit/keys/k '{"type":"aes256-gcm96"}'; expect 200 '"latest_version":1'
api POST transit/keys/k2 '{"type":"rsa-2048"}'; expect 400 "unknown key type"
api GET transit/keys/k; expect 200 '"type":"aes256-gcm96"'
expect 200 '"min_decryption_version":1'
api POST transit/encrypt/k '{"plaintext":"aGVsbG8="}'; expect 200 '"key_version":1'
CT1=$(field ciphertext)
case $CT1 in vault:v1:*) ;; *) fail "ciphertext $CT1 is not vault:v1:" ;; esac
api POST transit/decrypt/k "{\"ciphertext\":\"$CT1\"}"; expect 200 '"plaintext":"aGVsbG8="'
api POST transit/decrypt/k "{\"ciphertext\":\"${CT1%????}AAAA\"}"; expect 400 "unable to decrypt"
api POST transit/decrypt/k '{"ciphertext":"vault:v9:YWJj"}'; expect 400 "version is too new"
api POST transit/decrypt/k '{"ciphertext":"v1:YWJj"}'; expect 400 "no prefix"
api POST transit/decrypt/k '{}'; expect 400 "missing ciphertext"
api POST transit/decrypt/nokey "{\"ciphertext\":\"$CT1\"}"; expect 400 "encryption key not found"
api POST transit/encrypt/k '{"plaintext":"not base64!"}'; expect 400 "base64"
api POST transit/encrypt/k '{"plaintext":'; expect 400 "failed to parse JSON"
api POST transit/keys/k/rotate; expect 200 '"latest_version":2'
api POST transit/encrypt/k '{"plaintext":"aGVsbG8="}'; expect 200 '"key_version":2'
api POST transit/rewrap/k "{\"ciphertext\":\"$CT1\"}"; expect 200 '"key_version":2'
CT2=$(field ciphertext)
api POST transit/keys/k/config '{"min_decryption_version":3}'; expect 400 "latest key version is 2"
api POST transit/keys/k/config '{"min_decryption_version":2}'; expect 200 '"keys":{"2":'
api POST transit/decrypt/k "{\"ciphertext\":\"$CT1\"}"; expect 400 "disallowed by policy (too old)"
api POST transit/decrypt/k "{\"ciphertext\":\"$CT2\"}"; expect 200 '"plaintext":"aGVsbG8="'
api DELETE transit/keys/k; expect 400 "deletion is not allowed for this key"
api POST transit/keys/k/config '{"deletion_allowed":true}'; expect 200 '"deletion_allowed":true'
api DELETE transit/keys/k; expect 204
api GET transit/keys/k; expect 404 '{"errors":[]}'
api DELETE transit/keys/k; expect 400 "not found"
# Vault creates a missing key on encrypt (for a token that may create).
api POST transit/encrypt/auto '{"plaintext":""}'; expect 200 '"key_version":1'
api GET transit/encrypt/k; expect 405 "unsupported operation"
api GET transit/nothing/k; expect 404
api GET nomount/keys/k; expect 404 "no handler for route"
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$T/big"
api POST transit/encrypt/k "" --data-binary "@$T/big"; expect 413 "too large"

note "seal again, then stop"
api PUT sys/seal; expect 204
api GET sys/health; expect 503
stop_server
grep -q "stopping on signal 15" "$T/serve.log" || fail "no stop message"
note "all kmsd checks passed"
