#!/usr/bin/env bash
# The tests' SMTP server (tests/smtp/smtp_sink.py) runs on aiosmtpd, from PyPI: installed here
# when it is missing, as scripts/fuzz-api.sh installs schemathesis.
set -euo pipefail

AIOSMTPD_VERSION=1.4.6

if ! python3 -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
  echo "ensure-smtp-sink: installing aiosmtpd $AIOSMTPD_VERSION from PyPI (the tests' SMTP server)"
  python3 -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi
