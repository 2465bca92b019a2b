"""Stateless pagination in a web API: the cursor travels to the client and back.

Each request of our client fetches one page from the Server API; the response carries an
opaque `next` token (the page's cursor, base64url JSON) that the client sends to get the
following page. The server keeps nothing between requests. Built on the FastAPI recipe.
Run it from docs/examples with `FPJS_API_KEY=... uvicorn stateless_pagination:app`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi_app import Fingerprint, SessionFactory
from fastapi_app import create_app as create_base_app
from web_common import session_from_environment, visit_json

import fpjs_async

router = APIRouter()


def encode_token(visitor_id: str, cursor: dict[str, Any] | None) -> str | None:
    """The `next` token of a page: its cursor, bound to the visitor. `None` on the last page."""
    if cursor is None:
        return None
    data = json.dumps({"visitor_id": visitor_id, **cursor}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_token(visitor_id: str, token: str) -> dict[str, Any]:
    """The cursor in a `next` token, as keyword arguments of `get_visits`.

    Raises:
        HTTPException: 400, the token is not one of ours for this visitor.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise HTTPException(400, "invalid next token") from None
    if not isinstance(data, dict) or data.pop("visitor_id", None) != visitor_id:
        raise HTTPException(400, "invalid next token")
    # Exactly one cursor, of the right type: the client cannot smuggle in other arguments.
    if data.keys() == {"pagination_key"} and isinstance(data["pagination_key"], str):
        return data
    if data.keys() == {"before"} and type(data["before"]) is int and data["before"] >= 0:
        return data
    raise HTTPException(400, "invalid next token")


@router.get("/visitors/{visitor_id}/pages")
async def visits_page(
    visitor_id: str,
    fingerprint: Fingerprint,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    next_token: Annotated[str | None, Query(alias="next")] = None,
) -> dict[str, Any]:
    """One page of the visitor's history; pass its `next` back to get the following one."""
    cursor = {} if next_token is None else decode_token(visitor_id, next_token)
    try:
        page = await fingerprint.get_visits(visitor_id, limit=limit, **cursor)
    except fpjs_async.BadRequestError:
        if not cursor:
            raise
        # The API refused the cursor (e.g. a made-up pagination key): the client's fault.
        raise HTTPException(400, "invalid next token") from None
    return {
        "visitor_id": page.visitor_id,
        "visits": [visit_json(visit) for visit in page.visits],
        "next": encode_token(visitor_id, page.next_page_params()),
    }


def create_app(open_session: SessionFactory = session_from_environment) -> FastAPI:
    """The FastAPI recipe's application, with the paged endpoint added."""
    app = create_base_app(open_session)
    app.include_router(router)
    return app


app = create_app()
