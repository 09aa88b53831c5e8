#!/usr/bin/env bash
# `make verify-package`: runs each dist/<function>.zip as custom.debian11 would (unzipped to /code
# in a Debian 11 root filesystem, glibc 2.31) and replays functions/<function>/events/*.json
# against its POST /invoke, plus GET /api/health and the lifecycle hooks. Proves the zips start and
# work on the runtime's glibc, not just that `objdump` finds no newer symbol (package.sh checks that).
#
# Needs root (chroot) and debootstrap (installed with apt-get when missing); the Debian 11 minbase
# root filesystem (~200 MB, from deb.debian.org) is kept in .tools/debian11. No Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTIONS=(auth-register auth-login chat admin-export) # auth-register first: it creates the account
ROOT="$PWD/.tools/debian11"
SECRET=test-secret-0123456789abcdef0123456789 # test_support::TEST_SECRET, which the events' token is signed with

[[ $EUID -eq 0 ]] || { echo "verify-package: needs root (chroot)" >&2; exit 1; }
for function in "${FUNCTIONS[@]}"; do
  [[ -f "dist/$function.zip" ]] || { echo "verify-package: dist/$function.zip is missing: run make package" >&2; exit 1; }
done
if [[ ! -x "$ROOT/bin/sh" ]]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  echo "verify-package: creating a Debian 11 root filesystem in .tools/debian11"
  rm -rf "$ROOT"
  debootstrap --variant=minbase bullseye "$ROOT" http://deb.debian.org/debian >/dev/null
fi
echo "verify-package: $(chroot "$ROOT" ldd --version | head -n1)"

# A fresh database with the migrations, in the root filesystem.
rm -rf "$ROOT/data" && mkdir -p "$ROOT/data"
DATABASE_URL="sqlite://$ROOT/data/app.db?mode=rwc" cargo run --quiet -p migration -- up >/dev/null

pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true' EXIT
failures=0
for function in "${FUNCTIONS[@]}"; do
  rm -rf "$ROOT/code" && mkdir -p "$ROOT/code" && unzip -q "dist/$function.zip" -d "$ROOT/code"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  chroot "$ROOT" /usr/bin/env -i DATABASE_URL='sqlite:///data/app.db?mode=rwc' JWT_SECRET="$SECRET" \
    BCRYPT_COST=4 FC_CUSTOM_LISTEN_PORT="$port" /code/bootstrap >"$ROOT/data/$function.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "localhost:$port/api/health" && break; sleep 0.1; done
  if ! kill -0 "$pid" 2>/dev/null || ! curl -fs -o /dev/null "localhost:$port/api/health"; then
    echo "$function: did not start on Debian 11; its output:"
    tail -n 5 "$ROOT/data/$function.log" | sed 's/^/  /'
    kill "$pid" 2>/dev/null || true
    pid="" failures=$((failures + 1))
    continue
  fi
  health=$(curl -s "localhost:$port/api/health" || true)
  hooks="$(curl -s -o /dev/null -w '%{http_code}' -X POST "localhost:$port/initialize" || true)"
  hooks+="/$(curl -s -o /dev/null -w '%{http_code}' "localhost:$port/pre-stop" || true)"
  echo "$function: health $health, initialize/pre-stop $hooks"
  [[ "$health" == *'"database":"up"'* && "$hooks" == 200/200 ]] || failures=$((failures + 1))

  if [[ "$function" == auth-register ]]; then
    # The account and session the event files act as (functions/README.md).
    curl -fs -o /dev/null -X POST "localhost:$port/api/auth/register" -H 'content-type: application/json' \
      -d '{"email":"someone@example.com","password":"correct horse battery"}'
    python3 - "$ROOT/data/app.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
created = db.execute("SELECT created_at FROM users WHERE email = 'someone@example.com'").fetchone()[0]
db.execute("UPDATE users SET id = 'user-events', role = 'ADMIN' WHERE email = 'someone@example.com'")
db.execute("INSERT INTO sessions (id, user_id, session_token, expires, created_at) VALUES "
           "('session-events', 'user-events', 'events-session-token', '2037-12-31T00:00:00+00:00', ?)", (created,))
db.commit()
PY
  fi

  for event in functions/"$function"/events/*.json; do
    name=$(basename "$event" .json)
    expected=${name##*.}
    got=$(curl -s -X POST "localhost:$port/invoke" -H 'content-type: application/octet-stream' --data-binary @"$event" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["statusCode"])' 2>/dev/null || echo "no answer")
    if [[ "$got" == "$expected" ]]; then
      echo "  $name.json: $got"
    else
      echo "  $name.json: expected $expected, got $got (log: .tools/debian11/data/$function.log)"
      failures=$((failures + 1))
    fi
  done
  kill -TERM "$pid" && wait "$pid" || { echo "  $function did not exit cleanly on SIGTERM"; failures=$((failures + 1)); }
  pid=""
done

if ((failures)); then
  echo "verify-package: $failures failure(s)" >&2
  exit 1
fi
echo "verify-package: every zip starts and answers its events on Debian 11 (custom.debian11's glibc)"
