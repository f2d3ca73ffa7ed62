"""The interpreter loop that runs inside every sandbox session (stdlib only).

It keeps one namespace across cells, like a notebook kernel. The host sends
`{"op": "run", "code": ...}` frames on a control socket; the cell's stdout and stderr go to
file descriptors 1 and 2, which the host reads (and caps) while the cell runs; the worker
answers with `{"status", "traceback", "exit_code"}` once the cell and every thread it started
have finished. Processes a cell leaves behind are killed when it ends.

Run as a script (`python -I worker.py --ctrl-fd N`) by the subprocess and docker backends,
and entered through `serve()` by the local fork-server, so it stays one stdlib-only file
(the host's side of the frames is in `frame_reader.py`).
"""

from __future__ import annotations

import ast
import io
import json
import linecache
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback

FRAME_HEADER = struct.Struct(">I")  # a frame: its length, then that much JSON
MAX_FRAME = 64 * 1024 * 1024


def encode_frame(message: dict) -> bytes:
    """One length-prefixed JSON frame."""
    data = json.dumps(message).encode("utf-8")
    return FRAME_HEADER.pack(len(data)) + data


def send_frame(sock: socket.socket, message: dict) -> None:
    """Send one length-prefixed JSON frame (blocking; the worker's and keeper's side)."""
    sock.sendall(encode_frame(message))


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def recv_frame(sock: socket.socket) -> dict | None:
    """Receive one frame; None on a closed connection."""
    header = _recv_exact(sock, FRAME_HEADER.size)
    if header is None:
        return None
    (size,) = FRAME_HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is larger than {MAX_FRAME}")
    body = _recv_exact(sock, size)
    return None if body is None else json.loads(body.decode("utf-8"))


def _compile_cell(code: str, filename: str) -> tuple[object, object | None]:
    """Compile a cell; a final bare expression is compiled apart so its value can be shown."""
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec")
    return body, (compile(last, filename, "eval") if last is not None else None)


def _user_traceback(exc: BaseException) -> str:
    """The traceback with the worker's own frames removed (cells keep their line numbers)."""
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell-"):
        tb = tb.tb_next
    if tb is None or isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(type(exc), exc))
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _status_for(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, MemoryError):
        return "memory", 1
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None or code == 0:
            return "ok", 0
        return "error", code if isinstance(code, int) else 1
    return "error", 1


