#!/usr/bin/env python3
"""A tiny OpenAI-compatible server for the command backend's tests (standard library only).

Configured by its environment, as the engine's command backend starts it:
  PORT (required), HOST (default 127.0.0.1), ANSWER (the assistant's fixed reply),
  API_KEY (when set, /v1/ requests must send "Authorization: Bearer <API_KEY>"),
  LOAD_SECONDS (answer /health 503 this long before 200, like a server that loads).

GET /health: 200 {"status": "ok"} once loaded. POST /v1/chat/completions: a fixed chat
completion, with a "tiny" object saying where the server runs (cwd, argv, the model asked for)
so the tests can check what the engine started.
"""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.monotonic()


def log(message):
    print(f"tiny_openai_server: {message}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive with Content-Length, like a real server

    def log_message(self, format, *args):
        log(format % args)

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        key = os.environ.get("API_KEY")
        return not key or self.headers.get("Authorization") == f"Bearer {key}"

    def do_GET(self):
        if self.path == "/health":
            loading = time.monotonic() - STARTED < float(os.environ.get("LOAD_SECONDS", "0"))
            if loading:
                self.send_json(503, {"error": {"message": "Loading model", "code": 503}})
            else:
                self.send_json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            if not self.authorized():
                return self.send_json(401, {"error": {"message": "Invalid API Key"}})
            self.send_json(200, {"object": "list", "data": [{"id": "tiny", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": "not found", "code": 404}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": "not found", "code": 404}})
        if not self.authorized():
            return self.send_json(401, {"error": {"message": "Invalid API Key"}})
        try:
            request = json.loads(body)
        except ValueError:
            return self.send_json(400, {"error": {"message": "not JSON"}})
        self.send_json(200, {
            "id": "chatcmpl-tiny",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", ""),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant",
                            "content": os.environ.get("ANSWER", "hello from python")},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
            "tiny": {"cwd": os.getcwd(), "argv": sys.argv},
        })


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ["PORT"])
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    log(f"listening on {host}:{port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
