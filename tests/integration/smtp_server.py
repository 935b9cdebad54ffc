#!/usr/bin/python3
"""A submission server for the email channel's tests (docs/notifications.md): Debian's aiosmtpd
on 127.0.0.1 that requires STARTTLS before anything else, and AUTH (PLAIN or LOGIN) with one
user and password over TLS, as a mail provider's port 587 does. Every accepted message is
appended to --out as one JSON line ("event": "message"): envelope sender and recipients, the
user who logged in, whether the session was encrypted, and the message as received; so is
every authentication attempt ("event": "auth", never the password).

Prints "READY <port>" on stdout once it accepts connections; runs until killed.
Run with /usr/bin/python3 (Debian's interpreter, where python3-aiosmtpd is installed).
"""

import argparse
import json
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self, out, reject_with):
        self.out = out
        self.reject_with = reject_with

    async def handle_DATA(self, server, session, envelope):
        if self.reject_with:
            return self.reject_with
        record = {
            "event": "message",
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": getattr(session, "vigil_login", None),
            "tls": session.ssl is not None,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--no-starttls", action="store_true",
                        help="offer no STARTTLS (and take AUTH in the clear): a server the "
                             "collector must refuse to send to")
    parser.add_argument("--reject-with", default="",
                        help='answer every message with this reply, e.g. "451 4.3.0 try later"')
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == args.user.encode()
              and auth_data.password == args.password.encode())
        if ok:
            session.vigil_login = auth_data.login.decode()
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": "auth", "mechanism": mechanism, "success": ok,
                                "tls": session.ssl is not None}) + "\n")
        return AuthResult(success=ok, handled=False)

    port = free_port()
    tls = {} if args.no_starttls else {"tls_context": context, "require_starttls": True}
    controller = Controller(Recorder(args.out, args.reject_with), hostname="127.0.0.1", port=port,
                            auth_required=True, auth_require_tls=not args.no_starttls,
                            authenticator=authenticate, **tls)
    controller.start()
    print(f"READY {port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
