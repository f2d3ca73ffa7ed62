"""Semantics every backend shares: notebook-style state, results, errors, restarts."""

from __future__ import annotations

import random

import pytest

from deeptool_env import sandbox
from deeptool_env.perturbations.base import Context, ToolOutput
from deeptool_env.perturbations.extrinsic import tool_timeout
from deeptool_env.sandbox import ExecResult, SandboxClosedError, SandboxConfig

from .conftest import make_sandbox

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module", params=["local", "subprocess", "docker"])
def box(request):
    sb = make_sandbox(request.param, timeout_s=10.0, max_output_chars=1000)
    yield sb
    sb.close()


def test_state_persists_across_cells(box):
    with box.session() as s:
        assert s.run("import math\nx = 6").status == "ok"
        s.run("def f(n):\n    return math.factorial(n) + x")
        result = s.run("f(5)")
    assert (result.status, result.stdout, result.exit_code) == ("ok", "126\n", 0)


def test_final_bare_expression_is_printed_like_a_notebook(box):
    with box.session() as s:
        assert s.run("print('a')\n2 + 3").stdout == "a\n5\n"
        assert s.run("None").stdout == ""
        assert s.run("y = 3").stdout == ""
        assert s.run("'text'").stdout == "'text'\n"


def test_traceback_has_the_cells_line_numbers_only(box):
    with box.session() as s:
        s.run("def g():\n    return 1 / 0")
        result = s.run("a = 1\nb = 2\ng()")
    assert result.status == "error" and result.exit_code == 1
    assert 'File "<cell-2>", line 3' in result.stderr
    assert 'File "<cell-1>", line 2, in g' in result.stderr
    assert "return 1 / 0" in result.stderr
    assert "worker.py" not in result.stderr and "ZeroDivisionError" in result.stderr


def test_the_tool_timeout_perturbation_shows_a_real_timeouts_words(box):
    with box.session() as s:
        real = s.run("import time\nprint('started')\ntime.sleep(30)", timeout_s=0.5)
    shown, _ = tool_timeout(ToolOutput("started\n", "", "ok"), random.Random(0),
                            Context(severity=0.0, timeout_s=0.5))
    assert real.status == shown.status == "timeout"
    assert real.stderr == shown.stderr and "within 0.5 s" in real.stderr


def test_syntax_error_is_reported_with_its_line(box):
    with box.session() as s:
        result = s.run("x = 1\nif x\n    pass")
    assert result.status == "error"
    assert "SyntaxError" in result.stderr and "line 2" in result.stderr


def test_stderr_and_sys_exit(box):
    with box.session() as s:
        result = s.run("import sys\nprint('oops', file=sys.stderr)")
        assert (result.status, result.stderr) == ("ok", "oops\n")
        assert s.run("raise SystemExit(0)").status == "ok"
        failed = s.run("raise SystemExit(3)")
        assert (failed.status, failed.exit_code) == ("error", 3)
        assert s.run("1").status == "ok"


def test_preloaded_modules_are_warm_and_big_ints_print(box):
    with box.session() as s:
        result = s.run("import sys\n'sympy' in sys.modules")
        assert result.stdout == "True\n"
        assert s.run("len(str(2 ** 50000))").stdout == "15052\n"


def test_output_is_cut_head_and_tail(box):
    with box.session() as s:
        result = s.run("for i in range(2000):\n    print(i)")
    assert result.status == "ok" and result.truncated
    assert result.stdout.startswith("0\n1\n") and result.stdout.endswith("1999\n")
    assert "characters omitted" in result.stdout and len(result.stdout) < 1100


def test_results_are_json_ready(box):
    result = box.run("1")
    assert isinstance(result, ExecResult) and result.wall_ms > 0
    assert result.to_dict()["status"] == "ok"


def test_closing_twice_and_using_closed_objects():
    sb = make_sandbox("local")
    s = sb.session()
    s.close()
    s.close()
    with pytest.raises(SandboxClosedError):
        s.run("1")
    sb.close()
    sb.close()
    with pytest.raises(SandboxClosedError):
        sb.session()


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        SandboxConfig(backend="firejail")
    with pytest.raises(ValueError, match="timeout_s must be a positive"):
        SandboxConfig(timeout_s=0)
    with pytest.raises(TypeError, match="unknown sandbox option"):
        sandbox.create("local", memory_gb=3)
    sb = make_sandbox("local")
    with sb.session() as s:
        with pytest.raises(TypeError, match="code must be a str"):
            s.run(b"print(1)")
        with pytest.raises(ValueError, match="timeout_s"):
            s.run("1", timeout_s=-1)
    sb.close()


def test_subprocess_backend_warns_that_it_is_weaker():
    with pytest.warns(RuntimeWarning, match="does not isolate files or network"):
        sandbox.create("subprocess").close()


def test_sandbox_outlives_the_thread_that_created_it():
    import threading

    boxes = []
    creator = threading.Thread(target=lambda: boxes.append(make_sandbox("local")))
    creator.start()
    creator.join()
    with boxes[0].session() as s:
        assert s.run("1 + 1").stdout == "2\n"
    boxes[0].close()
