"""Call an ASGI app directly, counting how much of the request body it pulls (no sockets).

The body-limit and auth-before-body tests need what no HTTP client shows: whether the server
read the body at all, and what a chunked (no Content-Length) body of a given size does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class Answer:
    status: int = 0
    body: bytes = b""
    pulled: int = 0  # request body bytes the app received
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(
    app: Any,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    chunks: Sequence[bytes] = (),
    chunk_count: int = 0,
    chunk: bytes = b"",
    client: str = "198.51.100.7",
    query: str = "",
) -> Answer:
    """One request; the body is ``chunks``, or ``chunk`` repeated ``chunk_count`` times (sent
    as a streamed body: ``more_body`` until the last)."""
    parts: list[bytes] = list(chunks) or [chunk] * chunk_count
    answer = Answer()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": (client, 50000),
        "server": ("testserver", 80),
    }
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent < len(parts):
            body = parts[sent]
            sent += 1
            answer.pulled += len(body)
            return {"type": "http.request", "body": body, "more_body": sent < len(parts)}
        if not parts and sent == 0:
            sent = 1
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # the client keeps the connection open
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return answer
