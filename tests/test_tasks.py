"""Tests of the task sources: benchmark JSONL files, names, errors, hub mapping, registry."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from deeptool_env.tasks import (
    BENCHMARKS,
    DATA_DIR_ENV,
    HUB_SOURCES,
    TRAIN_SETS,
    ListTaskSet,
    MissingDependencyError,
    ProceduralTaskSet,
    Task,
    TaskCountWarning,
    TaskDataNotFoundError,
    TaskFormatError,
    TaskHashWarning,
    TaskIntegrityError,
    UnknownTaskSourceError,
    canonical_name,
    list_benchmarks,
    load_hub,
    load_tasks,
    map_rows,
    read_jsonl,
    taskset_from_rows,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _shared_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or SHARED_DATA)


@pytest.fixture(scope="module")
def data_dir() -> Path:
    root = _shared_data_dir()
    if not (root / "benchmarks").is_dir():
        pytest.skip(f"benchmark data not found at {root} (set {DATA_DIR_ENV} to the data folder)")
    return root


def _record(task_id: str, **extra: object) -> dict[str, object]:
    return {"id": task_id, "problem": f"Problem {task_id}?", "answer": "7", **extra}


def _write_jsonl(path: Path, records: list[object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# --- the six benchmarks -------------------------------------------------------------------

@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_benchmark_loads_with_expected_count(data_dir: Path, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaskCountWarning)
        tasks = load_tasks(name, data_dir=data_dir)
    assert len(tasks) == BENCHMARKS[name]
    ids = [task.id for task in tasks]
    assert len(set(ids)) == len(ids)
    assert tasks.name == name
    for task in tasks:
        assert task.benchmark == name and task.problem.strip() and task.answer.strip()
        assert "answer" not in task.meta and "problem" not in task.meta
    file = data_dir / "benchmarks" / name / f"{name}.jsonl"
    assert tasks.content_hash == hashlib.sha256(file.read_bytes()).hexdigest()
    assert tasks.provenance()["source"] == str(file)


def test_benchmark_counts_constant() -> None:
    assert BENCHMARKS == {"aime24": 30, "aime25": 30, "hmmt_feb_2025": 30, "amc23": 40,
                          "math500": 500, "olympiadbench": 675}
    assert list_benchmarks() == list(BENCHMARKS)
    assert list_benchmarks(include_train=True) == [*BENCHMARKS, *TRAIN_SETS]


def test_record_fields_go_to_meta(data_dir: Path) -> None:
    task = load_tasks("aime24", data_dir=data_dir).by_id("aime24-I-01")
    assert task.answer == "204" and task.answer_is_integer
    assert task.solution and task.meta["year"] == 2024
    assert task.meta["extra"]["answer_original"] == "204"
    math_task = load_tasks("math500", data_dir=data_dir)[0]
    assert math_task.meta["level"] == 2 and math_task.meta["subject"] == "Precalculus"
    assert not math_task.answer_is_integer


@pytest.mark.parametrize("name", list(TRAIN_SETS))
def test_train_sets_load(data_dir: Path, name: str) -> None:
    tasks = load_tasks(name, data_dir=data_dir, split="train")
    assert len(tasks) == TRAIN_SETS[name]
    assert len(set(tasks.ids)) == len(tasks)


@pytest.mark.parametrize(("alias", "canonical"), [
    ("hmmt25", "hmmt_feb_2025"), ("HMMT_Feb_2025", "hmmt_feb_2025"),
    ("hmmt-feb-2025", "hmmt_feb_2025"),
    ("math500", "math500"), ("MATH-500", "math500"), ("math_500", "math500"),
    ("olympiad", "olympiadbench"), ("OlympiadBench", "olympiadbench"),
    ("AIME24", "aime24"), ("aime_2024", "aime24"), ("AIME 2025", "aime25"),
    ("amc2023", "amc23"), ("math_train", "math_train"),
])
def test_aliases(alias: str, canonical: str) -> None:
    assert canonical_name(alias) == canonical


def test_alias_loads_same_set(data_dir: Path) -> None:
    assert load_tasks("HMMT25", data_dir=data_dir).ids == load_tasks(
        "hmmt_feb_2025", data_dir=data_dir).ids


def test_unknown_names_are_clear() -> None:
    with pytest.raises(UnknownTaskSourceError, match="known: aime24"):
        canonical_name("aime23")
    with pytest.raises(UnknownTaskSourceError, match="procedural"):
        load_tasks("gsm8k")


# --- data directory resolution ---------------------------------------------------------

def test_env_var_and_explicit_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(data_dir))
    assert len(load_tasks("amc23")) == 40
    _write_jsonl(tmp_path / "amc23.jsonl", [_record("only")])
    with pytest.raises(TaskIntegrityError, match="1 records, expected 40"):
        load_tasks("amc23", data_dir=tmp_path)
    with pytest.warns(TaskCountWarning, match="1 records, expected 40"):
        assert load_tasks("amc23", data_dir=tmp_path, strict=False).ids == ["only"]


@pytest.mark.parametrize("layout", ["benchmarks/{n}/{n}.jsonl", "{n}/{n}.jsonl", "{n}.jsonl"])
def test_accepted_layouts(tmp_path: Path, layout: str) -> None:
    records = [_record(f"aime24-{i}") for i in range(30)]
    _write_jsonl(tmp_path / layout.format(n="aime24"), records)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaskCountWarning)
        warnings.simplefilter("ignore", TaskHashWarning)
        assert len(load_tasks("aime24", data_dir=tmp_path, strict=False)) == 30


def test_missing_file_lists_tried_paths(tmp_path: Path) -> None:
    with pytest.raises(TaskDataNotFoundError) as info:
        load_tasks("olympiad", data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "benchmarks" / "olympiadbench" / "olympiadbench.jsonl") in message
    assert str(tmp_path / "olympiadbench.jsonl") in message
    assert DATA_DIR_ENV in message


def test_no_data_dir_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(TaskDataNotFoundError, match=DATA_DIR_ENV):
        load_tasks("aime25")


# --- plain JSONL files and their errors ------------------------------------------------

def test_plain_jsonl_path(tmp_path: Path) -> None:
    file = tmp_path / "mine.jsonl"
    lines = [json.dumps(_record("a", solution="s", year=2020)), "  ",
             json.dumps(_record("b", answer=12)), "", ""]
    file.write_text("\n".join(lines), encoding="utf-8")
    for spec in (file, str(file)):
        tasks = load_tasks(spec)
        assert tasks.name == "mine" and tasks.ids == ["a", "b"]
    first, second = tasks
    assert first.benchmark == "mine" and first.solution == "s" and first.meta == {"year": 2020}
    assert second.answer == "12"
    assert load_tasks(file, limit=1).ids == ["a"]


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text(json.dumps(_record("a")) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(TaskFormatError, match=r"bad\.jsonl:2: invalid JSON") as info:
        read_jsonl(file)
    assert info.value.line == 2 and info.value.path == str(file)


def test_non_object_line(tmp_path: Path) -> None:
    file = _write_jsonl(tmp_path / "list.jsonl", [[1, 2]])
    with pytest.raises(TaskFormatError, match=r"list\.jsonl:1: expected a JSON object"):
        read_jsonl(file)


@pytest.mark.parametrize("field", ["id", "problem", "answer"])
def test_missing_required_field(tmp_path: Path, field: str) -> None:
    broken = _record("b")
    del broken[field]
    file = _write_jsonl(tmp_path / "miss.jsonl", [_record("a"), broken])
    with pytest.raises(TaskFormatError, match=rf"miss\.jsonl:2: .*'{field}'") as info:
        read_jsonl(file)
    assert (info.value.line, info.value.field) == (2, field)


@pytest.mark.parametrize(("value", "message"), [("  ", "is empty"), ([1], "must be a string"),
                                                 (True, "must be a string")])
def test_invalid_answer_values(tmp_path: Path, value: object, message: str) -> None:
    file = _write_jsonl(tmp_path / "bad_answer.jsonl", [_record("a", answer=value)])
    with pytest.raises(TaskFormatError, match=message):
        read_jsonl(file)


def test_duplicate_ids(tmp_path: Path) -> None:
    file = _write_jsonl(tmp_path / "dup.jsonl", [_record("a"), _record("b"), _record("a")])
    with pytest.raises(TaskFormatError, match=r"dup\.jsonl:3: duplicate id 'a' .*line 1"):
        read_jsonl(file)


def test_not_utf8(tmp_path: Path) -> None:
    file = tmp_path / "latin.jsonl"
    file.write_bytes(b'{"id": "a", "problem": "caf\xe9", "answer": "1"}\n')
    with pytest.raises(TaskFormatError, match="not UTF-8"):
        read_jsonl(file)


def test_missing_plain_path(tmp_path: Path) -> None:
    with pytest.raises(TaskDataNotFoundError, match="nowhere.jsonl"):
        load_tasks(tmp_path / "nowhere.jsonl")


def test_split_and_option_checks(tmp_path: Path) -> None:
    file = _write_jsonl(tmp_path / "t.jsonl", [_record("a")])
    with pytest.raises(ValueError, match="split"):
        load_tasks(file, split="test")
    with pytest.raises(ValueError, match="single 'test' split"):
        load_tasks("aime24", data_dir=tmp_path, split="train")
    with pytest.raises(ValueError, match="only to procedural"):
        load_tasks(file, seed=3)
    with pytest.raises(ValueError, match="positive"):
        load_tasks(file, limit=0)


# --- Task and TaskSet behaviour ------------------------------------------------------

def test_task_is_frozen_and_round_trips() -> None:
    task = Task(id="x", problem="p", answer="-3", benchmark="b", meta={"extra": {"k": [1]}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.answer = "4"  # type: ignore[misc]
    data = task.to_dict()
    assert set(data) == {"id", "problem", "answer", "benchmark", "solution", "meta"}
    assert Task.from_dict(json.loads(json.dumps(data))) == task
    data["meta"]["extra"]["k"].append(2)
    assert task.meta["extra"]["k"] == [1]
    assert task.answer_is_integer and len({task, Task.from_dict(task.to_dict())}) == 1


def test_hash_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    file = _write_jsonl(tmp_path / "h.jsonl", [_record("a"), _record("b")])
    first, again = read_jsonl(file), read_jsonl(file)
    assert first.content_hash == again.content_hash == hashlib.sha256(file.read_bytes()).hexdigest()
    _write_jsonl(file, [_record("a"), _record("b", answer="8")])
    assert read_jsonl(file).content_hash != first.content_hash
    assert first.head(1).content_hash == first.content_hash


def test_sampling_and_lookup(tmp_path: Path) -> None:
    tasks = read_jsonl(_write_jsonl(tmp_path / "s.jsonl", [_record(f"t{i}") for i in range(50)]))
    picks = [tasks.sample(seed) for seed in range(200)]
    assert picks == [read_jsonl(tmp_path / "s.jsonl").sample(seed) for seed in range(200)]
    assert len(set(picks)) > 30 and all(0 <= p < 50 for p in picks)
    assert tasks.by_id("t7") is tasks[7] and tasks[-1].id == "t49"
    assert [t.id for t in tasks][:2] == ["t0", "t1"]
    with pytest.raises(KeyError, match="t99"):
        tasks.by_id("t99")
    with pytest.raises(IndexError):
        tasks[50]
    with pytest.raises(IndexError):
        ListTaskSet("empty", []).sample(0)


def test_sampling_is_stable_across_runs() -> None:
    tasks = ListTaskSet("n", [Task(id=str(i), problem="p", answer="1", benchmark="n")
                              for i in range(1000)])
    assert [tasks.sample(seed) for seed in (0, 1, 2, 12345)] == [864, 137, 978, 426]


# --- Hugging Face hub mapping (offline) ---------------------------------------------

HUB_ROWS: dict[str, list[dict[str, object]]] = {
    "aime24": [{"id": 60, "problem": "Find x.", "answer": "073", "solution": "sol",
                "url": "https://artofproblemsolving.com/wiki/index.php/"
                       "2024_AIME_II_Problems/Problem_4", "year": "2024"}],
    "aime25": [{"problem_idx": 16, "problem": "Find y.", "answer": 70}],
    "hmmt_feb_2025": [{"problem_idx": 10, "problem": "Find z.",
                       "answer": "\\frac{-1+\\sqrt{17}}{2}"}],
    "amc23": [{"id": 3, "question": "How many?", "answer": 27.0,
               "url": "https://artofproblemsolving.com/wiki/index.php/"
                      "2023_AMC_12B_Problems/Problem_5"}],
    "math500": [{"problem": "Convert.", "solution": "\\boxed{3}", "answer": "3",
                 "subject": "Precalculus", "level": 2, "unique_id": "test/precalculus/807.json"}],
    "olympiadbench": [{"id": 1606, "question": "Determine n.", "final_answer": ["$69$."],
                       "solution": ["first", "second"], "subfield": "Combinatorics",
                       "answer_type": "Numerical", "is_multiple_answer": False, "unit": None,
                       "error": None}],
}

HUB_EXPECTED = {
    "aime24": ("aime24-II-04", "73"), "aime25": ("aime25-16", "70"),
    "hmmt_feb_2025": ("hmmt_feb_2025-10", "\\frac{-1+\\sqrt{17}}{2}"),
    "amc23": ("amc23-12B-05", "27"), "math500": ("math500-precalculus-807", "3"),
    "olympiadbench": ("olympiadbench-1606", "69"),
}


def test_hub_table_covers_the_six_benchmarks() -> None:
    assert set(HUB_SOURCES) == set(BENCHMARKS)
    assert HUB_SOURCES["math500"].hub_id == "HuggingFaceH4/MATH-500"
    assert HUB_SOURCES["olympiadbench"].config == "OE_TO_maths_en_COMP"


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_hub_mapping_on_plain_dicts(name: str) -> None:
    (task,) = map_rows(name, HUB_ROWS[name])
    assert (task.id, task.answer) == HUB_EXPECTED[name]
    assert task.benchmark == name and task.problem.endswith((".", "?"))
    assert task.meta["source"] == f"hf:{HUB_SOURCES[name].hub_id}"
    assert task.answer not in task.problem
    assert "answer_original" in task.meta["extra"]


def test_hub_mapping_details() -> None:
    (olympiad,) = map_rows("olympiad", HUB_ROWS["olympiadbench"])
    assert olympiad.solution == "first" and olympiad.meta["subject"] == "Combinatorics"
    assert olympiad.meta["extra"]["answer_original"] == "$69$."
    (amc,) = map_rows("amc2023", HUB_ROWS["amc23"])
    assert amc.meta["answer_is_integer"] and amc.meta["extra"]["answer_original"] == 27.0
    (fallback,) = map_rows("aime24", [{"id": 61, "problem": "p", "answer": "5"}])
    assert fallback.id == "aime24-61"
    with pytest.raises(UnknownTaskSourceError):
        map_rows("math_train", [])


def test_hub_mapping_through_datasets() -> None:
    datasets = pytest.importorskip("datasets", reason="datasets (extra 'hub') not installed")
    for name, rows in HUB_ROWS.items():
        from_dataset = taskset_from_rows(name, datasets.Dataset.from_list(rows))
        from_dicts = taskset_from_rows(name, rows)
        assert [t.to_dict() for t in from_dataset] == [t.to_dict() for t in from_dicts]
        assert from_dataset.content_hash == from_dicts.content_hash


def test_load_hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets", reason="datasets (extra 'hub') not installed")
    by_hub_id = {source.hub_id: name for name, source in HUB_SOURCES.items()}
    calls = []

    def fake_load_dataset(path: str, name: str | None = None, *, split: str) -> object:
        calls.append((path, name, split))
        rows = HUB_ROWS[by_hub_id[path]]
        if path == "Hothan/OlympiadBench":
            rows = [dict(rows[0], id=i) for i in range(675)]
        return datasets.Dataset.from_list(rows)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    tasks = load_tasks("hf:OlympiadBench", limit=5)
    assert len(tasks) == 5 and tasks.provenance()["source"].endswith(":train")
    assert tasks.ids[:2] == ["olympiadbench-0", "olympiadbench-1"]
    assert calls == [("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train")]
    with pytest.warns(TaskCountWarning, match="1 rows, expected 500"):
        assert load_hub("MATH-500", split="validation").ids == ["math500-precalculus-807"]
    assert calls[-1] == ("HuggingFaceH4/MATH-500", None, "validation")


def test_load_hub_without_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingDependencyError, match=r"deeptool-gym\[hub\]"):
        load_tasks("hf:aime24")
    with pytest.raises(ImportError):
        load_hub("aime25")


def test_import_does_not_import_datasets() -> None:
    code = ("import sys, deeptool_env, deeptool_env.tasks as t; t.load_tasks('procedural')[0]; "
            "assert 'datasets' not in sys.modules, 'datasets imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_spec_is_procedural() -> None:
    tasks = load_tasks("procedural", limit=20, seed=3)
    assert isinstance(tasks, ProceduralTaskSet) and len(tasks) == 20 and tasks.seed == 3
    assert isinstance(load_tasks(), ProceduralTaskSet)


def test_tampered_benchmark_is_refused_unless_not_strict(data_dir: Path, tmp_path: Path) -> None:
    original = (data_dir / "benchmarks" / "aime24" / "aime24.jsonl").read_text()
    lines = original.splitlines()
    record = json.loads(lines[0])
    record["answer"] = "999"
    lines[0] = json.dumps(record)
    _write_jsonl(tmp_path / "aime24.jsonl", [json.loads(line) for line in lines])
    with pytest.raises(TaskIntegrityError, match="sha256 .* is not the pinned"):
        load_tasks("aime24", data_dir=tmp_path)
    with pytest.warns(TaskHashWarning):
        assert load_tasks("aime24", data_dir=tmp_path, strict=False)[0].answer == "999"


def test_pinned_hashes_match_the_shared_data(data_dir: Path) -> None:
    from deeptool_env.tasks import BENCHMARK_SHA256

    for name in BENCHMARKS:
        assert load_tasks(name, data_dir=data_dir).content_hash == BENCHMARK_SHA256[name]


def test_the_six_benchmarks_are_named_in_one_place():
    """Sizes, hashes, paper names, Gymnasium ids and the harness's default list all follow
    `deeptool_env.tasks.names.BENCHMARKS`."""
    from benchmarks import SIX_BENCHMARKS
    from benchmarks.metrics import BENCHMARK_ORDER, display_name
    from deeptool_env.registration import BENCHMARK_IDS
    from deeptool_env.tasks import BENCHMARK_SHA256, BENCHMARKS, DISPLAY_NAMES, canonical_name

    assert len(BENCHMARKS) == 6
    assert list(BENCHMARK_SHA256) == list(DISPLAY_NAMES) == list(BENCHMARKS)
    assert BENCHMARK_ORDER == SIX_BENCHMARKS == tuple(BENCHMARKS)
    assert list(BENCHMARK_IDS.values()) == list(BENCHMARKS)
    for env_id, name in BENCHMARK_IDS.items():
        assert env_id == f"DeepTool-{display_name(name).replace('-', '')}-v0"
        assert canonical_name(display_name(name)) == name  # the paper's name is an alias
