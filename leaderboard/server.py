"""The leaderboard web server (FastAPI): token-authenticated uploads that the server
re-validates and re-grades itself (`upload_route.py`), the JSON API, and the HTML pages.

`create_app` composes them: security headers on every response, the upload router, the
read-only API router and the page router. Nothing the client computed is trusted: scores
and costs come from the server's own grading and counting. Entry ids in paths are bounded
(404 for any id no row can have).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from .config import ServerConfig
from .db import Database
from .pages import CSP, Links, render_entry, render_error, render_index
from .ranking import Row, rank
from .upload_route import upload_router
from .uploads import Slots, entry_id

SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def _row_of(rows: list[Row], wanted: int) -> Row | None:
    return next((row for row in rows if row.entry.id == wanted), None)


async def _find(db: Database, segment: str) -> tuple[Any, Row | None] | None:
    """The entry a path segment names and its ranked row; None when there is none."""
    wanted = entry_id(segment)
    entry = None if wanted is None else await run_in_threadpool(db.get, wanted)
    if entry is None:
        return None
    rows = rank(await run_in_threadpool(db.entries))
    return entry, _row_of(rows, entry.id)


def entry_detail(entry: Any, row: Row | None) -> dict[str, Any]:
    """The API's full view of one submission (everything but the bundle bytes)."""
    return {
        **(row.to_dict() if row else {"id": entry.id, "rank": None, "model": entry.model}),
        "status": entry.status, "submitter": entry.submitter, "meta": entry.meta,
        "summary": entry.summary, "results": entry.results, "issues": entry.issues,
        "bundle_sha256": entry.bundle_sha256, "bundle_size": entry.bundle_size,
        "grader_version": entry.grader_version, "package_version": entry.package_version,
        "created_at": entry.created_at.isoformat(),
        "regraded_at": entry.regraded_at.isoformat() if entry.regraded_at else None,
        "url": f"/entry/{entry.id}",
    }


def api_router(db: Database) -> APIRouter:
    """The read-only JSON API: the ranked list, one submission, the health check."""
    router = APIRouter()

    @router.get("/api/submissions")
    async def list_submissions() -> dict[str, Any]:
        rows = rank(await run_in_threadpool(db.entries))
        return {"submissions": [row.to_dict() | {"url": f"/entry/{row.entry.id}"}
                                for row in rows]}

    @router.get("/api/submissions/{segment}")
    async def get_submission(segment: str) -> dict[str, Any]:
        found = await _find(db, segment)
        if found is None:
            raise HTTPException(404, f"no submission {segment[:40]!r}")
        return entry_detail(*found)

    @router.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return router


def page_router(db: Database, title: str) -> APIRouter:
    """The HTML pages: the leaderboard and one page per submission."""
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        rows = rank(await run_in_threadpool(db.entries))
        return HTMLResponse(render_index(rows, title=title, links=Links()))

    @router.get("/entry/{segment}", response_class=HTMLResponse)
    async def entry_page(segment: str) -> HTMLResponse:
        found = await _find(db, segment)
        if found is None:
            page = render_error(404, f"No submission {segment[:40]}.", title=title)
            return HTMLResponse(page, status_code=404)
        return HTMLResponse(render_entry(*found, title=title, links=Links()))

    return router


async def _security_headers(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def create_app(config: ServerConfig, database: Database | None = None) -> FastAPI:
    """The application for `config`; the database is migrated to the newest revision."""
    db = database or Database(config.db_url)
    db.upgrade()
    app = FastAPI(title=config.title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db, app.state.config, app.state.uploads = db, config, 0
    app.state.validations = Slots(config.max_concurrent_validations)
    app.middleware("http")(_security_headers)
    app.include_router(upload_router(config, db, app.state))
    app.include_router(api_router(db))
    app.include_router(page_router(db, config.title))
    return app


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="info",
                proxy_headers=False, server_header=False)
