#!/usr/bin/env bash
# What `make test` needs beyond the Rust toolchain, checked before anything runs, with how to
# install what is missing (`.ci/run` installs all of it). MariaDB is checked by
# ensure-mariadb.sh, which also starts it.
set -uo pipefail

missing=0
need() {
  echo "check-prereqs: $1 is missing. $2" >&2
  missing=1
}

command -v cargo-nextest >/dev/null 2>&1 || need "cargo-nextest" "Install it: cargo install cargo-nextest --locked"
command -v node >/dev/null 2>&1 || need "Node.js" "Install it: apt-get install -y nodejs npm"
command -v npm >/dev/null 2>&1 || need "npm" "Install it: apt-get install -y npm"
command -v python3 >/dev/null 2>&1 || need "python3 (for schemathesis and the tests' SMTP server, aiosmtpd)" "Install it: apt-get install -y python3 python3-pip"
chromium="${CHROMIUM:-/usr/bin/chromium}"
[[ -x "$chromium" ]] || need "Chromium ($chromium, for the browser tests)" "Install it: apt-get install -y chromium (or set CHROMIUM)"
# fc-list's output is taken whole first: `fc-list | grep -q` fails under pipefail whenever grep
# stops reading at its first match and fc-list dies of SIGPIPE.
fonts=$(fc-list 2>/dev/null)
if ! grep -qi "zenhei\|noto sans cjk\|noto serif cjk" <<<"$fonts"; then
  need "a CJK font (the browser tests render Chinese)" "Install one: apt-get install -y fonts-wqy-zenhei"
fi
exit "$missing"
