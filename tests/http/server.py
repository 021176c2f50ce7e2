"""A small HTTP server for the HTTP Task tests: prints `listening on http://127.0.0.1:PORT`,
then answers
  /echo...      200, the request as JSON (method, path, query, headers, body)
  /status/N     N, {"status": N}
  /slow         after 5 seconds
  /binary       200, application/octet-stream
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class Handler(BaseHTTPRequestHandler):
    def answer(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            return self.send(code, {"status": code})
        if url.path == "/slow":
            time.sleep(5)
            return self.send(200, {"slow": True})
        if url.path == "/binary":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"\x00\x01\x02")
            return
        return self.send(200, {
            "method": self.command,
            "path": url.path,
            "query": parse_qsl(url.query, keep_blank_values=True),
            "headers": {k.lower(): ", ".join(self.headers.get_all(k)) for k in set(self.headers.keys())},
            "body": body,
        })

    def send(self, code, value):
        data = json.dumps(value).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = answer

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
