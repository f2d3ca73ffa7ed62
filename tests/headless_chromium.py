"""The headless Chromium fixture of the browser tests (Debian's chromium + chromedriver,
driven with selenium; set up by `.ci/browser-setup.sh`)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest

CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-extensions",
                "--window-size=1400,1000")


def _binaries() -> tuple[str, str]:
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                   "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("Chromium or chromedriver not installed (bash .ci/browser-setup.sh, or "
                    "apt-get install chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """A headless Chromium with an empty profile (skips with a reason when absent)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary, driver_path = _binaries()
    profile = tempfile.mkdtemp(prefix="deeptool-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver_path)
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except Exception as exc:  # any start-up failure means no usable browser here
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"headless Chromium did not start: {exc}")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
