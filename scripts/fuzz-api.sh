#!/usr/bin/env bash
# Fuzzes every operation of openapi.json with schemathesis against the local stack (what
# `make dev` runs), with a real admin token for the authenticated operations and the
# fake-openai upstream behind /api/chat. Fails on any 5xx or any response the document does not
# describe (status, content type, headers, body schema).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${FUZZ_EXAMPLES:-25}
SEED=${FUZZ_SEED:-20261125}

if ! schemathesis --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "fuzz-api: installing schemathesis $SCHEMATHESIS_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet -p local-stack -p test-support --bins

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A free port outside the kernel's ephemeral range (which outgoing connections draw from: a port
# from port 0 could be taken by one before the server binds it), as test_support::ports picks.
free_port() {
  python3 -c '
import random, socket
low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
ports = [p for p in range(20000, 65536) if not low <= p <= high]
while True:
    port = random.choice(ports)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); print(port); break
    except OSError:
        pass
    finally:
        s.close()'
}

FAKE_OPENAI_DELAY_MS=0 ./target/debug/fake-openai > "$work/upstream" &
pids+=($!)
for _ in $(seq 1 50); do [[ -s "$work/upstream" ]] && break; sleep 0.1; done
upstream=$(head -n1 "$work/upstream")

# A real SMTP server (tests/smtp/smtp_sink.py), so the mail routes answer as in production.
python3 tests/smtp/smtp_sink.py --dir "$work/mail" > "$work/smtp" &
pids+=($!)
for _ in $(seq 1 50); do [[ -s "$work/smtp" ]] && break; sleep 0.1; done
smtp_port=$(awk '/^READY/ {print $2}' "$work/smtp")
[[ -n "$smtp_port" ]] || { echo "fuzz-api: the SMTP server did not start (make smtp-sink installs aiosmtpd)" >&2; exit 1; }

port=$(free_port)
base="http://127.0.0.1:$port"
DATABASE_URL="sqlite://$work/fuzz.db?mode=rwc" \
JWT_SECRET=fuzz-secret-0123456789abcdef0123456789 \
BCRYPT_COST=4 \
ADMIN_EMAILS=admin@example.com \
OPENAI_API_KEY=fuzz OPENAI_BASE_URL="$upstream" OPENAI_MODEL=fake OPENAI_TIMEOUT=10s \
SMTP_URL="smtp://127.0.0.1:$smtp_port" MAIL_FROM="Fuzz <noreply@example.com>" SITE_URL="$base" \
RATE_LIMIT_LOGIN_IP=off RATE_LIMIT_LOGIN_ACCOUNT=off RATE_LIMIT_REGISTER_IP=off \
CHAT_QUOTA_USER=off CHAT_QUOTA_ADMIN=off CHAT_MAX_CONCURRENT_STREAMS=0 \
RUST_LOG=warn PORT=$port STATIC_DIR=frontend-dist \
  ./target/debug/local-stack > "$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "$base/api/health" > /dev/null && break; sleep 0.1; done

token() {
  curl -fs "$base/api/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"fuzzing password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
curl -fs "$base/api/health" > /dev/null || { echo "fuzz-api: the local stack did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
admin=$(token admin@example.com)
throwaway=$(token someone@example.com)
# With mail configured, ADMIN_EMAILS takes effect once the address is verified: follow the
# verification link the SMTP server received, logged into the account, as the owner would.
curl -fs -X POST "$base/api/account/email/verification" -H "Authorization: Bearer $admin" > /dev/null
verify_token=$(python3 -c '
import glob, json, re, sys, time
for _ in range(100):
    for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
        found = re.search(r"#/verify/([0-9a-f]{64})", json.load(open(path))["text"])
        if found:
            print(found.group(1)); sys.exit(0)
    time.sleep(0.1)
sys.exit("no verification mail arrived")' "$work/mail")
curl -fs "$base/api/account/email/verify" -H "Authorization: Bearer $admin" -H 'content-type: application/json' \
  -d "{\"token\":\"$verify_token\"}" \
  | grep -q '"role":"ADMIN"' || { echo "fuzz-api: the admin account was not verified" >&2; exit 1; }

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
# CPython 3.11.7's ast module can raise "AST constructor recursion depth mismatch" (a CPython
# bug, fixed in later 3.11 releases) while hypothesis parses a source file only to *describe* a
# lambda in a strategy's repr. The launcher makes that description fall back to "lambda".
launch='
import sys
import hypothesis.internal.lambda_sources as sources
describe = sources.lambda_description
def safe_description(f):
    try:
        return describe(f)
    except SystemError:
        return "lambda"
sources.lambda_description = safe_description
from schemathesis.cli import schemathesis
sys.argv[0] = "schemathesis"
schemathesis()
'
run() {
  python3 -c "$launch" run "$base/api/openapi.json" --checks "$checks" --max-examples "$EXAMPLES" --seed "$SEED" \
    --generation-database none --no-color --workers 2 "$@"
}
status=0
# Everything with the admin's token but what may end that session midway (logout, signing a
# device out, deleting the account)…
ending=(/api/auth/logout /api/account/sessions/{id} /api/account/delete)
run -H "Authorization: Bearer $admin" "${ending[@]/#/--exclude-path=}" || status=$?
# …and those on their own, with a session they may end.
run -H "Authorization: Bearer $throwaway" "${ending[@]/#/--include-path=}" || status=$?
if [[ $status -ne 0 ]]; then
  echo "fuzz-api: failures found; server log:" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit $status
