// The trajectory viewer of report.html: a filterable list of samples and the turns of the
// selected one. Model and tool text is untrusted: it only ever becomes textContent.
(function () {
  "use strict";
  const source = document.getElementById("samples-data");
  if (!source) { return; }
  const samples = JSON.parse(source.textContent);
  const list = document.getElementById("sample-list");
  const detail = document.getElementById("sample-detail");
  const byBenchmark = document.getElementById("filter-benchmark");
  const byOutcome = document.getElementById("filter-outcome");
  const byProblem = document.getElementById("filter-problem");
  const count = document.getElementById("match-count");
  let selected = -1;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function block(parent, label, text, className) {
    if (text === undefined || text === null || text === "") { return; }
    parent.appendChild(el("p", "label", label));
    parent.appendChild(el("pre", className || "", text));
  }

  function signed(x) { return (x > 0 ? "+" : "") + x.toFixed(3).replace(/\.?0+$/, ""); }

  function matches(s, exact) {
    if (byBenchmark.value && s.benchmark !== byBenchmark.value) { return false; }
    if (byOutcome.value === "correct" && !s.correct) { return false; }
    if (byOutcome.value === "incorrect" && s.correct) { return false; }
    const needle = byProblem.value.trim().toLowerCase();
    const problem = s.problem.toLowerCase();
    return !needle || (exact ? problem === needle : problem.includes(needle));
  }

  function facts(s) {
    const dl = el("dl", "facts");
    const rows = [
      ["Verdict", (s.correct ? "correct" : "incorrect") + " (" + s.reason + ")"],
      ["Gold", s.gold], ["Extracted", s.extracted === null ? "(none)" : s.extracted],
      ["Termination", s.termination], ["Reward", s.reward === null ? "–" : signed(s.reward)],
      ["Tokens", s.tokens], ["Tool calls", s.tool_calls], ["Parse errors", s.parse_errors],
      ["Perturbation", s.perturbation + (s.perturbed_turns ? ", " + s.perturbed_turns +
        " perturbed turn" + (s.perturbed_turns > 1 ? "s" : "") : "")],
    ];
    for (const [name, value] of rows) {
      dl.appendChild(el("dt", "", name));
      dl.appendChild(el("dd", name === "Verdict" ? (s.correct ? "ok" : "bad") : "", value));
    }
    return dl;
  }

  function toolLine(tool) {
    let text = "tool " + tool.status;
    if (tool.shown_status && tool.shown_status !== tool.status) {
      text += " (shown to the model as " + tool.shown_status + ")";
    }
    if (tool.exit_code !== undefined && tool.exit_code !== null) { text += ", exit " + tool.exit_code; }
    if (typeof tool.wall_ms === "number") { text += ", " + Math.round(tool.wall_ms) + " ms"; }
    if (tool.truncated) { text += ", output truncated"; }
    return text;
  }

  function terms(turn) {
    const names = Object.keys(turn.reward_terms).filter((k) => turn.reward_terms[k] !== 0);
    const ul = el("ul", "terms");
    for (const name of names) {
      const value = turn.reward_terms[name];
      ul.appendChild(el("li", value > 0 ? "pos" : "neg", name + " " + signed(value)));
    }
    if (!names.length) { ul.appendChild(el("li", "", "all terms 0")); }
    return ul;
  }

  function turnView(turn, index) {
    const kind = turn.parse_error ? "parse-error" : (turn.perturbation ? "perturbed" : "");
    const box = el("section", "turn " + kind);
    const head = el("h4", "", "Turn " + (index + 1));
    const action = turn.code !== null ? "code" : (turn.answer !== null ? "answer" : "no action");
    head.appendChild(el("span", "badge", action));
    if (turn.parse_error) { head.appendChild(el("span", "badge error", "parse error: " + turn.parse_error)); }
    if (turn.perturbation) {
      head.appendChild(el("span", "badge perturbed",
        "perturbed: " + turn.perturbation.kind + " (" + turn.perturbation.family + ")"));
    }
    if (turn.tool) {
      const bad = turn.tool.status !== "ok" || turn.tool.shown_status !== turn.tool.status;
      head.appendChild(el("span", "badge " + (bad ? "error" : "ok"), toolLine(turn.tool)));
    }
    box.appendChild(head);
    block(box, "Thinking", turn.thinking);
    block(box, "Code", turn.code, "code");
    block(box, "Answer", turn.answer);
    if (turn.code === null && turn.answer === null) { block(box, "Turn as written", turn.action); }
    const shownLabel = turn.perturbation ? "Tool output shown to the model (perturbed)"
      : (turn.tool ? "Tool output" : "Feedback shown to the model");
    block(box, shownLabel, turn.observation);
    if (turn.perturbation) {
      if (turn.clean_missing) {
        box.appendChild(el("p", "note", "What the tool really printed is not in this record."));
      } else {
        block(box, "What the tool really printed (never shown to the model)", turn.clean, "clean");
      }
      box.appendChild(el("p", "note", "Perturbation parameters: " + turn.perturbation.params));
    }
    box.appendChild(el("p", "label", "Reward terms"));
    box.appendChild(terms(turn));
    if (turn.code !== null || turn.answer !== null) {
      const raw = el("details", "raw");
      raw.appendChild(el("summary", "muted", "turn as written"));
      raw.appendChild(el("pre", "", turn.action));
      box.appendChild(raw);
    }
    return box;
  }

  function show(index) {
    selected = index;
    for (const item of list.children) {
      item.setAttribute("aria-selected", String(Number(item.dataset.index) === index));
    }
    detail.replaceChildren();
    if (index < 0) { detail.appendChild(el("p", "muted", "No sample matches the filters.")); return; }
    const s = samples[index];
    detail.appendChild(el("h3", "", s.benchmark_name + " / " + s.problem + " / sample " + s.sample));
    detail.appendChild(facts(s));
    s.turns.forEach((turn, i) => detail.appendChild(turnView(turn, i)));
  }

  function refresh() {
    list.replaceChildren();
    const needle = byProblem.value.trim().toLowerCase();
    const exact = samples.some((s) => s.problem.toLowerCase() === needle);
    let first = -1;
    let shown = 0;
    let keep = false;
    samples.forEach((s, i) => {
      if (!matches(s, exact)) { return; }
      keep = keep || i === selected;
      if (first < 0) { first = i; }
      shown += 1;
      const item = el("li", s.correct ? "ok" : "bad",
        (s.correct ? "✓ " : "✗ ") + s.benchmark_name + " · " + s.problem + " · #" + s.sample +
        (s.perturbed_turns ? " · perturbed" : ""));
      item.dataset.index = String(i);
      item.addEventListener("click", () => show(i));
      list.appendChild(item);
    });
    count.textContent = shown + " of " + samples.length + " samples";
    show(keep ? selected : first);
  }

  for (const name of [...new Set(samples.map((s) => s.benchmark))]) {
    const option = el("option", "", samples.find((s) => s.benchmark === name).benchmark_name);
    option.value = name;
    byBenchmark.appendChild(option);
  }
  for (const control of [byBenchmark, byOutcome]) { control.addEventListener("change", refresh); }
  byProblem.addEventListener("input", refresh);
  document.querySelectorAll("#problems tbody tr").forEach((row) => {
    row.addEventListener("click", () => {
      byBenchmark.value = row.dataset.benchmark;
      byOutcome.value = "";
      byProblem.value = row.dataset.problem;
      refresh();
      document.getElementById("trajectories").scrollIntoView();
    });
  });
  refresh();
}());