class Kernel:
    """One namespace and the logic to run cells in it."""

    def __init__(self) -> None:
        self.namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
        self.cell_count = 0
        self.pid = os.getpid()

    def run_cell(self, code: str, max_chars: int = 8192) -> dict:
        """Run one cell; returns the result frame (status, traceback cut to `max_chars`,
        exit_code)."""
        self.cell_count += 1
        filename = f"<cell-{self.cell_count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        threads_before = set(threading.enumerate())
        tasks_before = _task_count()
        status, tb_text, exit_code = "ok", "", 0
        try:
            body, last = _compile_cell(code, filename)
            exec(body, self.namespace)
            if last is not None:
                value = eval(last, self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    print(repr(value))
        except BaseException as exc:  # the cell's own exceptions, SystemExit included
            self._exit_if_forked_child(1)
            status, exit_code = _status_for(exc)
            if status != "ok":
                tb_text = head_tail(_safe_traceback(exc), max_chars)
        self._exit_if_forked_child(0)
        for thread in set(threading.enumerate()) - threads_before:
            thread.join()
        while _task_count() > tasks_before:  # threads started without `threading`
            time.sleep(0.001)
        _cancel_timers()
        _flush_std_streams()
        return {"op": "result", "status": status, "traceback": tb_text, "exit_code": exit_code}

    def _exit_if_forked_child(self, code: int) -> None:
        """A process forked by the cell must never return into the kernel loop."""
        if os.getpid() != self.pid:
            _flush_std_streams()
            os._exit(code)


def _task_count() -> int:
    """Threads of this process, however they were started (`_thread` included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _cancel_timers() -> None:
    """Interval timers a cell set would fire its handlers between cells: cancel them."""
    for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(timer, 0)


def _safe_traceback(exc: BaseException) -> str:
    """`_user_traceback`, or a short line when formatting itself fails (a hostile
    `__str__`, recursion)."""
    try:
        return _user_traceback(exc)
    except BaseException:
        return f"{type(exc).__name__}: <the exception could not be formatted>\n"


def truncation_marker(omitted: int) -> str:
    """The marker put where output was cut (the one definition: the host imports it)."""
    return f"\n...[{omitted} characters omitted]...\n"


def head_tail(text: str, max_chars: int) -> str:
    """Cut `text` to `max_chars` characters, keeping its beginning and end (the worker cuts
    tracebacks so frames stay small; the host cuts again, trusting nothing)."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 2
    tail = max_chars - head
    return f"{text[:head]}{truncation_marker(len(text) - head - tail)}{text[len(text) - tail:]}"


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def kill_leftover_processes() -> None:
    """Kill every process the cell left running, then reap them.

    As PID 1 of its own PID namespace (local backend) `kill(-1)` reaches exactly the
    session's processes; otherwise the worker kills the members of its process group.
    """
    me = os.getpid()
    if me == 1:
        # Every process of the namespace descends from us: kill until no child is left
        # (a process forked while kill(-1) runs is caught by the next round).
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
    group = os.getpgrp()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            if int(fields[2]) == group:
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue
    reap_children()


def reap_children(*_: object) -> None:
    """Collect every child that has exited, without blocking (also a SIGCHLD handler)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def install_std_streams() -> None:
    """Point sys.stdout/err at fds 1/2, line-buffered, so partial output survives a kill."""
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    for fd, name in ((1, "stdout"), (2, "stderr")):
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def serve(ctrl: socket.socket) -> None:
    """Answer run requests until the host closes the control socket."""
    install_std_streams()
    sys.set_int_max_str_digits(0)  # exact big-integer maths is the point of the tool
    signal.signal(signal.SIGINT, signal.default_int_handler)
    kernel = Kernel()
    send_frame(ctrl, {"op": "ready"})
    while True:
        message = recv_frame(ctrl)
        if message is None or message.get("op") != "run":
            return
        result = kernel.run_cell(message["code"], message.get("max_chars", 8192))
        kill_leftover_processes()
        send_frame(ctrl, dict(result, id=message["id"]))


# Small calls that pull in the lazily imported parts of common modules, so a warm server
# (or a fresh worker) pays for them once instead of in the first cell that needs them.
WARMUP = {
    "numpy": "numpy.linalg.solve(numpy.eye(2), numpy.ones(2)); numpy.fft.fft(numpy.ones(4))",
    "sympy": ("x = sympy.Symbol('x'); sympy.simplify(sympy.sin(x)**2 + sympy.cos(x)**2); "
              "sympy.solve(x**2 - 2, x); sympy.factorint(360); sympy.integrate(x**2, x); "
              "sympy.isprime(97); sympy.Rational(1, 3) + 1"),
}


def preload(modules: list[str]) -> list[str]:
    """Import (and warm up) `modules`; returns the errors instead of raising."""
    import importlib

    errors = []
    for name in modules:
        try:
            module = importlib.import_module(name)
            if name in WARMUP:
                exec(WARMUP[name], {name: module})
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return errors


def main(argv: list[str]) -> None:
    """Script entry point: `worker.py --ctrl-fd N [--chdir DIR] [--preload a,b]`."""
    args = dict(zip(argv[::2], argv[1::2], strict=False))
    if "--chdir" in args:
        os.chdir(args["--chdir"])
    if args.get("--preload"):
        preload(args["--preload"].split(","))
    ctrl = socket.socket(fileno=int(args["--ctrl-fd"]))
    serve(ctrl)


if __name__ == "__main__":
    main(sys.argv[1:])
