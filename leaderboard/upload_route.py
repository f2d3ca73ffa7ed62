"""The upload route `POST /api/submissions`: every refusal as early as it can be decided,
then the server's own grading and one transaction that stores the submission.

In order: the bearer token (401), the per-token rate limit (429), the uploads in progress
(503), the declared size (413 before a byte of the body is read), the body read chunk by
chunk with the limit enforced as it streams (413 as soon as it is passed: never buffered
beyond the limit), the same bytes stored before (409), a free validation slot (503
otherwise), then `intake.grade_bundle` in a worker thread under one time budget (413 over
the line limit, 409 for content stored before, checked before any grading; 400
unreadable, 422 invalid with the issues, 503 when the server's benchmark data is
missing), and one database transaction that stores the whole submission (201). Nothing the
client computed is trusted: scores and costs come from the server's own grading.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from .config import ServerConfig
from .db import Database, DuplicateSubmission
from .intake import BundleError, Intake, grade_bundle
from .uploads import RateLimiter, read_body


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _duplicate(exc: DuplicateSubmission) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "id": exc.existing_id}, status_code=409)


def _refusal(intake: Intake) -> JSONResponse | None:
    """503 when the server could not grade, 422 when the submission is invalid."""
    if any(issue.get("code") == "data_unavailable" for issue in intake.issues):
        return JSONResponse({"detail": "the server cannot load its benchmark data to "
                             "re-grade; try again later", "issues": intake.issues},
                            status_code=503)
    if not intake.ok or intake.grading is None:
        detail = "the submission is invalid" + (f"; metadata: {intake.metadata_problem}"
                                                if intake.metadata_problem else "")
        return JSONResponse({"detail": detail,
                             "issues": intake.issues, "issue_counts": intake.issue_counts,
                             "issues_omitted": intake.issues_omitted}, status_code=422)
    return None


class Uploads:
    """The upload path of one app; `state` holds the counters the app shares
    (`uploads` in progress, the `validations` slots)."""

    def __init__(self, config: ServerConfig, db: Database, state: State) -> None:
        self.config, self.db, self.state = config, db, state
        self.limiter = RateLimiter(config.rate_limit, config.rate_window_s)
        self.grade: Callable[[bytes], Intake] = partial(
            grade_bundle, data_dir=config.data_dir, budget_s=config.validation_budget_s,
            tokenizers=config.tokenizers, stored=db.find_content)

    def admit(self, request: Request) -> str:
        """The submitter of an upload that may start now; else 401, 429 or 503."""
        submitter = self.config.tokens.check(_bearer(request))
        if submitter is None:
            raise HTTPException(401, "a valid upload token is required (Authorization: "
                                "Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})
        wait = self.limiter.allow(submitter)
        if wait is not None:
            raise HTTPException(429, f"too many uploads; retry in {wait:.0f} s",
                                headers={"Retry-After": str(max(1, round(wait)))})
        if self.state.uploads >= self.config.max_concurrent_uploads:
            raise HTTPException(503, "too many uploads in progress; retry shortly",
                                headers={"Retry-After": "5"})
        return submitter

    async def receive_and_grade(self, request: Request) -> tuple[bytes, Intake]:
        """The body and the server's grading of it (raises DuplicateSubmission for bytes
        stored before, HTTPException for a refusal)."""
        self.state.uploads += 1
        try:
            body = await read_body(request, self.config.max_upload_bytes)
            existing = await run_in_threadpool(self.db.find_bundle, body)
            if existing is not None:
                raise DuplicateSubmission(existing)
            if not self.state.validations.try_acquire():
                raise HTTPException(503, "the server is validating as many submissions as "
                                    "it can; retry shortly", headers={"Retry-After": "30"})
            try:
                return body, await run_in_threadpool(self.grade, body)
            finally:
                self.state.validations.release()
        except BundleError as exc:
            prefix = "unreadable submission: " if exc.status == 400 else ""
            raise HTTPException(exc.status, f"{prefix}{exc}") from None
        finally:
            self.state.uploads -= 1

    async def __call__(self, request: Request) -> JSONResponse:
        submitter = self.admit(request)
        try:
            body, intake = await self.receive_and_grade(request)
        except DuplicateSubmission as exc:
            return _duplicate(exc)
        refused = _refusal(intake)
        if refused is not None:
            return refused
        try:
            row = await run_in_threadpool(
                self.db.insert, model=intake.model, submitter=submitter,
                perturbation=intake.perturbation, meta=intake.meta, bundle=body,
                content_sha256=intake.content_sha256, grading=intake.grading)
        except DuplicateSubmission as exc:
            return _duplicate(exc)
        return JSONResponse({"id": row.id, "url": f"/entry/{row.id}", "score": row.score,
                             "summary": row.summary, "issues": row.issues}, status_code=201)


def upload_router(config: ServerConfig, db: Database, state: State) -> APIRouter:
    """The router with the upload route."""
    router = APIRouter()
    uploads = Uploads(config, db, state)

    async def upload(request: Request) -> JSONResponse:
        return await uploads(request)

    router.add_api_route("/api/submissions", upload, methods=["POST"], status_code=201)
    return router


__all__ = ["Uploads", "upload_router"]
