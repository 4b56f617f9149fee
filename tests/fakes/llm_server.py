"""A local OpenAI-compatible chat completions server that can answer, stall or fail."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

LONG_ANSWER = " ".join(f"Sentence number {n} of a long answer." for n in range(1, 11))


class FakeLLM(LoopbackServer):
    """Serves POST /v1/chat/completions; `mode` is ok, long, slow, error or garbage."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.answer = "The council approved the budget. Buses will run later."
        self.tokens = 42
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "error":
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        if self.mode == "garbage":
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        content = LONG_ANSWER if self.mode == "long" else self.answer
        return web.Response(
            text=json.dumps(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": content},
                        }
                    ],
                    "usage": {
                        "prompt_tokens": self.tokens - 10,
                        "completion_tokens": 10,
                        "total_tokens": self.tokens,
                    },
                }
            ),
            content_type="application/json",
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._complete)
