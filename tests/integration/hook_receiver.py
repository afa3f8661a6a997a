# SPDX-License-Identifier: Apache-2.0
"""A webhook receiver for the notification tests: listens on 127.0.0.1
(a port the kernel picks, written to PORT_FILE), appends each POST body
as one line to LOG_FILE, and answers 500 to the first POST, 200 after,
so that a retry can be seen. Stops after 120 s at the latest.
    hook_receiver.py PORT_FILE LOG_FILE
"""
import http.server
import sys
import threading

port_file, log_file = sys.argv[1], sys.argv[2]
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log_file, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        count[0] += 1
        self.send_response(500 if count[0] == 1 else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402
os.rename(port_file + ".tmp", port_file)
threading.Timer(120, srv.shutdown).start()
srv.serve_forever()
