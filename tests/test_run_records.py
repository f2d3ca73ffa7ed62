"""`deeptool_env.run_records`: the crash-safe JSONL log and the same-settings rule that the
benchmark harness and trajectory synthesis share."""

from __future__ import annotations

import json
import threading

import pytest

from agents.training.synthesis import SettingsMismatchError as SynthesisMismatch
from benchmarks.records import SampleWriter, read_samples
from deeptool_env.run_records import (
    JsonlLog,
    SettingsMismatchError,
    read_complete_lines,
    require_same_settings,
    write_json_atomic,
)


def test_a_torn_last_line_is_skipped_by_readers_and_cut_on_reopen(tmp_path):
    path = tmp_path / "log.jsonl"
    with JsonlLog(path) as log:
        log.append({"id": 1})
        log.append({"id": "π"})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"id": 3, "half')  # the process died mid-write
    assert read_complete_lines(path) == [{"id": 1}, {"id": "π"}]
    with JsonlLog(path) as log:
        log.append({"id": 4})
        assert log.read() == [{"id": 1}, {"id": "π"}, {"id": 4}]
    assert path.read_text(encoding="utf-8").count("\n") == 3
    assert read_complete_lines(tmp_path / "missing.jsonl") == []


def test_appends_from_many_threads_stay_whole_lines(tmp_path):
    def write(log: JsonlLog, thread: int) -> None:
        for n in range(50):
            log.append({"t": thread, "n": n, "pad": "x" * 500})

    with JsonlLog(tmp_path / "log.jsonl") as log:
        threads = [threading.Thread(target=write, args=(log, i)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        lines = log.read()
    assert sorted((line["t"], line["n"]) for line in lines) == [
        (t, n) for t in range(4) for n in range(50)]


def test_other_settings_are_refused_naming_each_change():
    same = {"k": 2, "seed": 0}
    require_same_settings(same, dict(same), holder="out/", fix="use another --out")
    with pytest.raises(SettingsMismatchError) as caught:
        require_same_settings(same, {"k": 3, "seed": 0, "new": 1}, holder="out/",
                              fix="use another --out")
    assert str(caught.value) == ("out/ holds a run with other settings (k: 2 -> 3; new: "
                                 "None -> 1); use another --out")
    require_same_settings(same, {"k": 2, "seed": 0, "new": 1}, keys=["k", "seed"],
                          holder="out/", fix="")  # only the listed keys count
    assert issubclass(SettingsMismatchError, ValueError)
    assert SynthesisMismatch is SettingsMismatchError


def test_the_harness_files_use_it(tmp_path):
    from tests.record_factory import make_record

    with SampleWriter(tmp_path) as writer:
        writer.write(make_record("aime24", "p1", 0, True))
    with open(writer.path, "a", encoding="utf-8") as handle:
        handle.write("{torn")
    assert len(read_samples(tmp_path)) == 1
    write_json_atomic(tmp_path / "run.json", {"k": 1})
    assert json.loads((tmp_path / "run.json").read_text()) == {"k": 1}
    assert not list(tmp_path.glob("*.tmp"))
