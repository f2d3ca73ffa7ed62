"""Static export of the leaderboard: `index.html` and `entry/<id>.html` for every accepted
submission, the same pages the server renders, with relative links so the directory can be
served by any static host.

The site is written into a fresh sibling directory and swapped in with renames, so a reader
(or a web server) sees either the old site or the new one, never a half-written mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .config import ServerConfig
from .db import Database
from .pages import Links, render_entry, render_index
from .ranking import rank


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def render_site(db: Database, target: Path, *, title: str) -> list[Path]:
    """Render every page into `target` (an empty directory); returns the files written."""
    rows = rank(db.entries())
    written = [target / "index.html"]
    _write(written[0], render_index(rows, title=title, links=Links(root="", static=True)))
    for row in rows:
        path = target / "entry" / f"{int(row.entry.id)}.html"
        _write(path, render_entry(row.entry, row, title=title,
                                  links=Links(root="../", static=True)))
        written.append(path)
    return written


def _swap(staging: Path, out: Path) -> None:
    """Put `staging` at `out`, replacing what was there with two renames."""
    if not out.exists():
        os.replace(staging, out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rmdir(retired)
    os.replace(out, retired)
    try:
        os.replace(staging, out)
    except OSError:
        os.replace(retired, out)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def build_site(config: ServerConfig, out: str | os.PathLike[str],
               database: Database | None = None) -> list[Path]:
    """Export the leaderboard of `config.db_url` to the directory `out` atomically; returns
    the paths of the pages as they are after the swap."""
    target = Path(out).resolve()
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    db = database or Database(config.db_url)
    db.upgrade()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        written = render_site(db, staging, title=config.title)
        staging.chmod(0o755)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if database is None:
            db.close()
    return [target / path.relative_to(staging) for path in written]
