"""A webhook receiver for Portico's tests, on loopback.

Every POST is checked with the `standardwebhooks` library (the Standard Webhooks authors' own
verifier) against each secret given with --secret, and recorded as one JSON line in --out:
{"webhook_id", "verified_with" (indexes of the secrets that verified it), "event" (the parsed body)}.
A form POST carrying `logout_token` (OpenID Connect Back-Channel Logout) is recorded as
{"logout_token": ...}. It answers 204 to a verified message, 401 to one no secret verifies, and
503 to the first --fail-first messages. It writes its port to --port-file once listening.
"""

import argparse
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

lock = threading.Lock()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    hooks = [Webhook(s) for s in args.secret]
    state = {"to_fail": args.fail_first}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with lock:
                if state["to_fail"] > 0:
                    state["to_fail"] -= 1
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"not now")
                    return
            if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = urllib.parse.parse_qs(body.decode())
                record = {"logout_token": form.get("logout_token", [""])[0]}
                status = 200
            else:
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = []
                for i, hook in enumerate(hooks):
                    try:
                        hook.verify(body, headers)
                        verified.append(i)
                    except Exception:  # noqa: BLE001 - any refusal is "not verified"
                        pass
                record = {
                    "webhook_id": headers.get("webhook-id"),
                    "verified_with": verified,
                    "event": json.loads(body) if verified else None,
                }
                status = 204 if verified else 401
            with lock:
                with open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            self.send_response(status)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    with open(args.port_file, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
