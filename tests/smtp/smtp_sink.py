#!/usr/bin/env python3
"""A real SMTP server for the tests: it accepts every message (aiosmtpd, from PyPI) and writes
each one, decoded by Python's email package, as a JSON file into a directory, so the Rust tests
and the browser tests read what was delivered and follow its links.

    python3 tests/smtp/smtp_sink.py --dir DIR [--port 0] [--auth USER:PASSWORD]

Prints `READY <port>` once it listens (port 0: one the system picks). Each message becomes
`DIR/<n>.json`: {"mailFrom", "rcptTos", "from", "to", "subject", "text", "html", "headers"},
written to a temporary name and renamed, so a reader never sees half a file. With --auth the
server requires AUTH LOGIN/PLAIN with those credentials (as DirectMail does).
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": list(envelope.rcpt_tos),
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "headers": {key: str(value) for key, value in message.items()},
        }
        number = next(self.counter)
        path = os.path.join(self.directory, f"{number:06d}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False)
        os.replace(path + ".tmp", path)
        return "250 Message accepted for delivery"


def authenticator(expected):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == expected
        return AuthResult(success=ok)

    return check


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", help="USER:PASSWORD the server requires")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    handler = Sink(args.dir)
    options = {"enable_SMTPUTF8": True}
    if args.auth:
        user, _, password = args.auth.partition(":")
        # Plain-text AUTH on a loopback test server (production uses TLS: SMTP_URL smtps://).
        options.update(authenticator=authenticator((user, password)), auth_required=True, auth_require_tls=False)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options), args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
