"""report.html in a real browser: a tiny real evaluation (a scripted agent full of hostile
HTML, adversarial perturbations, two procedural benchmarks) is reported, and headless
Chromium driven by selenium checks the tables, the trajectory viewer and its filters, the
perturbed turns' real tool output, that no model or tool text runs as markup, and takes a
screenshot. Skips with the reason when Chromium or chromedriver is missing
(`bash .ci/browser-setup.sh` installs them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

webdriver = pytest.importorskip("selenium.webdriver")

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from agents import Agent  # noqa: E402
from benchmarks.records import SampleRecord, read_samples  # noqa: E402
from benchmarks.report import write_report  # noqa: E402
from benchmarks.runner import evaluate  # noqa: E402

EVIL_IMG = '<img src=x onerror="window.pwned=1;alert(1)">'
EVIL_SCRIPT = "</script><script>window.pwned=2</script><!--"
_N = re.compile(r"p_\{(\d+)\}")
_NUMBER = re.compile(r"-?\d+")


class HostileSolver(Agent):
    """nth-prime problems: a turn with no action (hostile prose), three tool calls printing
    hostile HTML and the prime (three chances for a perturbation), then the last number
    shown. Other problems: a wrong guess
    whose thinking tries to close the page's script element."""

    name = "hostile-solver"
    concurrent_episodes = True

    def __init__(self) -> None:
        self.turns: dict[Any, int] = {}
        self.n: dict[Any, str | None] = {}

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        key = info["episode_key"]
        match = _N.search(observation)
        self.turns[key], self.n[key] = 0, match.group(1) if match else None

    def act(self, observation: str, info: dict[str, Any]) -> str:
        key = info["episode_key"]
        turn, n = self.turns[key], self.n[key]
        self.turns[key] += 1
        if n is None:
            return f"<think>{EVIL_SCRIPT}</think><answer>\\boxed{{7}}</answer>"
        if turn == 0:
            return f"<think>{EVIL_IMG}</think>I refuse to use tags {EVIL_SCRIPT}"
        if turn <= 3:
            return (f"<think>{EVIL_IMG}</think><code>import sympy\nprint({EVIL_IMG!r})\n"
                    f"print(sympy.prime({n}))</code>")
        numbers = _NUMBER.findall(observation.replace("<output>", ""))
        return f"<answer>\\boxed{{{numbers[-1] if numbers else 0}}}</answer>"




@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[SampleRecord]]:
    """A real run's report.html and its records."""
    out = tmp_path_factory.mktemp("report-run")
    evaluate(HostileSolver(), out=str(out), k=2, limit=3, max_turns=5,
             benchmarks=("procedural:nth_prime", "procedural:modpow"),
             perturbation="adversarial", progress=False)
    return write_report(out)["html"], read_samples(out)


def _perturbed(records: list[SampleRecord]) -> tuple[SampleRecord, dict[str, Any]]:
    for record in records:
        for turn in record.turns:
            if turn["perturbation"] and turn["observation_clean"] != turn["observation"]:
                return record, turn
    raise AssertionError("the seeded adversarial run has no perturbed turn")


def _items(driver: webdriver.Chrome) -> list[Any]:
    return driver.find_elements(By.CSS_SELECTOR, "#sample-list li")


def _no_markup_ran(driver: webdriver.Chrome) -> None:
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text
    assert driver.execute_script("return window.pwned === undefined")
    hostile = "#sample-detail img, #sample-detail script, #sample-list img, #problems img"
    assert driver.find_elements(By.CSS_SELECTOR, hostile) == []


def test_viewer_filters_turns_and_escaping(browser, report, tmp_path):
    page, records = report
    browser.get(page.as_uri())
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("DeepTool Gym report: ")
    count = browser.find_element(By.ID, "match-count")
    assert count.text == f"{len(records)} of {len(records)} samples" and len(records) == 12
    _no_markup_ran(browser)

    numeric = browser.find_element(By.CSS_SELECTOR, "#problems tbody td.num")
    prose = browser.find_element(By.CSS_SELECTOR, "#problems tbody td:nth-child(4)")
    assert numeric.value_of_css_property("text-align") == "right"
    assert prose.value_of_css_property("text-align") in {"left", "start"}
    assert len(browser.find_elements(By.CSS_SELECTOR, "#problems tbody tr")) == 6

    outcome = Select(browser.find_element(By.ID, "filter-outcome"))
    outcome.select_by_value("incorrect")
    wrong = sum(not r.correct for r in records)
    assert wrong >= 3 and len(_items(browser)) == wrong
    assert all(i.get_attribute("class") == "bad" for i in _items(browser))
    outcome.select_by_value("correct")
    assert all(i.get_attribute("class") == "ok" for i in _items(browser))
    outcome.select_by_value("")
    benchmark = Select(browser.find_element(By.ID, "filter-benchmark"))
    benchmark.select_by_value("procedural:modpow")
    assert len(_items(browser)) == 6 and all("modpow" in i.text for i in _items(browser))
    detail = browser.find_element(By.ID, "sample-detail")
    assert EVIL_SCRIPT in detail.text and "incorrect" in detail.text
    _no_markup_ran(browser)

    record, turn = _perturbed(records)
    row = browser.find_element(
        By.XPATH, f"//table[@id='problems']//tr[@data-problem='{record.problem_id}']")
    row.click()
    assert benchmark.first_selected_option.get_attribute("value") == record.benchmark
    assert len(_items(browser)) == 2
    _items(browser)[record.sample].click()
    perturbed = detail.find_element(By.CSS_SELECTOR, ".turn.perturbed")
    assert perturbed.find_element(By.CSS_SELECTOR, "pre.clean").text == \
        turn["observation_clean"].strip()
    assert "perturbed: " + turn["perturbation"]["kind"] in perturbed.text
    assert "parse error: no_action" in detail.text and EVIL_IMG in detail.text
    assert detail.find_elements(By.CSS_SELECTOR, "ul.terms li")
    _no_markup_ran(browser)
    browser.execute_script("arguments[0].scrollIntoView()", detail)
    shot = tmp_path / "report-viewer.png"
    assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:4] == b"\x89PNG"


def test_page_is_self_contained_with_a_strict_policy(report):
    page, _ = report
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert policy and "default-src 'none'" in policy.group(1)
    assert "unsafe-inline" not in policy.group(1) and "script-src 'sha256-" in policy.group(1)
    assert text.count("<script") == 2 and EVIL_SCRIPT not in text and EVIL_IMG not in text
