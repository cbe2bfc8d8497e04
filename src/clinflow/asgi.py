"""Answering from raw ASGI code (the access gate, the scoring fast path) without a framework."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import Send


async def send_json(
    send: Send,
    status: int,
    content: Any,
    media_type: str = "application/json",
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """One complete JSON response (orjson-rendered, with its Content-Length)."""
    payload = orjson.dumps(content)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
