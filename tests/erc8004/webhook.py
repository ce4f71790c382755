#!/usr/bin/env python3
# tests/erc8004/webhook.py -- a local HTTP receiver for action-run's rest
# actions in the tests and the demo.  POST /hook/ID answers by ID % 4:
#   0: 200 at once    1: 500 twice per job, then 200    2: the first attempt of a
#   job waits 3 s and answers 503 (a timeout for the caller), then 200
#   3: always 500 (a dead letter)
# (--always-ok: 200 for every request.)  Every request is logged to LOG as
# "KEY PATH STATUS" (KEY: the Idempotency-Key header).  The chosen port is
# written to PORTFILE once the server listens.
#   webhook.py PORTFILE LOG [--always-ok]
import http.server
import sys
import threading
import time

seen = {}
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        key = self.headers.get("Idempotency-Key", "-")
        try:
            aid = int(self.path.rsplit("/", 1)[1])
        except ValueError:
            aid = 0
        with lock:
            k = seen[key] = seen.get(key, 0) + 1
        mode = 0 if ALWAYS_OK else aid % 4
        status = 200
        if mode == 1 and k <= 2:
            status = 500
        elif mode == 2 and k == 1:
            time.sleep(3)
            status = 503
        elif mode == 3:
            status = 500
        try:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass
        with lock, open(LOG, "a") as f:
            f.write("%s %s %d\n" % (key, self.path, status))


if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
    sys.stdout.write("usage: webhook.py PORTFILE LOG [--always-ok]\n")
    sys.exit(0 if len(sys.argv) > 1 else 64)
LOG = sys.argv[2]
ALWAYS_OK = "--always-ok" in sys.argv[3:]
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
