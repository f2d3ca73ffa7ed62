"""`deeptool-leaderboard`: serve the leaderboard, migrate its database, re-grade stored
submissions, validate or submit a results directory, and export a static site.

Errors a user can fix (a bad token file, an unreachable server, an invalid submission) end
with a one-line message and a non-zero exit code, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

from .config import DB_ENV, TOKENS_ENV, ConfigError, ServerConfig, database_url, load_tokens

TOKEN_ENV = "DEEPTOOL_LEADERBOARD_TOKEN"
VALIDATE_HELP = """Check a results directory as the server will, and say separately whether
the results are valid (run.json's settings, every sample re-graded) and whether the
submission metadata is complete (model_name, and model_link, notes and claimed metrics when
given).

The model name is, in order: --model-name, metadata.json's model_name, the model run.json
names (`deeptool-bench run --model`, or the embedded model of the hf and vllm agents, with
its LoRA adapter). A run of a custom agent without --model names none: its metadata is
incomplete until --model-name or a metadata.json beside run.json gives it (fields:
model_name, model_link, decoding, claimed, notes).

Exit status: 0 when the results are valid (incomplete metadata is reported, not fatal),
1 when they are not; with --submission, 0 only when the metadata is complete too, as
`submit` and the server require."""


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None,
                        help=f"SQLite file path or database URL (postgresql://...); default "
                             f"${DB_ENV} or leaderboard.db")


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="benchmark data directory used to re-grade (default "
                             "$DEEPTOOL_DATA_DIR)")


def _tokenizer_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tokenizer", action="append", default=[], metavar="MODEL=PATH",
                        help="count the tokens of MODEL's submissions with this tokenizer.json "
                             "(or model directory); repeatable")


def _model_name_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-name", default=None, metavar="NAME",
                        help="the model's name on the leaderboard (default: metadata.json's "
                             "model_name, else the model run.json names)")


def _tokenizers(values: list[str]) -> dict[str, str]:
    from .tokens import parse_tokenizer_option

    return dict(parse_tokenizer_option(value) for value in values)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="deeptool-leaderboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the leaderboard web server")
    _db_option(serve)
    _data_option(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--token-file", default=None,
                       help=f"upload tokens, one `name:token` a line (also ${TOKENS_ENV})")
    serve.add_argument("--max-upload-mb", type=float, default=64.0)
    serve.add_argument("--rate-limit", type=int, default=30, help="uploads per window per token")
    serve.add_argument("--rate-window", type=float, default=60.0, help="window in seconds")
    serve.add_argument("--max-validations", type=int, default=2,
                       help="submissions validated at once (more get 503)")
    serve.add_argument("--validation-budget", type=float, default=300.0,
                       help="seconds one validation may take, parsing included")
    _tokenizer_option(serve)

    db = sub.add_parser("db", help="database schema (alembic migrations)")
    db.add_argument("action", choices=["upgrade", "current"])
    _db_option(db)

    regrade = sub.add_parser("regrade", help="re-grade every stored submission")
    _db_option(regrade)
    _data_option(regrade)
    _tokenizer_option(regrade)

    validate = sub.add_parser(
        "validate", help="check a results directory before submitting",
        description=VALIDATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    validate.add_argument("results", help="a `deeptool-bench run` --out directory or a bundle")
    validate.add_argument("--submission", action="store_true",
                          help="exit 0 only when the metadata is complete too (what `submit` "
                               "requires); default: only the results decide the exit status")
    _model_name_option(validate)
    _data_option(validate)

    submit = sub.add_parser("submit", help="validate locally, then upload to a server")
    submit.add_argument("results")
    _model_name_option(submit)
    submit.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8080")
    submit.add_argument("--token", default=None, help=f"upload token (default ${TOKEN_ENV})")
    submit.add_argument("--timeout", type=float, default=300.0)
    _data_option(submit)

    build = sub.add_parser("build", help="export the leaderboard as a static site")
    build.add_argument("--out", required=True)
    _db_option(build)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .server import serve

    config = ServerConfig(db_url=database_url(args.db), data_dir=args.data_dir,
                          tokens=load_tokens(args.token_file),
                          max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                          rate_limit=args.rate_limit, rate_window_s=args.rate_window,
                          max_concurrent_validations=args.max_validations,
                          validation_budget_s=args.validation_budget,
                          tokenizers=_tokenizers(args.tokenizer))
    if not len(config.tokens):
        print(f"warning: no upload tokens (--token-file or ${TOKENS_ENV}); uploads are "
              "refused", file=sys.stderr)
    serve(config, host=args.host, port=args.port)
    return 0


def _db(args: argparse.Namespace) -> int:
    from .db import Database

    db = Database(args.db)
    if args.action == "upgrade":
        db.upgrade()
    print(f"{db.url.split('://', 1)[0]} database at revision {db.current_revision()}")
    db.close()
    return 0


def _regrade(args: argparse.Namespace) -> int:
    from .db import Database
    from .intake import RegradeError, describe_moves, regrade_all

    tokenizers = _tokenizers(args.tokenizer)
    db = Database(args.db)
    db.upgrade()
    try:
        moves = regrade_all(db, args.data_dir, tokenizers)
    except RegradeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    for line in describe_moves(moves):
        print(line)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .intake import check_results

    report = check_results(args.results, args.data_dir, model_name=args.model_name,
                           submission=args.submission)
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1


def _post(url: str, token: str, body: bytes, timeout: float) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            payload = {"detail": exc.reason}
        return exc.code, payload


def _submit(args: argparse.Namespace) -> int:
    from .intake import check_results

    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise ConfigError(f"an upload token is needed: --token or ${TOKEN_ENV}")
    report = check_results(args.results, args.data_dir, model_name=args.model_name)
    for line in report.lines:
        print(line)
    if not report.ok or report.bundle is None:
        print("not submitted: fix the issues above first", file=sys.stderr)
        return 1
    url = args.server.rstrip("/") + "/api/submissions"
    try:
        status, payload = _post(url, token, report.bundle, args.timeout)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, BrokenPipeError | ConnectionResetError):
            print(f"error: {args.server} closed the connection during the upload of "
                  f"{len(report.bundle)} bytes (over its size limit?)", file=sys.stderr)
        else:
            print(f"error: cannot reach {args.server}: {reason}", file=sys.stderr)
        return 2
    if status == 201:
        entry = args.server.rstrip("/") + str(payload.get("url", ""))
        print(f"accepted as entry {payload.get('id')}: {entry}")
        return 0
    print(f"error: the server refused the submission ({status}): {payload.get('detail')}",
          file=sys.stderr)
    for issue in payload.get("issues") or []:
        print(f"  {issue}", file=sys.stderr)
    return 1


def _build(args: argparse.Namespace) -> int:
    from .site import build_site

    paths = build_site(ServerConfig(db_url=database_url(args.db)), args.out)
    print(f"wrote {len(paths)} pages to {args.out}")
    return 0


COMMANDS = {"serve": _serve, "db": _db, "regrade": _regrade, "validate": _validate,
            "submit": _submit, "build": _build}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `deeptool-leaderboard`; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        from sqlalchemy.engine import make_url

        url = make_url(database_url(getattr(args, "db", None)))
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: database {url.render_as_string(hide_password=True)}: {first}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
