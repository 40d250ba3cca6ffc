#!/bin/bash
# envcryptfs-kmsd locks its store: a second serve on one store is refused (exit 5, naming the
# pid of the first), and a serve never writes over a store file that another process wrote
# since it read it (its write counter moved on): the keys made there survive.
. "$ECFS_TESTS/lib.sh"
KMSD="$ECFS_BIN/envcryptfs-kmsd"
[ -x "$KMSD" ] || skip "$KMSD not built"
command -v curl >/dev/null || skip "curl not installed"

SERVERS=()
stop_all() {
  local p
  for p in "${SERVERS[@]:-}"; do
    if [ -n "$p" ] && proc_alive "$p"; then kill "$p" 2>/dev/null || true; fi
  done
  for p in "${SERVERS[@]:-}"; do [ -z "$p" ] || wait "$p" 2>/dev/null || true; done
}
trap 'rc=$?; stop_all; (exit $rc); cleanup' EXIT

# start_server STORE NAME: serves STORE unsealed; sets PID_NAME and URL_NAME.
start_server() {
  local st=$1 name=$2 i port pid
  "$KMSD" serve --store "$st" --listen 127.0.0.1:0 --insecure-http \
    --unseal-share "$st/share.1" 2>"$T/$name.log" &
  pid=$!
  SERVERS+=("$pid")
  port=$(kmsd_port "$T/$name.log" "$pid")
  printf -v "PID_$name" '%s' "$pid"
  printf -v "URL_$name" '%s' "http://127.0.0.1:$port"
}
stop_server() { kill "$1"; wait_exit "$1"; [ "$WAIT_RC" -eq 0 ] || fail "kmsd exited $WAIT_RC"; }
api() { # api URL METHOD PATH [BODY]
  STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -X "$2" -H "X-Vault-Token: $TOKEN" \
    ${4:+--data-binary "$4"} "$1/v1/$3")
}

"$KMSD" init --store "$T/st" --shares 1 --threshold 1 >/dev/null || fail "init failed"
TOKEN=$(cat "$T/st/token")

note "a second serve on the same store is refused with exit 5 and the first one's pid"
start_server "$T/st" A
api "$URL_A" POST transit/keys/k1 '{}'
[ "$STATUS" = 200 ] || fail "creating k1: HTTP $STATUS"
expect_exit 5 "$KMSD" serve --store "$T/st" --listen 127.0.0.1:0 --insecure-http
stderr_has "already served"
stderr_has "pid $PID_A"
[ -f "$T/st/kmsd.lock" ] || fail "no kmsd.lock next to the store"
api "$URL_A" GET transit/keys/k1
[ "$STATUS" = 200 ] || fail "the first serve stopped answering"

note "a store file written by another process meanwhile is never overwritten"
cp -a "$T/st" "$T/st2"
start_server "$T/st2" B
api "$URL_B" POST transit/keys/k3 '{}'
[ "$STATUS" = 200 ] || fail "creating k3 in the copy: HTTP $STATUS"
stop_server "$PID_B"
cp "$T/st2/kmsd.store" "$T/st/kmsd.store.new"
mv "$T/st/kmsd.store.new" "$T/st/kmsd.store"
api "$URL_A" POST transit/keys/k4 '{}'
[ "$STATUS" != 200 ] || fail "kmsd A saved over a newer store"
grep -q "another process wrote it" "$T/A.log" "$T/body" ||
  { cat "$T/A.log" "$T/body" >&2; fail "no message says the store on disk is newer"; }
stop_server "$PID_A"

note "... the keys made by the other process are there, the refused one is not"
start_server "$T/st" C
api "$URL_C" GET transit/keys/k3
[ "$STATUS" = 200 ] || fail "k3, made by the other process, was lost"
api "$URL_C" GET transit/keys/k1
[ "$STATUS" = 200 ] || fail "k1 was lost"
api "$URL_C" GET transit/keys/k4
[ "$STATUS" = 404 ] || fail "k4 (refused) exists: HTTP $STATUS"
stop_server "$PID_C"
