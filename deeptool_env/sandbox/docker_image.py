"""The docker backend's plumbing: build the image offline, check the daemon, and the options
(limits, mounts, labels) of the containers that `docker_container` starts.

No registry pull is needed: `build_image` makes a Debian root filesystem with debootstrap
(from the Debian mirror apt uses), installs numpy and sympy into it with pip, and
`docker import`s it. The recipe lives in `docker/image.toml`. The worker and the launcher are
not baked in: the backend mounts the running package's copies into every container, so the
image never goes stale when the worker changes.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import SandboxConfig

DEFAULT_IMAGE = "deeptool-sandbox:latest"
LABEL = "deeptool.sandbox"  # on every container the backend starts (value: owner host:pid)
RECIPE_PATH = Path(__file__).with_name("docker") / "image.toml"
DOCKER_EXTRA_HINT = "install the Docker SDK: pip install 'deeptool-gym[docker]'"
DAEMON_HINT = "start a Docker daemon (as root: bash .ci/docker-setup.sh)"
BUILD_HINT = "build it with `deeptool-sandbox build-image` (or bash .ci/docker-setup.sh)"
_MB = 1024 * 1024


def owner_label() -> str:
    """Value of `LABEL` on the containers this process starts: `host:pid`."""
    return f"{os.uname().nodename}:{os.getpid()}"


def load_recipe() -> dict[str, Any]:
    """The image recipe (`docker/image.toml`)."""
    with RECIPE_PATH.open("rb") as handle:
        return tomllib.load(handle)


def docker_client(timeout_s: float = 60.0) -> Any:
    """A `docker.DockerClient` for the daemon of the environment (DOCKER_HOST or the socket)."""
    try:
        import docker
    except ImportError as exc:
        raise RuntimeError(f"the docker backend needs the Docker SDK: {DOCKER_EXTRA_HINT}") from exc
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except Exception as exc:
        raise RuntimeError(f"no Docker daemon is reachable ({exc}); {DAEMON_HINT}") from exc
    return client


def docker_available(image: str = DEFAULT_IMAGE) -> tuple[bool, str]:
    """Whether the docker backend can run here; the reason says how to fix it if not."""
    try:
        client = docker_client(timeout_s=10)
    except RuntimeError as exc:
        return False, str(exc)
    try:
        client.images.get(image)
    except Exception:
        return False, f"the sandbox image {image!r} does not exist; {BUILD_HINT}"
    finally:
        client.close()
    return True, f"Docker daemon reachable, image {image!r} present"


@functools.cache
def _image_layout() -> tuple[str, str]:
    """Where the image mounts the private directory, and its interpreter."""
    recipe = load_recipe()
    return recipe["config"]["mountpoint"], recipe["python"]["interpreter"]


def container_options(config: SandboxConfig, io_dir: str, token: str,
                      uid: int) -> dict[str, Any]:
    """Arguments of `containers.create`: every limit of the config, no host environment.

    `uid` (and gid) is leased from `uidpool` by the caller: unique among the live sessions
    of every backend on the machine, since RLIMIT_NPROC counts a uid's processes across
    all containers. Docker's default seccomp profile stays on; the launcher stacks the
    sandbox's own filter on top of it (see `docker/launcher.py`).
    """
    from docker.types import LogConfig, Mount, Ulimit

    mount, python = _image_layout()
    cpu_s = int(config.cpu_s_per_session)
    fsize = config.max_file_mb * _MB
    return {
        "image": config.docker_image,
        "command": [python, "-I", f"{mount}/{token}/launcher.py", "--io", f"{mount}/{token}",
                    "--memory-mb", str(config.memory_mb), "--preload", ",".join(config.preload)],
        "name": f"deeptool-sbx-{token[:16]}",
        "labels": {LABEL: owner_label()},
        "hostname": "sandbox",
        "user": f"{uid}:{uid}",
        "working_dir": "/tmp",
        "network_mode": None if config.network else "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={config.max_file_mb}m,mode=1777"},
        "shm_size": f"{config.max_file_mb}m",
        "mounts": [Mount(mount, io_dir, type="bind", read_only=True)],
        "mem_limit": f"{config.memory_mb}m",
        "memswap_limit": f"{config.memory_mb}m",
        "pids_limit": config.max_processes,
        "nano_cpus": 1_000_000_000,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "oom_score_adj": 500,
        "ulimits": [
            Ulimit(name="nofile", soft=config.max_open_files, hard=config.max_open_files),
            Ulimit(name="fsize", soft=fsize, hard=fsize),
            Ulimit(name="nproc", soft=config.max_processes, hard=config.max_processes),
            Ulimit(name="cpu", soft=cpu_s, hard=cpu_s + 2),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "log_config": LogConfig(type="json-file", config={"max-size": "1m"}),
    }


def _run(cmd: list[str], log: Callable[[str], None]) -> None:
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-4000:]}")


def _pinned(names: list[str]) -> list[str]:
    """`name==version` for packages installed on the host, so both backends agree."""
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def _make_rootfs(rootfs: Path, recipe: dict[str, Any], mirror: str | None,
                 log: Callable[[str], None]) -> None:
    deb, py, trim = recipe["debian"], recipe["python"], recipe["trim"]
    mirror = mirror or os.environ.get("DEEPTOOL_DEBIAN_MIRROR") or deb["mirror"]
    _run(["debootstrap", f"--variant={deb['variant']}", "--include=" + ",".join(deb["packages"]),
          deb["suite"], str(rootfs), mirror], log)
    site = rootfs / py["site_packages"].lstrip("/")
    platforms = [arg for p in py["platforms"] for arg in ("--platform", p)]
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-compile", "--only-binary=:all:", "--implementation", "cp",
          "--python-version", "3.11", *platforms, "--target", str(site),
          *_pinned(py["packages"])], log)
    for rel in trim["paths"]:
        shutil.rmtree(rootfs / rel, ignore_errors=True)
    for name in trim["site_packages_dirs"]:
        for path in sorted(site.rglob(name), reverse=True):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
    _run(["chroot", str(rootfs), py["interpreter"], "-m", "compileall", "-q", "-j", "0",
          py["site_packages"]], log)
    mountpoint = rootfs / recipe["config"]["mountpoint"].lstrip("/")
    mountpoint.mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)


def _changes(recipe: dict[str, Any], labels: dict[str, str]) -> list[str]:
    cfg = recipe["config"]
    changes = [f"USER {cfg['user']}", f"WORKDIR {cfg['workdir']}", f"CMD {json.dumps(cfg['cmd'])}"]
    changes += [f"ENV {key}={value}" for key, value in cfg["env"].items()]
    changes += [f"LABEL {key}={value}" for key, value in labels.items()]
    return changes


def build_image(tag: str = DEFAULT_IMAGE, *, mirror: str | None = None,
                workdir: str | None = None,
                log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
                ) -> dict[str, Any]:
    """Build the sandbox image offline and tag it; returns {tag, id, size_mb, seconds}.

    Needs root (debootstrap and chroot), `debootstrap`, `tar`, a Docker daemon and the Debian
    mirror apt uses (`mirror` or $DEEPTOOL_DEBIAN_MIRROR overrides the recipe's).
    """
    started = time.monotonic()
    if os.geteuid() != 0:
        raise RuntimeError("building the sandbox image needs root (debootstrap, chroot)")
    for tool in ("debootstrap", "tar"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: apt-get install -y {tool}")
    client = docker_client(timeout_s=600)
    from docker.utils import parse_repository_tag

    recipe = load_recipe()
    try:
        with tempfile.TemporaryDirectory(prefix="deeptool-image-", dir=workdir) as tmp:
            rootfs = Path(tmp) / "rootfs"
            _make_rootfs(rootfs, recipe, mirror, log)
            tarball = Path(tmp) / "rootfs.tar"
            _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], log)
            repository, version = parse_repository_tag(tag)
            labels = {f"{LABEL}.image": "1", f"{LABEL}.recipe": RECIPE_PATH.name}
            log(f"importing {tarball.stat().st_size / 1e6:.0f} MB as {tag}")
            client.api.import_image(src=str(tarball), repository=repository,
                                    tag=version or "latest",
                                    changes=_changes(recipe, labels))
        image = client.images.get(tag)
        return {"tag": tag, "id": image.id, "size_mb": round(image.attrs["Size"] / 1e6, 1),
                "seconds": round(time.monotonic() - started, 1)}
    finally:
        client.close()


def ensure_image(tag: str = DEFAULT_IMAGE) -> str:
    """Build the image unless it exists; returns what was done (for setup scripts)."""
    client = docker_client()
    try:
        client.images.get(tag)
        return f"image {tag} already present"
    except Exception:
        pass
    finally:
        client.close()
    report = build_image(tag)
    return f"built {report['tag']} ({report['size_mb']} MB) in {report['seconds']} s"


def remove_containers(orphans_only: bool = True) -> int:
    """Remove the backend's containers (only those whose owning process is gone, by default).

    Returns how many were removed. Containers are labelled `deeptool.sandbox=HOST:PID`. Uses
    the low-level list, which (unlike `containers.list`) does not race with other removals.
    """
    client = docker_client()
    removed = 0
    try:
        for info in client.api.containers(all=True, filters={"label": LABEL}):
            if orphans_only and _owner_alive((info.get("Labels") or {}).get(LABEL, "")):
                continue
            try:
                client.api.remove_container(info["Id"], force=True)
                removed += 1
            except Exception:  # removed meanwhile
                continue
    finally:
        client.close()
    return removed


def _owner_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != os.uname().nodename or not pid.isdigit():
        return True  # another machine's container, or unknown: leave it alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    print(ensure_image(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_IMAGE))
