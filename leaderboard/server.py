"""The leaderboard web server (FastAPI): token-authenticated uploads that the server
re-validates and re-grades itself, the JSON API, and the HTML pages.

Upload path, in order: the bearer token (401), the per-token rate limit (429), the declared
size (413 before a byte of the body is read), the body read chunk by chunk with the limit
enforced as it streams (413 as soon as it is passed: never buffered beyond the limit), the
same bytes stored before (409), a free validation slot (503 otherwise), then
`intake.grade_bundle` in a worker thread under one time budget (413 over the line limit,
409 for content stored before, checked before any grading; 400 unreadable, 422 invalid
with the issues, 503 when the server's benchmark data is missing), and one database
transaction that stores the whole submission (201). Nothing the client computed is
trusted: scores and costs come from the server's own grading and counting. Entry ids in
paths are bounded (404 for any id no row can have).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from .config import ServerConfig
from .db import Database, DuplicateSubmission
from .intake import BundleError, grade_bundle
from .pages import CSP, Links, render_entry, render_error, render_index
from .ranking import Row, rank
from .uploads import RateLimiter, Slots, entry_id, read_body

SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _row_of(rows: list[Row], wanted: int) -> Row | None:
    return next((row for row in rows if row.entry.id == wanted), None)


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
    grade = partial(grade_bundle, data_dir=config.data_dir,
                    budget_s=config.validation_budget_s, tokenizers=config.tokenizers,
                    stored=db.find_content)
    app = FastAPI(title=config.title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db, app.state.config, app.state.uploads = db, config, 0
    app.state.validations = Slots(config.max_concurrent_validations)

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
                raise DuplicateSubmission(existing)
            if not app.state.validations.try_acquire():
                raise HTTPException(503, "the server is validating as many submissions as "
                                    "it can; retry shortly", headers={"Retry-After": "30"})
            try:
                intake = await run_in_threadpool(grade, body)
            finally:
                app.state.validations.release()
        except BundleError as exc:
            prefix = "unreadable submission: " if exc.status == 400 else ""
            raise HTTPException(exc.status, f"{prefix}{exc}") from None
        except DuplicateSubmission as exc:
            return JSONResponse({"detail": str(exc), "id": exc.existing_id}, status_code=409)
        finally:
            app.state.uploads -= 1
        if any(issue.get("code") == "data_unavailable" for issue in intake.issues):
            return JSONResponse({"detail": "the server cannot load its benchmark data to "
                                 "re-grade; try again later", "issues": intake.issues},
                                status_code=503)
        if not intake.ok or intake.grading is None:
            return JSONResponse({"detail": "the submission is invalid",
                                 "issues": intake.issues, "issue_counts": intake.issue_counts,
                                 "issues_omitted": intake.issues_omitted}, status_code=422)
        try:
            row = await run_in_threadpool(
                db.insert, model=intake.model, submitter=submitter,
                perturbation=intake.perturbation, meta=intake.meta, bundle=body,
                content_sha256=intake.content_sha256, grading=intake.grading)
        except DuplicateSubmission as exc:
            return JSONResponse({"detail": str(exc), "id": exc.existing_id}, status_code=409)
        return JSONResponse({"id": row.id, "url": f"/entry/{row.id}", "score": row.score,
                             "summary": row.summary, "issues": row.issues}, status_code=201)

    @app.get("/api/submissions")
    async def list_submissions() -> dict[str, Any]:
        rows = rank(await run_in_threadpool(db.entries))
        return {"submissions": [row.to_dict() | {"url": f"/entry/{row.entry.id}"}
                                for row in rows]}

    @app.get("/api/submissions/{segment}")
    async def get_submission(segment: str) -> dict[str, Any]:
        wanted = entry_id(segment)
        entry = None if wanted is None else await run_in_threadpool(db.get, wanted)
        if entry is None:
            raise HTTPException(404, f"no submission {segment[:40]!r}")
        rows = rank(await run_in_threadpool(db.entries))
        return entry_detail(entry, _row_of(rows, entry.id))

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        rows = rank(await run_in_threadpool(db.entries))
        return HTMLResponse(render_index(rows, title=config.title, links=Links()))

    @app.get("/entry/{segment}", response_class=HTMLResponse)
    async def entry_page(segment: str) -> HTMLResponse:
        wanted = entry_id(segment)
        entry = None if wanted is None else await run_in_threadpool(db.get, wanted)
        if entry is None:
            page = render_error(404, f"No submission {segment[:40]}.", title=config.title)
            return HTMLResponse(page, status_code=404)
        rows = rank(await run_in_threadpool(db.entries))
        page = render_entry(entry, _row_of(rows, entry.id), title=config.title, links=Links())
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
