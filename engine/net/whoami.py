"""A replica for the Service tests and `tug bench net`, run as a script: answers every GET with
its pod's name (POD_NAME) on $PORT, or with the variable VAR of its environment for /env/VAR;
HTTP/1.1 with keep-alive, and logs nothing."""

import http.server
import os

NAME = os.environ.get("POD_NAME", "?").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait between them

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = NAME
        if self.path.startswith("/env/"):
            body = os.environ.get(self.path[5:], "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
