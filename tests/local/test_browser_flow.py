"""The whole connect flow in a real browser, against `make dev`'s stack: API -> widget -> provider -> redirect -> sync.

Needs Chromium and its driver from Debian (`apt-get install chromium chromium-driver`); CI installs them.
SCREENSHOT_DIR=docs makes it refresh the screenshots the README shows (make screenshots).
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from local.dev import DevStack, dev_stack
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Chromium and ChromeDriver: apt-get install chromium chromium-driver (CI installs them)",
)


@pytest.fixture
def stack() -> Iterator[DevStack]:
    with dev_stack(0, quiet=True) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not try to download a driver or a browser
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=420,820",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_a_user_connects_a_wearable_through_the_widget(
    stack: DevStack, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    screenshots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    headers = stack.bearer("alice")
    created = requests.post(
        f"{stack.api_url}/v1/widget-sessions",
        json={"providers": ["GARMIN", "OURA", "FITBIT"]},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201

    browser.get(created.json()["url"])
    providers = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "a.provider")]
    assert providers == ["GARMIN", "OURA", "FITBIT"]
    browser.save_screenshot(str(screenshots / "widget.png"))

    browser.find_element(By.CSS_SELECTOR, 'a[data-provider="OURA"]').click()
    WebDriverWait(browser, 10).until(lambda driver: "/dev/connected" in driver.current_url)
    redirect = parse_qs(urlsplit(browser.current_url).query)
    assert redirect["resource"] == ["OURA"]
    assert redirect["reference_id"] == [stack.identity.subject("alice")]
    assert browser.find_element(By.ID, "outcome").text == "Connected"
    browser.save_screenshot(str(screenshots / "widget-connected.png"))

    # What the app does when the deep link brings the user back: one sync, no polling.
    listed = requests.post(f"{stack.api_url}/v1/connections/sync", headers=headers, timeout=10).json()
    assert [(c["provider"], c["status"], c["terra_user_id"]) for c in listed["connections"]] == [
        ("OURA", "connected", redirect["user_id"][0])
    ]
    assert listed["last_attempt"]["status"] == "success"
    other = stack.bearer("bob")
    assert requests.get(f"{stack.api_url}/v1/connections", headers=other, timeout=10).json()["connections"] == []


def test_cancelling_the_widget_is_recorded_as_the_last_attempt(stack: DevStack, browser: webdriver.Chrome) -> None:
    headers = stack.bearer("carol")
    url = requests.post(f"{stack.api_url}/v1/widget-sessions", headers=headers, timeout=10).json()["url"]

    browser.get(url)
    browser.find_element(By.CSS_SELECTOR, "a.cancel").click()
    WebDriverWait(browser, 10).until(lambda driver: "/dev/failed" in driver.current_url)

    listed = requests.get(f"{stack.api_url}/v1/connections", headers=headers, timeout=10).json()
    assert listed["connections"] == []
    assert (listed["last_attempt"]["status"], listed["last_attempt"]["reason"]) == ("error", "user_cancelled")


def test_the_sdk_page_connects_apple_health_for_the_user_the_token_was_issued_to(
    stack: DevStack, browser: webdriver.Chrome
) -> None:
    assert stack.terra is not None
    headers = stack.bearer("dana")
    for device_names in (stack.identity.subject("dana"), stack.identity.subject("erik")):  # honest, then not
        token = requests.post(f"{stack.api_url}/v1/sdk-tokens", headers=headers, timeout=10).json()
        browser.get(f"{stack.terra.base_url}/sdk")
        browser.find_element(By.NAME, "token").send_keys(token["token"])
        browser.find_element(By.NAME, "reference_id").send_keys(device_names)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # The form posts and a new page replaces this one: the old heading may go stale while it is being read.
        WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: "connected" in driver.find_element(By.TAG_NAME, "h1").text
        )

    dana = requests.post(f"{stack.api_url}/v1/connections/sync", headers=headers, timeout=10).json()
    erik = stack.bearer("erik")
    assert [c["provider"] for c in dana["connections"]] == ["APPLE"]
    assert requests.post(f"{stack.api_url}/v1/connections/sync", headers=erik, timeout=10).json()["connections"] == []
