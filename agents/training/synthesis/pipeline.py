"""`synthesize(config)`: worked solutions -> verified tool-use trajectories for SFT.

Per batch of problems: the teacher rewrites each worked solution as think/code/answer
turns (one batched `generate_batch`); each rewrite is parsed, replayed through the real
env (every observation comes from the sandbox) and graded; a correct one gets its planned
anomalies with recovery turns, replayed and checked against the clean replay; the
recovery thoughts are written by the teacher (one more batched call) or by templates;
the final trajectory is replayed once more exactly as recorded and appended to the
output. A problem that fails anywhere goes to the rejects file with the reason. With
`llm: template` the rewrites come from the scripted teacher (`templates.py`) instead, and
a problem it has no template for is rejected as `no_template`.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import deeptool_env
from agents.base import ChatAgent, Generation
from deeptool_env.tasks import Task, TaskSet, load_tasks

from .config import RESUME_KEYS, SynthesisConfig
from .parse import ParsedRewrite, TeacherTurn, parse_rewrite
from .perturb import Injection, clean_thought, plan_injections, task_rng
from .prompts import PROMPT_VERSION, recovery_messages, rewrite_messages
from .records import SynthesisStore, sibling
from .replay import Replayer
from .summary import ProgressBar, SynthesisSummary
from .teacher import describe_teacher, generate, teacher_for
from .templates import TEMPLATE_VERSION, template_reply
from .trajectory import Played, clean_reference, play

MAX_REJECT_TEXT = 50_000  # characters of a rejected teacher reply kept for inspection


def select_tasks(tasks: TaskSet, config: SynthesisConfig) -> tuple[list[Task], int]:
    """The problems of this run in order, and how many were skipped for lack of a solution
    (never for the scripted teacher: procedural problems have no worked solution)."""
    items = list(tasks)
    solved = [task for task in items if task.solution and task.solution.strip()]
    require = config.require_solution and config.llm != "template"
    skipped = len(items) - len(solved) if require else 0
    if require:
        items = solved
    if config.shuffle:
        random.Random(config.seed).shuffle(items)
    items = items[config.offset:]
    return (items if config.limit is None else items[:config.limit]), skipped


@dataclass
class _Candidate:
    """A rewrite that replayed clean and correct, on its way to being kept."""

    task: Task
    parsed: ParsedRewrite
    generation: Generation
    seed: int
    plan: list[Injection]
    reference: dict[int, str]
    played: Played
    thoughts: dict[int, str] = field(default_factory=dict)


class _Run:
    """The state of one `synthesize` call."""

    def __init__(self, config: SynthesisConfig, llm: ChatAgent | None, tasks: TaskSet,
                 store: SynthesisStore, summary: SynthesisSummary) -> None:
        self.config, self.llm, self.tasks, self.store = config, llm, tasks, store
        self.summary = summary
        self.replayer = Replayer(config)
        self.bar: ProgressBar | None = None

    def provenance(self) -> dict[str, Any]:
        config, source = self.config, self.tasks.provenance()
        return {
            "source": {"name": source["name"], "spec": config.train_data,
                       "file": Path(source.get("source") or "").name or None,
                       "sha256": source["content_hash"], "size": source["size"]},
            "teacher": describe_teacher(self.llm, config),
            "prompt_version": PROMPT_VERSION, "seed": config.seed,
            "deeptool_version": deeptool_env.__version__,
            "env": {"id": "DeepTool-Math-v0", "max_turns": config.max_turns},
            "sandbox": {"backend": config.sandbox, "tool_timeout_s": config.tool_timeout_s},
            "perturbation": {key: getattr(config, key) for key in (
                "perturb_rate", "max_perturbations", "extrinsic_kinds", "intrinsic_kinds",
                "intrinsic_share", "severity", "recovery")},
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    # -- outcomes -----------------------------------------------------------------------

    def reject(self, task: Task, reason: str, detail: str, text: str = "") -> None:
        self.store.rejects.append({
            "id": task.id, "task_id": task.id, "source": self.tasks.name, "reason": reason,
            "detail": detail, "teacher_text": text[:MAX_REJECT_TEXT],
            "prompt_version": PROMPT_VERSION, "seed": self.config.seed,
            "created": datetime.now(UTC).isoformat(timespec="seconds")})
        self.summary.rejected[reason] += 1
        self._advance()

    def keep(self, candidate: _Candidate) -> None:
        task, episode = candidate.task, candidate.played.episode
        generation = candidate.generation
        self.store.kept.append({
            "id": f"{self.tasks.name}/{task.id}/seed{self.config.seed}", "task_id": task.id,
            "source": self.tasks.name, "problem": task.problem, "answer": task.answer,
            "messages": episode.messages,
            "turns": [step.meta(turn) for turn, step in enumerate(episode.steps, 1)],
            "injections": candidate.played.injections,
            "verdict": {key: (episode.verdict or {}).get(key)
                        for key in ("correct", "reason", "extracted")},
            "turn_rewards": episode.turn_rewards,
            "teacher": {"prompt_tokens": generation.prompt_tokens,
                        "completion_tokens": generation.completion_tokens,
                        "turns": len(candidate.parsed.turns),
                        "dropped_outputs": candidate.parsed.dropped_outputs},
            "provenance": self.provenance()})
        self.summary.kept += 1
        for injection in candidate.played.injections:
            self.summary.perturbations[injection["kind"]] += 1
        self._advance()

    def _advance(self) -> None:
        if self.bar is not None:
            self.bar.advance()

    # -- one batch ----------------------------------------------------------------------

    def batch(self, tasks: list[Task]) -> None:
        if self.llm is None:  # the scripted teacher
            replies: list[Generation | Exception | None] = [
                template_reply(task, task_rng(self.config.seed, task.id, "template"))
                for task in tasks]
        else:
            conversations = [rewrite_messages(task, self.config.max_turns) for task in tasks]
            replies = list(generate(self.llm, conversations))
            self.summary.teacher_calls += len(conversations)
        candidates = [c for task, reply in zip(tasks, replies, strict=True)
                      if (c := self.candidate(task, reply)) is not None]
        if self.config.recovery == "llm":
            self.write_recoveries(candidates)
        for candidate in candidates:
            self.keep(candidate)

    def candidate(self, task: Task, reply: Generation | Exception | None
                  ) -> _Candidate | None:
        """Parse, replay clean, grade, then inject; None when the problem is rejected."""
        if reply is None:
            self.reject(task, "no_template", f"no scripted solution for family "
                        f"{task.meta.get('family')!r} (params {task.meta.get('params')!r})")
            return None
        if isinstance(reply, Exception):
            self.reject(task, "llm_error", str(reply))
            return None
        config, text = self.config, reply.text
        parsed = parse_rewrite(text, max_turns=config.max_turns,
                               min_code_turns=config.min_code_turns)
        if not parsed.ok:
            self.reject(task, f"parse:{parsed.error}", parsed.detail, text)
            return None
        seed = task_rng(config.seed, task.id, "env").randrange(2**31)
        clean = play(self.replayer, task.id, seed, parsed.turns, [], None)
        problem = _clean_problem(clean, parsed.turns, task)
        if problem is not None:
            self.reject(task, problem[0], problem[1], text)
            return None
        reference = clean_reference(clean, parsed.turns)
        plan = plan_injections(parsed.turns, config, task_rng(config.seed, task.id, "plan"))
        played = play(self.replayer, task.id, seed, parsed.turns, plan, reference)
        while played.failed is not None:
            plan = [injection for injection in plan if injection is not played.failed]
            self.summary.dropped_injections += 1
            played = play(self.replayer, task.id, seed, parsed.turns, plan, reference)
        if not played.ok:
            self.reject(task, "unreproducible", played.unreproducible, text)
            return None
        return _Candidate(task, parsed, reply, seed, plan, reference, played)

    def write_recoveries(self, candidates: list[_Candidate]) -> None:
        """The teacher writes every recovery thought of the batch (one batched call);
        unusable ones stay templates. Each changed trajectory is replayed again."""
        points = [(c, p) for c in candidates for p in c.played.points]
        conversations = [recovery_messages(c.task.problem, p.action, p.observation,
                                           p.hidden_truth(), p.code) for c, p in points]
        replies = generate(self.llm, conversations)
        self.summary.teacher_calls += len(conversations)
        for (candidate, point), reply in zip(points, replies, strict=True):
            thought = None if isinstance(reply, Exception) else clean_thought(reply.text)
            if thought is None:
                self.summary.recovery_fallbacks += 1
            else:
                candidate.thoughts[point.turn] = thought
        for candidate in candidates:
            if candidate.thoughts:
                final = play(self.replayer, candidate.task.id, candidate.seed,
                             candidate.parsed.turns, candidate.plan, candidate.reference,
                             candidate.thoughts)
                if final.ok:
                    candidate.played = final
                else:
                    self.summary.recovery_fallbacks += len(candidate.thoughts)

    def close(self) -> None:
        self.replayer.close()


def _clean_problem(clean: Played, turns: list[TeacherTurn], task: Task
                   ) -> tuple[str, str] | None:
    """Why a clean replay cannot be kept (reason, detail), or None."""
    for number, step in enumerate(clean.episode.steps, 1):
        if step.parse_error:
            return "protocol", f"turn {number}: the env reads it as {step.parse_error}"
        if step.kind == "code" and step.status != "ok":
            last = step.observation.strip().splitlines()[-2:-1] or [""]
            return "code_error", f"turn {number}: {step.status}: {last[0].strip()}"
    if clean.episode.termination != "answer":
        return "too_long", (f"the env ended the episode at turn {len(clean.episode.steps)} "
                            f"of {len(turns)} ({clean.episode.termination})")
    if not clean.episode.correct:
        verdict = clean.episode.verdict or {}
        return "wrong_answer", (f"answered {verdict.get('extracted')!r}, gold "
                                f"{task.answer!r} ({verdict.get('reason')})")
    return None


def _manifest(config: SynthesisConfig, tasks: TaskSet, llm: ChatAgent | None
              ) -> dict[str, Any]:
    settings = {key: getattr(config, key) for key in RESUME_KEYS}
    if llm is not None:
        settings["llm"] = f"custom:{type(llm).__name__}"
    if config.llm == "template":
        settings["template_version"] = TEMPLATE_VERSION
    settings.update(prompt_version=PROMPT_VERSION, source_sha256=tasks.content_hash)
    return {"settings": json.loads(json.dumps(settings)), "source": tasks.provenance(),
            "deeptool_version": deeptool_env.__version__}


def synthesize(config: SynthesisConfig, *, llm: ChatAgent | None = None) -> SynthesisSummary:
    """Run the pipeline (module docstring) and return its summary.

    `llm` is any `ChatAgent` to use as the teacher (default: built from the config and
    closed at the end). Resumable: problems already in the output or rejects file are
    skipped. Ctrl-C stops the run after the lines already written; the summary then says
    `interrupted=True`.
    """
    started = time.monotonic()
    tasks = load_tasks(config.train_data, data_dir=config.data_dir, strict=config.strict_data)
    selected, skipped = select_tasks(tasks, config)
    summary = SynthesisSummary(config.out, str(sibling(config.out, ".rejects.jsonl")),
                               selected=len(selected), skipped_no_solution=skipped)
    with SynthesisStore(config.out, _manifest(config, tasks, llm)) as store:
        done, _, _ = store.done()
        todo = [task for task in selected if task.id not in done]
        summary.already_done = len(selected) - len(todo)
        teacher = teacher_for(config, llm) if todo else None
        run = _Run(config, teacher, tasks, store, summary) if todo else None
        try:
            with ProgressBar(len(selected), summary.already_done, summary,
                             enabled=config.progress) as bar:
                if run is not None:
                    run.bar = bar
                    for start in range(0, len(todo), config.batch_size):
                        run.batch(todo[start:start + config.batch_size])
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            if run is not None:
                run.close()
            if llm is None and teacher is not None:  # built here, so closed here
                teacher.close()
        _, summary.total_kept, summary.total_rejected = store.done()
    summary.wall_s = time.monotonic() - started
    return summary
