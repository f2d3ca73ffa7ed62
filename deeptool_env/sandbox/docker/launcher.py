"""Container entry point of the docker sandbox backend (stdlib only, runs as PID 1).

The host bind-mounts a private directory holding three listening Unix sockets (`ctrl`,
`stdout`, `stderr`), copies of `worker.py` and `seccomp_filter.py` and the sandbox's seccomp
program (`seccomp.bpf`, compiled on the host), then starts
`python3.11 -I launcher.py --io DIR [--preload a,b] [--memory-mb N]`. This script first
installs that filter (stacked on Docker's default profile; there is no way to start the
worker without it), caps the address space (so a large allocation is a `MemoryError`, as
in the local backend), warms up the preload modules (before connecting, so their import
noise is no cell's output), connects the sockets, makes the two output sockets fds 1 and 2
and hands the control socket to `worker.main`. Being PID 1, the worker's end-of-cell
clean-up kills every process the cell left behind, and the host's `docker kill` ends them
all at once.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import signal
import socket
import sys
from types import ModuleType


def _parse(argv: list[str]) -> dict[str, str]:
    return dict(zip(argv[::2], argv[1::2], strict=False))


def _limit_address_space(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def _die_at_cpu_limit() -> None:
    """PID 1 ignores a SIGXCPU left at its default action: make it end the worker, so the host
    sees exit status 128 + SIGXCPU and reports the CPU budget (the hard limit follows)."""
    signal.signal(signal.SIGXCPU, lambda *_: os._exit(128 + signal.SIGXCPU))


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def _load(io_dir: str, filename: str, name: str) -> ModuleType:
    """Import a module the host put in the private directory."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(io_dir, filename))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _install_seccomp(io_dir: str) -> None:
    """Stack the sandbox's seccomp filter on Docker's profile, on every thread, for good."""
    seccomp_filter = _load(io_dir, "seccomp_filter.py", "deeptool_seccomp_filter")
    with open(os.path.join(io_dir, "seccomp.bpf"), "rb") as handle:
        seccomp_filter.install(handle.read())


def main(argv: list[str]) -> None:
    args = _parse(argv)
    io_dir = args["--io"]
    _install_seccomp(io_dir)
    if "--memory-mb" in args:
        _limit_address_space(int(args["--memory-mb"]))
    _die_at_cpu_limit()
    worker = _load(io_dir, "worker.py", "deeptool_worker")
    worker.preload(list(filter(None, args.get("--preload", "").split(","))))
    ctrl = _connect(os.path.join(io_dir, "ctrl"))
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = _connect(os.path.join(io_dir, name))
        os.dup2(stream.fileno(), fd)
        stream.close()
    worker.main(["--ctrl-fd", str(ctrl.detach()), "--chdir", args.get("--chdir", "/tmp")])


if __name__ == "__main__":
    main(sys.argv[1:])
