"""The leaderboard web server (FastAPI): token-authenticated uploads that the server
re-validates and re-grades itself, the JSON API, and the HTML pages.

Upload path, in order: the bearer token (401), the per-token rate limit (429), the declared
size (413 before a byte of the body is read), the body read chunk by chunk with the limit
enforced as it streams (413 as soon as it is passed: never buffered beyond the limit),
then `intake.grade_bundle` in a worker thread (400 unreadable, 422 invalid with the
issues, 503 when the server's benchmark data is missing), and one database transaction
that stores the whole submission (201; 409 for a bundle stored before). Nothing
the client computed is trusted: scores come from the server's own grading.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from .config import ServerConfig
from .db import Database, DuplicateSubmission
from .intake import BundleError, grade_bundle
from .pages import CSP, Links, render_entry, render_error, render_index
from .ranking import Row, rank

SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


class RateLimiter:
    """At most `limit` events per `window_s` seconds per key (sliding window)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> float | None:
        """None if allowed (and counted), else the seconds until the next slot frees."""
        now = time.monotonic()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.0, events[0] + self.window_s - now)
            events.append(now)
            return None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once it passes `limit` bytes (declared or not)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, "invalid Content-Length") from None
        if size > limit:
            raise HTTPException(413, f"the upload is {size} bytes; the limit is {limit}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPException(413, f"the upload is larger than the limit of {limit} "
                                    "bytes")
    except ClientDisconnect:
        raise HTTPException(400, "the client disconnected during the upload") from None
    return bytes(body)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _row_of(rows: list[Row], entry_id: int) -> Row | None:
    return next((row for row in rows if row.entry.id == entry_id), None)


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


def create_app(config: ServerConfig, database: Database | None = None) -> FastAPI:
    """The application for `config`; the database is migrated to the newest revision."""
    db = database or Database(config.db_url)
    db.upgrade()
    limiter = RateLimiter(config.rate_limit, config.rate_window_s)
    app = FastAPI(title=config.title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db, app.state.config, app.state.uploads = db, config, 0

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.post("/api/submissions", status_code=201)
    async def upload(request: Request) -> JSONResponse:
        submitter = config.tokens.check(_bearer(request))
        if submitter is None:
            raise HTTPException(401, "a valid upload token is required (Authorization: "
                                "Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})
        wait = limiter.allow(submitter)
        if wait is not None:
            raise HTTPException(429, f"too many uploads; retry in {wait:.0f} s",
                                headers={"Retry-After": str(max(1, round(wait)))})
        if app.state.uploads >= config.max_concurrent_uploads:
            raise HTTPException(503, "too many uploads in progress; retry shortly",
                                headers={"Retry-After": "5"})
        app.state.uploads += 1
        try:
            body = await read_body(request, config.max_upload_bytes)
            existing = await run_in_threadpool(db.find_bundle, body)
            if existing is not None:
                return JSONResponse({"detail": str(DuplicateSubmission(existing)),
                                     "id": existing}, status_code=409)
            intake = await run_in_threadpool(grade_bundle, body, config.data_dir)
        except BundleError as exc:
            raise HTTPException(exc.status, f"unreadable submission: {exc}") from None
        finally:
            app.state.uploads -= 1
        if any(issue.get("code") == "data_unavailable" for issue in intake.issues):
            return JSONResponse({"detail": "the server cannot load its benchmark data to "
                                 "re-grade; try again later", "issues": intake.issues},
                                status_code=503)
        if not intake.ok or intake.grading is None:
            return JSONResponse({"detail": "the submission is invalid",
                                 "issues": intake.issues}, status_code=422)
        try:
            row = await run_in_threadpool(
                db.insert, model=intake.model, submitter=submitter,
                perturbation=intake.perturbation, meta=intake.meta, bundle=body,
                grading=intake.grading)
        except DuplicateSubmission as exc:
            return JSONResponse({"detail": str(exc), "id": exc.existing_id}, status_code=409)
        return JSONResponse({"id": row.id, "url": f"/entry/{row.id}", "score": row.score,
                             "summary": row.summary, "issues": row.issues}, status_code=201)

    @app.get("/api/submissions")
    async def list_submissions() -> dict[str, Any]:
        rows = rank(await run_in_threadpool(db.entries))
        return {"submissions": [row.to_dict() | {"url": f"/entry/{row.entry.id}"}
                                for row in rows]}

    @app.get("/api/submissions/{entry_id}")
    async def get_submission(entry_id: int) -> dict[str, Any]:
        entry = await run_in_threadpool(db.get, entry_id)
        if entry is None:
            raise HTTPException(404, f"no submission {entry_id}")
        rows = rank(await run_in_threadpool(db.entries))
        return entry_detail(entry, _row_of(rows, entry_id))

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        rows = rank(await run_in_threadpool(db.entries))
        return HTMLResponse(render_index(rows, title=config.title, links=Links()))

    @app.get("/entry/{entry_id}", response_class=HTMLResponse)
    async def entry_page(entry_id: int) -> HTMLResponse:
        entry = await run_in_threadpool(db.get, entry_id)
        if entry is None:
            page = render_error(404, f"No submission {entry_id}.", title=config.title)
            return HTMLResponse(page, status_code=404)
        rows = rank(await run_in_threadpool(db.entries))
        page = render_entry(entry, _row_of(rows, entry_id), title=config.title, links=Links())
        return HTMLResponse(page)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="info",
                proxy_headers=False, server_header=False)
