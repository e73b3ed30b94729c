"""A real HTTP server on 127.0.0.1 speaking just enough of the chat-completions API for the evolver tests.

Replies follow the prompt: rewrite requests get a harder request, the equality judge gets `judgement`,
anything else is answered. Requests are recorded so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAiStub(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.judgement = "Not Equal"
        self.answer = "Here is a careful answer that covers every step and every constraint of the request."
        self.failures_before_success = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"
        # A short poll interval lets shutdown() return at once instead of after half a second.
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def __enter__(self) -> OpenAiStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: OpenAiStub

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if self.server.failures_before_success > 0:
            self.server.failures_before_success -= 1
            return self._reply(503, {"error": {"message": "overloaded"}})
        prompt = body["messages"][-1]["content"]
        if "#Rewritten Request#" in prompt:
            given = prompt.split("#Given Request#:\n", 1)[1].split("\n\n#Rewritten Request#", 1)[0]
            text = f"{given} Do it in three dependent steps and cite the source of each figure."
        elif "Equal or Not Equal" in prompt:
            text = self.server.judgement
        else:
            text = self.server.answer
        self._reply(200, {"choices": [{"message": {"role": "assistant", "content": text}}], "model": body["model"]})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
