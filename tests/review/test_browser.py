"""The real console (`scrapeguard review serve`) in Debian's headless Chromium: login, queue, case page, confirm,
dismiss, a bulk verdict on a group, an incident report, a viewer's view, and HTML from the logs shown as text.

Saves the case page of a fleet to docs/review-case.png (shown in the README)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.broker import free_port
from tests.review import scenario

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "correct-horse-battery-staple"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
        reason="Debian's chromium and chromium-driver are installed by `make test`",
    ),
]


def review(data: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "review", *args, "--data", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """The console serving the simulated scenario on a free port, with an analyst and a viewer; stopped by pid."""
    data = tmp_path_factory.mktemp("console")
    made = scenario.make(tmp_path_factory.mktemp("sim"))
    review(data, "ingest", "--events", str(made.events), "--decisions", str(made.decisions))
    for name in ("analyst", "viewer"):
        review(data, "user", "add", name, "--role", name, "--password-stdin", stdin=PASSWORD + "\n")
    port = free_port()
    verdicts = data / "verdicts.jsonl"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "review",
            "serve",
            "--port",
            str(port),
            "--data",
            str(data),
            "--verdicts",
            str(verdicts),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read() if server.stdout else ""
            time.sleep(0.2)
    yield {"base": f"http://127.0.0.1:{port}", "verdicts": verdicts, "world": made, "data": data}
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for a browser or driver to download
    profile = tempfile.mkdtemp(prefix="chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)  # find_element waits for the next page's elements
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def click_and_wait(driver, element) -> None:
    """Click, and wait until the page it was on has gone."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element("tag name", "main")
    gone = expected_conditions.staleness_of(page)

    def left(driver) -> bool:
        try:
            return gone(driver)
        except WebDriverException as exc:
            # chromedriver sometimes answers this, not "stale element", for an element of the page being left
            # (SeleniumHQ/selenium issue 15401): the old page is going, so look again
            if "does not belong to the document" in str(exc):
                return False
            raise

    element.click()
    WebDriverWait(driver, 30).until(left)


def log_in(driver, base: str, user: str, password: str = PASSWORD, path: str = "/") -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(base + path)
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    click_and_wait(driver, driver.find_element(By.ID, "login"))


def case_of(driver, base: str, subject: str) -> str:
    """The case page address of a subject, found through the queue."""
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    for row in driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr"):
        if subject in row.text.split():
            return row.find_element(By.CSS_SELECTOR, "a.case-link").get_attribute("href")
    raise AssertionError(f"{subject} is not in the queue")


def judge(driver, button: str, note: str, allowlist: bool = False, uncheck: list[str] = ()) -> str:
    from selenium.webdriver.common.by import By

    for member in uncheck:
        driver.find_element(By.CSS_SELECTOR, f'input[name="members"][value="{member}"]').click()
    driver.find_element(By.ID, "note").send_keys(note)
    if allowlist:
        driver.find_element(By.ID, "allowlist").click()
    click_and_wait(driver, driver.find_element(By.ID, button))
    return driver.find_element(By.ID, "message").text


def sent(console) -> list[dict]:
    return [json.loads(line) for line in console["verdicts"].read_text().splitlines()]


