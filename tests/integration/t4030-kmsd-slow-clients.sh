#!/bin/bash
# envcryptfs-kmsd keeps answering while hundreds of slow or idle connections are open: 150
# connections trickle a request header a byte a second and 150 stay idle (from other loopback
# addresses), and meanwhile requests from 127.0.0.1 are answered (curl, and a mount through
# the KMS client); every one of the 300 is closed once --request-timeout has passed, the
# trickling ones too, over TLS as well. --max-per-client caps the connections of one address,
# and other clients still get in.
. "$ECFS_TESTS/lib.sh"
KMSD="$ECFS_BIN/envcryptfs-kmsd"
[ -x "$KMSD" ] || skip "$KMSD not built"
need_progs
command -v curl >/dev/null || skip "curl not installed"
command -v openssl >/dev/null || skip "openssl not installed"
sanitizer_logs
SLOWPEER=$(ecfs_tool slowpeer)

SERVER= PEERS=()
stop_server() {
  [ -n "$SERVER" ] || return 0
  kill -TERM "$SERVER" 2>/dev/null || true
  wait_exit "$SERVER" 30
  SERVER=
  [ "$WAIT_RC" -eq 0 ] || { cat "$T/serve.log" >&2; fail "kmsd exited $WAIT_RC on SIGTERM"; }
}
trap 'rc=$?; set +e; for p in "${PEERS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
  [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null; (exit $rc); finish_test' EXIT

# start_server [OPTIONS]: plain HTTP, unless OPTIONS give --tls-cert and --tls-key.
start_server() {
  local i port= http=--insecure-http
  case " $* " in *" --tls-cert "*) http= ;; esac
  "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 $http \
    --unseal-share "$T/st/share.1" "$@" 2>"$T/serve.log" &
  SERVER=$!
  port=$(kmsd_port "$T/serve.log" "$SERVER")
  PORT=$port
}

# peers NAME ARGS...: slowpeer connect in the background, its output in $T/NAME.out; waits
# (HANG_SECS at most) until its connections are open.
peers() {
  local name=$1 i
  shift
  "$SLOWPEER" connect "127.0.0.1:$PORT" "$@" >"$T/$name.out" 2>&1 &
  PEERS+=($!)
  for ((i = 0; i < HANG_SECS * 10; i++)); do
    grep -q '^opened' "$T/$name.out" 2>/dev/null && return 0
    proc_alive "${PEERS[-1]}" || { cat "$T/$name.out" >&2; fail "slowpeer $name exited early"; }
    sleep 0.1
  done
  fail "slowpeer $name did not open its connections"
}

# answered: a request from 127.0.0.1 gets its answer (30 s at most: "must not hang").
answered() {
  local st
  st=$(curl -s --max-time 30 -o "$T/body" -w '%{http_code}' "$@") || st="curl failed ($?)"
  [ "$st" = 200 ] || { cat "$T/serve.log" >&2; fail "no answer while slow clients are connected: $st"; }
}

"$KMSD" init --store "$T/st" --shares 1 --threshold 1 >/dev/null || fail "init failed"
TOKEN=$(cat "$T/st/token")

note "300 slow and idle connections, and other clients still answered"
start_server --request-timeout 4
# A volume whose key is wrapped by this kmsd (plain HTTP is allowed to loopback).
KMS="kms_url=http://127.0.0.1:$PORT,kms_token_file=$T/st/token"
answered -X POST -H "X-Vault-Token: $TOKEN" --data-binary '{}' \
  "http://127.0.0.1:$PORT/v1/transit/keys/vol"
"$MKFS" -q "${FAST_ARGON[@]}" --kms-url "http://127.0.0.1:$PORT" --kms-key vol \
  --kms-token-file "$T/st/token" "$T/vol" >/dev/null || fail "mkfs with a KMS slot failed"
peers trickle --count 150 --trickle --from 127.0.0.2,127.0.0.3,127.0.0.4 --seconds 60
peers idle --count 150 --from 127.0.0.5,127.0.0.6,127.0.0.7 --seconds 60
for i in 1 2 3; do
  answered "http://127.0.0.1:$PORT/v1/sys/health"
  answered -X POST -H "X-Vault-Token: $TOKEN" --data-binary '{}' \
    "http://127.0.0.1:$PORT/v1/transit/keys/k$i"
done

mount_vol "$T/vol" "$T/mnt" "$KMS,kms_timeout=60"
echo through-kms >"$T/mnt/f"
umount_wait "$T/mnt"

note "the deadline closes every one of them, trickling or idle"
for p in "${PEERS[@]}"; do
  wait_exit "$p" 90
  [ "$WAIT_RC" -eq 0 ] || { cat "$T"/trickle.out "$T"/idle.out >&2; fail "slowpeer: connections left open"; }
done
PEERS=()
grep -q "closed 150 of 150" "$T/trickle.out" || { cat "$T/trickle.out" >&2; fail "trickle"; }
grep -q "did not complete a request within 4 s" "$T/serve.log" || fail "no deadline log line"
answered "http://127.0.0.1:$PORT/v1/sys/health"
stop_server

note "--max-per-client: one address gets 10 connections, others still get in"
start_server --request-timeout 120 --max-per-client 10 --max-connections 30
peers greedy --count 15 --from 127.0.0.9 --expect-closed 5 --seconds 60
wait_exit "${PEERS[-1]}" 90
[ "$WAIT_RC" -eq 0 ] || { cat "$T/greedy.out" >&2; fail "the per-client limit closed nothing"; }
grep -q "closed 5 of 15" "$T/greedy.out" || { cat "$T/greedy.out" >&2; fail "not 10 kept of 15"; }
PEERS=()
answered "http://127.0.0.1:$PORT/v1/sys/health"

stop_server

note "over TLS: handshakes that trickle or never start are cut by the deadline too"
(cd "$T" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout srv.key -out srv.pem -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -days 2) >/dev/null 2>&1 || fail "cannot make a test certificate"
start_server --request-timeout 4 --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
peers tlsslow --count 50 --trickle --tls --from 127.0.0.2 --seconds 60
peers tlsidle --count 50 --from 127.0.0.3 --seconds 60
answered --cacert "$T/srv.pem" "https://127.0.0.1:$PORT/v1/sys/health"
for p in "${PEERS[@]}"; do
  wait_exit "$p" 90
  [ "$WAIT_RC" -eq 0 ] || { cat "$T"/tls*.out >&2; fail "slowpeer: TLS connections left open"; }
done
PEERS=()
answered --cacert "$T/srv.pem" "https://127.0.0.1:$PORT/v1/sys/health"
stop_server

note "bad limits are usage errors"
expect_exit 2 "$KMSD" serve --store "$T/st" --insecure-http --request-timeout 0
stderr_has "--request-timeout"
expect_exit 2 "$KMSD" serve --store "$T/st" --insecure-http --max-per-client 100 --max-connections 50
stderr_has "--max-per-client"
note "all slow-client checks passed"
