"""The warm fork-server of the local backend (run as a script by `local.py`).

It imports the preload modules once (numpy, sympy, ...), then forks one isolated session
per request, so a session starts in milliseconds with those modules already in memory.
For each session:

    server ── fork ──> keeper (root, host PID namespace): unshare namespaces, build the
                        root file system, fork the session, report its pid and, when it
                        dies, how (`exited` frame), then exit.
                  └── fork ──> session (PID 1 of a new PID namespace): /proc, rlimits,
                               own unprivileged uid, empty environment, then the worker
                               loop. Killing it kills every process the cell started.

The host sends `{"op": "spawn"}` on a SOCK_SEQPACKET socket with three fds attached (the
session's control socket and the write ends of its stdout/stderr pipes).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import isolation  # noqa: E402  (a sibling module; this file runs as a script)
import worker  # noqa: E402

del sys.path[0]

# First uid of the per-session range: a session's uid is UID_BASE + its keeper's pid, so no
# two live sessions share a uid (and RLIMIT_NPROC) even across sandboxes.
UID_BASE = 1_000_000


def _session(ctrl: socket.socket, out_fd: int, err_fd: int, uid: int, cfg: dict) -> None:
    """First process of the new PID namespace: finish isolation and serve cells."""
    os.setsid()
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    isolation.enter_pid_namespace_as_init()
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.closerange(3, ctrl.fileno())
    os.closerange(ctrl.fileno() + 1, 1 << 16)
    os.environ.clear()
    os.environ.update(cfg["env"])
    isolation.set_limits(
        memory_bytes=isolation.address_space_bytes() + cfg["memory_mb"] * 2**20,
        cpu_s=cfg["cpu_s_per_session"], processes=cfg["max_processes"],
        file_bytes=cfg["max_file_mb"] * 2**20, open_files=cfg["max_open_files"])
    isolation.drop_privileges(uid)
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by setuid
    worker.serve(ctrl)


def _keeper(fds: list[int], cfg: dict, paths: list[str]) -> None:
    """Set up the namespaces, start the session, report how it ends. Never returns."""
    ctrl = socket.socket(fileno=fds[0])
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:
            os._exit(1)
        uid = UID_BASE + os.getpid()
        flags = (isolation.CLONE_NEWNS | isolation.CLONE_NEWPID | isolation.CLONE_NEWIPC
                 | isolation.CLONE_NEWUTS)
        if not cfg["network"]:
            flags |= isolation.CLONE_NEWNET
        isolation.unshare(flags)
        isolation.sethostname("sandbox")
        isolation.build_root(paths, cfg["max_file_mb"])
        child = os.fork()
        if child == 0:
            try:
                _session(ctrl, fds[1], fds[2], uid, cfg)
            except BaseException as exc:
                _report_error(ctrl, f"session setup failed: {exc}")
            os._exit(0)
        os.close(fds[1])
        os.close(fds[2])
        worker.send_frame(ctrl, {"op": "started", "pid": child})
        _, status = os.waitpid(child, 0)
        frame = {"op": "exited", "signal": None, "code": None}
        if os.WIFSIGNALED(status):
            frame["signal"] = os.WTERMSIG(status)
        else:
            frame["code"] = os.WEXITSTATUS(status)
        worker.send_frame(ctrl, frame)
    except BaseException as exc:
        _report_error(ctrl, f"sandbox isolation failed: {exc}")
    os._exit(0)


def _report_error(ctrl: socket.socket, message: str) -> None:
    try:
        worker.send_frame(ctrl, {"op": "error", "message": message})
    except OSError:
        pass


def main() -> None:
    server = socket.socket(fileno=int(sys.argv[1]))
    cfg = json.loads(sys.argv[2])
    # No parent-death signal here: it fires when the *thread* that started the server
    # exits, not the host process. The host's death closes `server`, and recv returns.
    isolation.prctl(isolation.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, worker.reap_children)
    sys.set_int_max_str_digits(0)
    errors = worker.preload(cfg["preload"])
    paths = isolation.python_paths(tuple(cfg["preload"]))
    server.send(json.dumps({"op": "hello", "pid": os.getpid(),
                            "preload_errors": errors}).encode())
    while True:
        data, fds, _flags, _addr = socket.recv_fds(server, 1 << 16, 3)
        if not data:
            return
        request = json.loads(data)
        if request.get("op") != "spawn" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            server.send(json.dumps({"op": "error", "message": "bad request"}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            server.close()
            _keeper(fds, cfg, paths)
        for fd in fds:
            os.close(fd)
        server.send(json.dumps({"op": "spawned", "pid": pid}).encode())


if __name__ == "__main__":
    main()
