"""The warm fork-server of the local backend (run as a script by `local.py`).

It imports the preload modules once (numpy, sympy, ...), then forks one isolated session
per request, so a session starts in milliseconds with those modules already in memory.
For each session:

    server ── fork ──> keeper (root, host PID namespace): unshare namespaces, bound SysV
                        IPC, build the root file system, fork the session, report its pid,
                        then watch it: on the host's word (or the host's death: end of file)
                        it kills the session; when the session dies it reports how
                        (`exited` frame), then exits.
                  └── fork ──> session (PID 1 of a new PID namespace): join its cgroups,
                               /proc, rlimits, the uid the host leased, empty environment,
                               seccomp filter, then the worker loop. Killing it kills every
                               process of its PID namespace.

The host sends `{"op": "spawn", "uid": U, "cgroup_procs": [...]}` on a SOCK_SEQPACKET
socket with four fds attached: the session's control socket, the write ends of its
stdout/stderr pipes, and the keeper's own socket. The session never holds the keeper's
socket, so nothing it writes can pass for the keeper's facts.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import isolation  # noqa: E402  (sibling modules; this file runs as a script)
import seccomp_filter  # noqa: E402
import worker  # noqa: E402

del sys.path[0]


def _session(ctrl: socket.socket, out_fd: int, err_fd: int, procs_fds: list[int], uid: int,
             cfg: dict) -> None:
    """First process of the new PID namespace: finish isolation and serve cells."""
    isolation.join_cgroups(procs_fds)  # first: everything below is charged to the session
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
    if cfg["seccomp"]:
        seccomp_filter.install(bytes.fromhex(cfg["seccomp"]))
    worker.serve(ctrl)


def _keeper(fds: list[int], request: dict, cfg: dict, paths: list[str]) -> None:
    """Set up the namespaces, start the session, watch it. Never returns."""
    ctrl = socket.socket(fileno=fds[0])
    host = socket.socket(fileno=fds[3])
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        procs_fds = [os.open(path, os.O_WRONLY) for path in request["cgroup_procs"]]
        thaw = None
        if request.get("thaw"):
            thaw = (os.open(request["thaw"][0], os.O_WRONLY), request["thaw"][1].encode())
        flags = (isolation.CLONE_NEWNS | isolation.CLONE_NEWPID | isolation.CLONE_NEWIPC
                 | isolation.CLONE_NEWUTS)
        if not cfg["network"]:
            flags |= isolation.CLONE_NEWNET
        isolation.unshare(flags)
        isolation.sethostname("sandbox")
        isolation.limit_ipc(cfg["memory_mb"] * 2**20)
        isolation.build_root(paths, cfg["max_file_mb"], cfg["max_files"])
        child = os.fork()
        if child == 0:
            try:
                _session(ctrl, fds[1], fds[2], procs_fds, int(request["uid"]), cfg)
            except BaseException as exc:
                _report_error(ctrl, f"session setup failed: {exc}")
            os._exit(0)
        for fd in [*procs_fds, fds[1], fds[2]]:
            os.close(fd)
        ctrl.close()  # only the session talks on it
        worker.send_frame(host, {"op": "started", "pid": child})
        _watch(host, child, thaw)
    except BaseException as exc:
        _report_error(host, f"sandbox isolation failed: {exc}")
    os._exit(0)


def _watch(host: socket.socket, child: int, thaw: tuple[int, bytes] | None) -> None:
    """Wait until the session dies or the host asks for its end (any byte, or end of file
    when the host is gone); then kill it (its pid is ours until reaped), thaw its cgroup
    (a frozen process dies only once thawed) and report how it ended."""
    pidfd = os.pidfd_open(child)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(host, select.POLLIN)
    if pidfd not in {fd for fd, _ in poller.poll()}:  # the host asked, or is gone
        os.kill(child, signal.SIGKILL)  # PID 1 of the namespace: every process in it dies
        if thaw is not None:
            try:
                os.write(*thaw)
            except OSError:
                pass
    _, status = os.waitpid(child, 0)
    frame = {"op": "exited", "signal": None, "code": None}
    if os.WIFSIGNALED(status):
        frame["signal"] = os.WTERMSIG(status)
    else:
        frame["code"] = os.WEXITSTATUS(status)
    try:
        worker.send_frame(host, frame)
    except OSError:
        pass


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
        data, fds, _flags, _addr = socket.recv_fds(server, 1 << 16, 4)
        if not data:
            return
        request = json.loads(data)
        if request.get("op") != "spawn" or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            server.send(json.dumps({"op": "error", "message": "bad request"}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            server.close()
            _keeper(fds, request, cfg, paths)
        for fd in fds:
            os.close(fd)
        server.send(json.dumps({"op": "spawned", "pid": pid}).encode())


if __name__ == "__main__":
    main()
