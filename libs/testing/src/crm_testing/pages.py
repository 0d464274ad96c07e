"""Reading a whole list through its pages (crm_platform.pagination), as a client would."""

from __future__ import annotations

from typing import Any

import httpx


async def every_item(
    http: httpx.AsyncClient, url: str, *, headers: dict[str, str] | None = None, **params: Any
) -> list[Any]:
    """Every item of a paged list: follows `next_cursor` until it is null."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page_params = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await http.get(url, params=page_params, headers=headers)
        assert answer.status_code == 200, (url, answer.status_code, answer.text)
        page = answer.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
