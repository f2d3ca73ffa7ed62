"""The leaderboard in a real browser: headless Chromium driven by selenium loads the page
served by the real server, checks the ranking, sorts by clicking column headers, opens a
detail page (a model name full of HTML stays text and runs no script), and follows the
links of the static export. Skips with the reason when Chromium or chromedriver is missing
(`bash .ci/browser-setup.sh` installs them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from leaderboard.site import build_site  # noqa: E402

from .leaderboard_helpers import (  # noqa: E402
    LiveServer,
    bundle_of,
    derive,
    server_config,
    six_benchmark_runs,
)

EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'




@pytest.fixture(scope="module")
def served(tmp_path_factory, data_dir) -> Iterator[tuple[LiveServer, Path]]:
    base = tmp_path_factory.mktemp("browser")
    runs = six_benchmark_runs(base, data_dir)
    runs = [runs["strong"], runs["weak"], derive(runs["strong"], EVIL, 0.6)]
    config = server_config(base, data_dir)
    with LiveServer(config) as live:
        for run in runs:
            assert live.upload(bundle_of(run, data_dir)).status_code == 201
        yield live, base


def _models(driver: webdriver.Chrome) -> list[str]:
    return [row.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text
            for row in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")]


def _column(driver: webdriver.Chrome, index: int) -> list[float]:
    cells = driver.find_elements(By.CSS_SELECTOR, f"#leaderboard tbody td:nth-child({index})")
    return [float(cell.get_attribute("data-value")) for cell in cells]


def _no_alert(driver: webdriver.Chrome) -> None:
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


def test_page_ranks_sorts_and_links(browser, served):
    live, _ = served
    browser.get(live.url + "/")
    expected = [e["model"] for e in live.entries()]
    assert _models(browser) == expected
    assert expected[0] == "strong-model" and expected[-1] == "weak-model"
    _no_alert(browser)

    heads = browser.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")
    aime = next(i for i, h in enumerate(heads, 1) if h.get_attribute("data-benchmark") == "aime24")
    heads[aime - 1].click()
    assert heads[aime - 1].get_attribute("aria-sort") == "descending"
    values = _column(browser, aime)
    assert values == sorted(values, reverse=True)
    heads[aime - 1].click()
    assert heads[aime - 1].get_attribute("aria-sort") == "ascending"
    assert _column(browser, aime) == sorted(values)
    heads[1].click()
    assert _models(browser) == sorted(expected, key=str.lower)
    heads[0].click()
    assert _models(browser) == expected

    browser.find_element(By.LINK_TEXT, EVIL).click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("/entry/"))
    assert browser.find_element(By.TAG_NAME, "h1").text == EVIL
    _no_alert(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "h1 img, h1 script") == []
    assert browser.find_element(By.ID, "problems").find_elements(By.TAG_NAME, "tr")[1:]
    assert "Sample trajectories" in browser.page_source


def test_static_site_links_work_from_files(browser, served, tmp_path):
    live, base = served
    out = tmp_path / "site"
    build_site(server_config(base, Path(".")), out)
    browser.get((out / "index.html").as_uri())
    assert _models(browser) == [e["model"] for e in live.entries()]
    browser.find_element(By.LINK_TEXT, "weak-model").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("/entry/"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "weak-model"
    browser.find_element(By.PARTIAL_LINK_TEXT, "leaderboard").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("index.html"))
    assert _models(browser)[0] == "strong-model"
