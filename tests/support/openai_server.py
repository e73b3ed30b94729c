"""A real HTTP server on 127.0.0.1, in a thread, that speaks enough of the OpenAI chat-completions API
(and serves a few plain pages) for the llm and http_get tools' own client code to run against it."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key"
HOLD_LIMIT_S = 60.0


@dataclass
class ServerState:
    """What the tests set up and read back: the chat requests received, and the next reply's status."""

    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    chat_status: int = 200
    # What the model answers; None: it echoes the prompt.
    chat_reply: str | None = None
    # A slow model for some requests: a prompt containing ``hold_when`` is answered only once ``release`` is set
    # (or after HOLD_LIMIT_S), while other requests are answered at once (each request has its own thread).
    hold_when: str | None = None
    release: threading.Event = field(default_factory=threading.Event)
    # The prompts of held requests, as they arrive (a test waits on it to know a request is being held).
    held: queue.Queue[str] = field(default_factory=queue.Queue)


class Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def do_POST(self) -> None:
        if self.path != "/v1/chat/completions":
            return self._reply(404, {"error": {"message": f"no route {self.path}"}})
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._reply(401, {"error": {"message": "invalid api key"}})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.state.chat_requests.append(body)
        if self.server.state.chat_status != 200:
            return self._reply(self.server.state.chat_status, {"error": {"message": "unavailable"}})
        prompt = body["messages"][-1]["content"]
        if self.server.state.hold_when is not None and self.server.state.hold_when in prompt:
            self.server.state.held.put(prompt)
            self.server.state.release.wait(HOLD_LIMIT_S)
        self._reply(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.server.state.chat_reply or f"echo: {prompt}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 7, "total_tokens": 0},
            },
        )

    def do_GET(self) -> None:
        if self.path == "/page":
            return self._reply(200, "x" * 100, content_type="text/plain")
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.end_headers()
            return None
        if self.path == "/escape":
            # A listed host trying to send the client to a host that is not listed.
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_port}/page")
            self.end_headers()
            return None
        return self._reply(404, "not found", content_type="text/plain")

    def _reply(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        data = (json.dumps(payload) if content_type == "application/json" else payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Keep pytest output clean; failures show up as assertion errors instead.
        return None


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = ServerState()
        self.base_url = f"http://127.0.0.1:{self.server_port}"

    def __enter__(self) -> LocalServer:
        # A short poll interval keeps shutdown (each test's teardown) quick.
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.release.set()  # no held request outlives the server
        self.shutdown()
        self.server_close()
