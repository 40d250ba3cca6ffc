#!/bin/bash
# envcryptfsctl's command line: --help, --version, info and slot list (text and JSON), and
# every kind of usage error exits 2 without touching the volume.
. "$ECFS_TESTS/lib.sh"
[ -x "$CTL" ] || skip "$CTL not built"
[ -x "$MKFS" ] || skip "$MKFS not built"

vol=$T/vol key=$T/key
make_vol "$vol" "$key" aes-256-xts 16384 --label "ctl test"

note "--help, --version, per-command help"
expect_exit 0 "$CTL" --help
for c in info "slot add" "slot remove" "slot list" rotate check-key export header-backup \
  header-restore status; do
  grep -qF "  $c " "$T/stdout" || fail "--help does not list '$c'"
done
grep -qF -- "--unlock-export" "$T/stdout" || fail "--help lacks --unlock-export"
expect_exit 0 "$CTL" --version
grep -q "^envcryptfsctl [0-9]" "$T/stdout" || fail "--version prints '$(cat "$T/stdout")'"
expect_exit 0 "$CTL" slot add --help
grep -qF "usage: envcryptfsctl slot add DIR" "$T/stdout" || fail "slot add --help"

note "info: text and JSON, no key needed"
expect_exit 0 "$CTL" info "$vol"
for l in "label: ctl test" "format version: 2" "cipher: aes-256-xts" "chunk size: 16384" \
  "header primary: ok" "header copy: ok" "header in use: primary" "key slots: 1 of 8" \
  "slot 0: keyfile, KEK generation 1"; do
  grep -qF "$l" "$T/stdout" || { cat "$T/stdout" >&2; fail "info lacks '$l'"; }
done
uuid=$(sed -n 's/^UUID: //p' "$T/stdout")
[[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "UUID '$uuid'"
expect_exit 0 "$CTL" info "$vol" --json
# json_has TEXT...: the last command's JSON output (json-c's pretty form) holds each TEXT.
json_has() {
  local t
  for t in "$@"; do
    grep -qF -- "$t" "$T/stdout" || { cat "$T/stdout" >&2; fail "the JSON lacks '$t'"; }
  done
}
json_has "\"uuid\":\"$uuid\"" '"label":"ctl test"' '"cipher":"aes-256-xts"' '"chunk_size":16384' \
  '"format_version":2' '"primary":"ok"' '"copy":"ok"' '"copy_used":false' '"index":0' \
  '"type":"keyfile"' '"kek_generation":1'
[ "$(head -c 1 "$T/stdout")" = "{" ] && [ "$(tail -n 1 "$T/stdout")" = "}" ] || fail "info --json"
expect_exit 0 "$CTL" slot list "$vol"
grep -qF "slot 0: keyfile" "$T/stdout" || fail "slot list"
expect_exit 0 "$CTL" slot list "$vol" --json
json_has '"type":"keyfile"'
[ "$(head -c 1 "$T/stdout")" = "[" ] || fail "slot list --json is not an array"

note "the header states: a damaged primary shows, and the copy is used"
cp "$vol/envcryptfs.header" "$T/hdr"
printf 'garbage' >"$vol/envcryptfs.header"
expect_exit 0 "$CTL" info "$vol"
grep -qF "header primary: damaged" "$T/stdout" && grep -qF "header in use: copy" "$T/stdout" ||
  { cat "$T/stdout" >&2; fail "info does not show the damaged primary"; }
stderr_has "using the copy"
rm "$vol/envcryptfs.header.copy"
expect_exit 4 "$CTL" info "$vol"
stderr_has "unusable"
mv "$T/hdr" "$vol/envcryptfs.header"
expect_exit 0 "$CTL" info "$vol"
grep -qF "header copy: missing" "$T/stdout" || fail "info does not show the missing copy"
expect_exit 4 "$CTL" info "$T"
stderr_has "holds no envcryptfs volume"

note "usage errors exit 2"
expect_exit 2 "$CTL"
expect_exit 2 "$CTL" frobnicate "$vol"
stderr_has "unknown command 'frobnicate'"
expect_exit 2 "$CTL" slot
expect_exit 2 "$CTL" slot frob "$vol"
expect_exit 2 "$CTL" info
stderr_has "expected 1 argument"
expect_exit 2 "$CTL" info "$vol" extra
expect_exit 2 "$CTL" info "$vol" --force
stderr_has "option --force does not apply"
expect_exit 2 "$CTL" info "$vol" --bogus
stderr_has "unknown option"
expect_exit 2 "$CTL" slot add "$vol" --unlock-key-file "$key"
stderr_has "no new key given"
expect_exit 2 "$CTL" slot add "$vol" --unlock-key-file "$key" --key-file "$key" --passphrase
stderr_has "give one new key"
expect_exit 2 "$CTL" slot add "$vol" --unlock-key-file "$key" --key-file "$key" --argon2-time 1
stderr_has "all three Argon2 costs"
expect_exit 2 "$CTL" slot add "$vol" --unlock-key-file "$key" --unlock-key-file "$key" \
  --key-file "$key"
stderr_has "given twice"
expect_exit 2 "$CTL" slot remove "$vol" 8 --unlock-key-file "$key"
stderr_has "not a slot number"
expect_exit 2 "$CTL" slot remove "$vol" x --unlock-key-file "$key"
expect_exit 2 "$CTL" rotate "$vol" --slot -1 --unlock-key-file "$key" --key-file "$key"
expect_exit 2 "$CTL" export "$vol" --unlock-key-file "$key"
stderr_has "--out FILE is required"
expect_exit 2 "$CTL" export "$vol" --unlock-key-file "$key" --key-file "$key" --out "$T/x"
expect_exit 2 "$CTL" slot add "$vol" --unlock-key-file "$key" --argon2-memory 4 \
  --argon2-time 1 --argon2-parallel 1 --passphrase
stderr_has "Argon2 memory"
# With no authorizing key, a volume without a passphrase slot is not prompted for one: the
# message names the options that open it.
expect_exit 2 setsid "$CTL" check-key "$vol" </dev/null
stderr_has "has no passphrase slot"
stderr_has "--unlock-key-file"
expect_exit 0 "$CTL" info "$vol"
grep -qF "key slots: 1 of 8" "$T/stdout" || fail "a refused command changed the volume"
note "ok"