def test_an_analyst_reviews_judges_and_reports(console, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, world, d = console["base"], console["world"], browser
    kinds = {v: k.split(":", 1)[1] for k, v in world.labels.items()}
    log_in(d, base, "analyst", "wrong password")
    assert "wrong user name or password" in d.find_element(By.ID, "login-message").text
    log_in(d, base, "analyst", path="/audit")
    assert "this needs the admin role" in d.find_element(By.ID, "error").text  # logged in, but not an admin

    # queue: counts and a filter
    d.get(base + "/")
    total = int(d.find_element(By.ID, "count-total").text)
    rows = d.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
    assert total == len(rows) > 5
    Select(d.find_element(By.NAME, "action")).select_by_value("block")
    click_and_wait(d, d.find_element(By.ID, "apply"))
    blocks = d.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
    assert 0 < len(blocks) < total and all(" block " in f" {r.text} " for r in blocks)

    # confirm a crawler
    d.get(case_of(d, base, kinds["scraper_new_account_crawler"]))
    assert d.find_element(By.CSS_SELECTOR, "#timeline svg")
    assert d.find_elements(By.CSS_SELECTOR, "#sample tr")[1:] and d.find_elements(By.CSS_SELECTOR, "#history tr")[1:]
    assert "confirm recorded for 1 subject" in judge(d, "confirm", "a profile every 1-3 s since sign-up")
    assert d.find_element(By.ID, "case-status").text == "confirmed"
    assert sent(console)[-1]["subject"] == kinds["scraper_new_account_crawler"]

    # dismiss, asking for an allowlist entry
    d.get(case_of(d, base, kinds["scraper_low_and_slow"]))
    assert "dismiss recorded" in judge(d, "dismiss", "a partner's archive job (ticket 4711)", allowlist=True)
    assert d.find_element(By.ID, "case-status").text == "dismissed"
    assert (sent(console)[-1]["verdict"], sent(console)[-1]["allowlist"]) == ("dismiss", True)

    # a bulk verdict on a fleet, one member left out, then that member
    group = case_of(d, base, "coordinated_fleet")
    d.get(group)
    members = [e.get_attribute("value") for e in d.find_elements(By.CSS_SELECTOR, 'input[name="members"]')]
    assert len(members) >= 3
    d.set_window_size(1400, 1500)
    d.save_screenshot(str(ROOT / "docs" / "review-case.png"))
    d.set_window_size(1400, 1000)
    message = judge(d, "confirm", "one fleet: same agent, same hour, disjoint id blocks", uncheck=[members[-1]])
    assert f"confirm recorded for {len(members) - 1} subjects" in message
    assert d.find_element(By.ID, "case-status").text == "open"
    assert "dismiss recorded for 1 subject" in judge(d, "dismiss", "crawls nothing in order")
    assert d.find_element(By.ID, "case-status").text == "confirmed"
    assert [v["verdict"] for v in sent(console)[-len(members) :]] == ["confirm"] * (len(members) - 1) + ["dismiss"]

    # incident report of the confirmed fleet
    click_and_wait(d, d.find_element(By.ID, "report"))
    people = int(d.find_element(By.ID, "people-accessed").text)
    assert people > 0 and d.find_elements(By.CSS_SELECTOR, "#categories tr")[1:]
    d.get(d.find_element(By.ID, "export-json").get_attribute("href"))
    assert f'"people_accessed": {people}' in d.find_element(By.TAG_NAME, "body").text


def test_a_viewer_sees_pseudonyms_and_no_verdict_buttons(console, browser):
    from selenium.webdriver.common.by import By

    d, base = browser, console["base"]
    log_in(d, base, "viewer")
    d.get(base + "/")
    text = d.find_element(By.ID, "queue").text
    assert "acct-" in text and scenario.XSS_ACCOUNT not in text
    click_and_wait(d, d.find_element(By.CSS_SELECTOR, "a.case-link"))
    d.implicitly_wait(0)
    assert d.find_element(By.ID, "case-title") and not d.find_elements(By.ID, "verdict-form")
    d.implicitly_wait(10)


def test_html_in_a_user_agent_or_path_renders_as_text(console, browser):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    d, base = browser, console["base"]
    log_in(d, base, "analyst")
    d.get(case_of(d, base, scenario.XSS_ACCOUNT))
    shown = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#user-agents .ua, #sample .ua")]
    assert scenario.XSS_UA in shown
    assert any(scenario.XSS_PATH in e.text for e in d.find_elements(By.CSS_SELECTOR, "#sample td"))
    d.implicitly_wait(0)
    assert d.find_elements(By.TAG_NAME, "img") == [] and d.find_elements(By.TAG_NAME, "script") == []
    d.implicitly_wait(10)
    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert.text  # noqa: B018


def test_an_analyst_lifts_a_surge_on_the_access_path(console, browser, tmp_path):
    """The golden surge's decision, ingested while the console runs: a case on the path, whose page says what each
    verdict does to every logged-out visitor; a dismiss sends the detector a verdict on the path."""
    from selenium.webdriver.common.by import By

    surge = json.loads((ROOT / "tests" / "golden" / "logged_out_surge" / "expected.jsonl").read_text())
    decisions = tmp_path / "surge.jsonl"
    decisions.write_text(json.dumps({**surge, "emitted_at": surge["event_time"]}) + "\n")
    review(console["data"], "ingest", "--decisions", str(decisions))
    d, base = browser, console["base"]
    log_in(d, base, "analyst")
    d.get(base + "/?subject_type=path")
    [row] = d.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
    assert "logged-out:profile_view" in row.text and "challenge" in row.text
    click_and_wait(d, row.find_element(By.CSS_SELECTOR, "a.case-link"))
    assert "blocks every logged-out profile view" in d.find_element(By.ID, "path-effect").text
    d.implicitly_wait(0)
    assert not d.find_elements(By.ID, "allowlist")
    d.implicitly_wait(10)
    assert "dismiss recorded for 1 subject" in judge(d, "dismiss", "a TV mention, not a crawl")
    assert d.find_element(By.ID, "case-status").text == "dismissed"
    last = sent(console)[-1]
    assert (last["subject_type"], last["subject"], last["verdict"]) == ("path", "logged-out:profile_view", "dismiss")
