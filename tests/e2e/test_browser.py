"""The page in a real browser: headless Chromium, driven by Playwright, on a loopback server.

Each step is saved as a screenshot: into the test's tmp folder, or into the folder
named by CAPTORRA_UI_SCREENSHOTS (how docs/ui-*.png were made).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.mapping import load_mapping
from importer.sandbox import SandboxConfig, running_server
from importer.settings import Settings, load_settings
from importer.ui import UiConfig
from importer.ui import running_server as running_ui
from tests.leads import MAPPING, REFERRER, lead_rows, read_sheet, write_csv

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # CI installs it; see .ci/run
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ROOT = Path(__file__).parent.parent.parent
ACME = ROOT / "sample_data" / "acme_leads.xlsx"
EXAMPLE = ROOT / "mappings" / "example.yaml"
# The case types of the sample file, with example.yaml's (made-up) GUIDs; Dog Bite has none.
CASE_TYPES = {
    "Auto Accident": "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01",
    "Slip and Fall": "8a6d4e2f-1b3c-4f5a-8d7e-9c2b1a0f3e02",
    "Workers Comp": "c47e9a10-2d8b-4e6f-a1c3-5b7d9f0e2a03",
    "Medical Malpractice": "e91f0b2c-7d4a-4c8e-b6f2-3a5d8c1e9f04",
}

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright (for Python) is not installed"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def page() -> Iterator[Page]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(30_000)
        expect.set_options(timeout=30_000)  # a loaded machine: checks take a few seconds
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CAPTORRA_UI_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def referrer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTORRA_REFERRER", REFERRER)


def counts(page: Page) -> dict[str, int]:
    return {
        name: int(page.locator(f"#count-{name}").inner_text().replace(",", ""))
        for name in ("valid", "already_posted", "invalid", "duplicate", "total")
    }


def test_upload_map_check_send_download(page: Page, shots: Path, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    # The example mapping's match rule (acme_*.xlsx) makes it the file's saved profile.
    (mappings / "acme.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    config = UiConfig(
        port=0, mappings_dir=mappings, journal=tmp_path / "journal.sqlite3", sandbox=True
    )
    with running_ui(config) as url:
        page.goto(url)
        expect(page.get_by_role("heading", name="Import a spreadsheet of leads")).to_be_visible()
        assert "token" not in page.url  # swapped for a cookie
        page.screenshot(path=shots / "ui-1-upload.png")

        # The file input is reachable by keyboard.
        for _ in range(12):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "file":
                break
        assert page.evaluate("document.activeElement.id") == "file"
        page.set_input_files("#file", ACME)

        page.wait_for_url(re.compile(r"/mapping$"))
        expect(page.locator("#use-profile")).to_have_text("Use acme.yaml and check the file")
        page.locator("#use-profile").click()

        page.wait_for_url(re.compile(r"/check$"))
        assert counts(page) == {
            "valid": 226,
            "already_posted": 0,
            "invalid": 9,
            "duplicate": 5,
            "total": 240,
        }
        expect(page.locator("#rows tbody tr")).to_have_count(14)
        expect(page.locator("td.cell-error .msg-error").first).to_be_visible()
        page.screenshot(path=shots / "ui-3-check.png")
        page.locator("#show-all").click()
        expect(page.locator("#rows tbody tr")).to_have_count(200)
        page.locator("#to-send").click()

        page.wait_for_url(re.compile(r"/send$"))
        expect(page.locator(".banner-sandbox")).to_contain_text("Nothing leaves this computer")
        page.screenshot(path=shots / "ui-4-confirm.png")
        # By keyboard: tick the box, then Tab to the button and press Enter.
        page.focus("#confirm")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "send"
        page.keyboard.press("Enter")

        page.wait_for_url(re.compile(r"/results$"))
        expect(page.locator("#result-posted")).to_have_text("226")
        expect(page.locator("#result-invalid")).to_have_text("9")
        expect(page.locator("#result-duplicate")).to_have_text("5")
        expect(page.locator("table.runs tbody tr")).to_have_count(1)
        page.screenshot(path=shots / "ui-6-results.png")
        with page.expect_download() as download:
            page.locator("#download").click()
        assert download.value.suggested_filename == "acme_leads.results.xlsx"
        saved = tmp_path / "downloaded.xlsx"
        download.value.save_as(saved)
    statuses = Counter(row["Status"] for row in read_sheet(saved))
    assert statuses == {"posted": 226, "invalid": 9, "duplicate": 5}


def test_a_new_mapping_made_on_the_page(page: Page, shots: Path, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    config = UiConfig(
        port=0, mappings_dir=mappings, journal=tmp_path / "journal.sqlite3", sandbox=True
    )
    with running_ui(config) as url:
        page.goto(url)
        page.set_input_files("#file", ACME)
        page.wait_for_url(re.compile(r"/mapping$"))
        expect(page.locator("#First-pick")).to_have_value("col:First Name")
        expect(page.locator("#Primary-transform")).to_have_value("phone")
        page.screenshot(path=shots / "ui-2-mapping.png")
        for case_type, guid in CASE_TYPES.items():
            page.get_by_label(f"GUID for {case_type}").fill(guid)
        page.locator('tr[data-field="Type"]').screenshot(path=shots / "ui-2-mapping-type.png")
        # Choosing another column for Type offers that column's values instead.
        page.locator("#Type-pick").select_option("col:Injured?")
        expect(page.get_by_label("GUID for Yes")).to_be_visible()
        page.locator("#Type-pick").select_option("col:Case Type")
        expect(page.get_by_label("GUID for Auto Accident")).to_have_value(
            CASE_TYPES["Auto Accident"]
        )
        page.locator("#save-mapping").click()

        page.wait_for_url(re.compile(r"/check$"))
        assert counts(page) == {
            "valid": 226,
            "already_posted": 0,
            "invalid": 9,
            "duplicate": 5,
            "total": 240,
        }
    saved = (mappings / "acme_leads.yaml").read_text(encoding="utf-8")
    assert "  Type:\n    column: Case Type\n" in saved
    assert "match:\n  filename: acme_leads*.xlsx\n" in saved


def test_progress_and_stop(page: Page, shots: Path, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "acme.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    with running_server(SandboxConfig(latency=0.1)) as (endpoint, sandbox):
        config = UiConfig(
            port=0,
            mappings_dir=mappings,
            journal=tmp_path / "journal.sqlite3",
            endpoint=endpoint,
        )
        with running_ui(config) as url:
            page.goto(url)
            page.set_input_files("#file", ACME)
            page.wait_for_url(re.compile(r"/mapping$"))
            page.locator("#use-saved").click()
            page.wait_for_url(re.compile(r"/check$"))
            page.locator("#to-send").click()
            expect(page.locator(".banner")).to_contain_text("Test server on this computer")
            page.locator("#confirm").check()
            page.locator("#send").click()
            page.wait_for_url(re.compile(r"/run$"))
            expect(page.locator("#run-posted")).not_to_have_text("0")
            page.screenshot(path=shots / "ui-5-progress.png")
            page.locator("#cancel").click()
            page.wait_for_url(re.compile(r"/results$"), timeout=60_000)
            expect(page.locator("#results-title")).to_have_text("Stopped: acme_leads.xlsx")
            posted = int(page.locator("#result-posted").inner_text())
            assert 0 < posted == len(sandbox.intakes) < 226
            expect(page.locator("#result-failed")).to_have_text(str(226 - posted))


FORBIDDEN = ("${", "match:", "read.", "YAML", "export ")


def assert_plain_words(page: Page) -> None:
    text = page.locator("body").inner_text()
    for word in FORBIDDEN:
        assert word not in text, (page.url, word)


def assert_fits(page: Page, width: int = 1280) -> None:
    """Nothing on the page is wider than the window: no sideways scrolling, nothing clipped."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if page.locator("#rows").count():
        wrap = page.locator(".rows-wrap")
        assert page.evaluate("(e) => e.scrollWidth <= e.clientWidth", wrap.element_handle())


def test_first_run_settings_then_a_sandbox_import(
    page: Page, shots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAPTORRA_ID")
    monkeypatch.delenv("CAPTORRA_REFERRER")
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "acme.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    config = UiConfig(
        port=0, mappings_dir=mappings, journal=tmp_path / "journal.sqlite3", sandbox=True
    )
    with running_ui(config) as url:
        page.goto(url)
        expect(page.locator("#settings-title")).to_have_text(
            "Welcome: first, your firm's Captorra details"
        )
        assert_plain_words(page)
        # Checked as typed: a letter in the CaptorraId is pointed out at once.
        page.locator("#captorra_id").fill("12a")
        expect(page.locator("#captorra_id-problem")).to_have_text(
            "CaptorraId: digits only, as Captorra shows it (e.g. 123456)"
        )
        page.locator("#captorra_id").fill("123456")
        expect(page.locator("#captorra_id-problem")).to_be_hidden()
        page.locator("#referrer").fill(REFERRER.upper())
        page.screenshot(path=shots / "ui-0-settings.png")
        page.locator("#save-settings").click()
        expect(page.locator("#settings-saved")).to_be_visible()
        page.get_by_role("link", name="Import a spreadsheet").click()

        page.set_input_files("#file", ACME)
        page.wait_for_url(re.compile(r"/mapping$"))
        assert_plain_words(page)
        page.locator("#use-profile").click()
        page.wait_for_url(re.compile(r"/check$"))
        expect(page.locator("#count-valid")).to_have_text("226")
        page.locator("#show-all").click()
        expect(page.locator("#rows tbody tr")).to_have_count(200)
        assert_fits(page)
        assert_plain_words(page)
        page.locator("#to-send").click()
        page.locator("#confirm").check()
        page.locator("#send").click()
        page.wait_for_url(re.compile(r"/results$"))
        expect(page.locator("#result-posted")).to_have_text("226")
        assert_plain_words(page)

        # The same file again: nothing new, and the page says so instead of "Send 0".
        page.locator("a.brand").click()
        expect(page.locator("#sends a").first).to_have_attribute("href", re.compile(r"/results$"))
        page.set_input_files("#file", ACME)
        page.wait_for_url(re.compile(r"/mapping$"))
        page.locator("#use-profile").click()
        page.wait_for_url(re.compile(r"/check$"))
        expect(page.locator("#nothing-to-send")).to_have_text(
            "Nothing new to send: every valid row was posted before."
        )
        assert page.locator("#to-send").count() == 0
        assert "Send 0" not in page.locator("body").inner_text()
    assert load_settings() == Settings(captorra_id="123456", referrer=REFERRER)


def test_stop_a_20000_row_send_to_the_in_process_sandbox(
    page: Page, shots: Path, tmp_path: Path
) -> None:
    rows = 20_000
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "leads.yaml").write_text(
        MAPPING + 'match: {filename: "leads*.csv"}\n', encoding="utf-8"
    )
    leads = write_csv(tmp_path / "leads_big.csv", lead_rows(rows))
    config = UiConfig(
        port=0, mappings_dir=mappings, journal=tmp_path / "journal.sqlite3", sandbox=True
    )
    with running_ui(config) as url:
        page.goto(url)
        page.set_input_files("#file", leads)
        page.wait_for_url(re.compile(r"/mapping$"))
        page.locator("#use-profile").click()
        page.wait_for_url(re.compile(r"/check$"))
        expect(page.locator("#count-valid")).to_have_text(f"{rows:,}", timeout=120_000)
        page.locator("#to-send").click()
        page.locator("#confirm").check()
        page.locator("#send").click()
        page.wait_for_url(re.compile(r"/run$"))
        expect(page.locator("#run-posted")).not_to_have_text("0")

        # The home page, in another tab, links to the send under way.
        home = page.context.new_page()
        home.goto(url.split("?")[0])
        running = home.locator("#sends li.send-running a")
        expect(running).to_have_attribute("href", re.compile(r"/run$"))
        home.close()

        page.locator("#cancel").click()
        # Stopped within a few seconds: requests in flight finish, no new one starts.
        page.wait_for_url(re.compile(r"/results$"), timeout=10_000)
        expect(page.locator("#results-title")).to_have_text("Stopped: leads_big.csv")
        posted = int(page.locator("#result-posted").inner_text().replace(",", ""))
        failed = int(page.locator("#result-failed").inner_text().replace(",", ""))
        assert 0 < posted < rows
        assert posted + failed == rows


def test_change_a_saved_mapping_and_save_it_under_its_name(
    page: Page, shots: Path, tmp_path: Path
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    acme = mappings / "acme.yaml"
    acme.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    old = acme.read_text(encoding="utf-8")
    dog_bite = "0d0b1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e05"
    config = UiConfig(
        port=0, mappings_dir=mappings, journal=tmp_path / "journal.sqlite3", sandbox=True
    )
    with running_ui(config) as url:
        page.goto(url)
        page.set_input_files("#file", ACME)
        page.wait_for_url(re.compile(r"/mapping$"))
        page.locator("#use-profile").click()
        page.wait_for_url(re.compile(r"/check$"))
        expect(page.locator("#count-invalid")).to_have_text("9")
        page.locator("#change-mapping").click()
        expect(page.locator("#new-title")).to_have_text("Change acme.yaml")
        # Every choice of the saved mapping is there: GUIDs, transforms, the file rule.
        expect(page.get_by_label("GUID for Auto Accident")).to_have_value(
            CASE_TYPES["Auto Accident"]
        )
        expect(page.locator("#Primary-transform")).to_have_value("phone")
        expect(page.locator("#match")).to_have_value("acme_*.xlsx")
        assert_plain_words(page)
        page.get_by_label("GUID for another case type").first.fill(dog_bite)
        page.get_by_label("Another case type").first.fill("Dog Bite")
        # A reload keeps what was typed.
        page.reload()
        expect(page.get_by_label("Another case type").first).to_have_value("Dog Bite")
        expect(page.locator("input[name='Type.lookup.guid']").nth(4)).to_have_value(dog_bite)
        page.locator("#save-replace").click()
        expect(page.locator("#confirm-replace")).to_contain_text("Replace acme.yaml?")
        page.locator("#replace-confirmed").click()
        page.wait_for_url(re.compile(r"/check$"))
        expect(page.locator("#count-invalid")).to_have_text("7")  # the 2 Dog Bite rows are fine now
    assert (mappings / "acme.yaml.bak").read_text(encoding="utf-8") == old
    loaded = load_mapping(acme)
    lookup = loaded.mapping.fields["Type"].lookup
    assert lookup is not None
    assert lookup["Dog Bite"] == dog_bite
    assert lookup["Auto Accident"] == CASE_TYPES["Auto Accident"]
    assert loaded.mapping.match is not None
    assert loaded.mapping.match.filename == "acme_*.xlsx"


def test_a_headerless_upload_logs_no_cell_text(page: Page, tmp_path: Path) -> None:
    """The server as a person starts it; everything it prints is read afterwards."""
    headerless = tmp_path / "no_header.csv"
    row = "Ann,Lee,(713) 555-0199,(713) 555-0199,Houston,Houston\n"
    headerless.write_text(row * 3, encoding="utf-8")
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    environment = {**os.environ, "CAPTORRA_REFERRER": REFERRER}
    server = subprocess.Popen(
        [sys.executable, "-m", "importer", "ui", "--sandbox", "--no-browser", "--port", "0",
         "--mappings-dir", str(mappings), "--journal", str(tmp_path / "journal.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/\?code=[\w-]+)", first)
        assert found is not None, first
        page.goto(found.group(1))
        page.set_input_files("#file", headerless)
        page.wait_for_url(re.compile(r"/mapping$"))
        expect(page.locator("#no-header-row")).to_contain_text("This file has no header row")
        page.locator("#First-pick").select_option("col:Column 1")
        page.locator("#Last-pick").select_option("col:Column 2")
        page.locator("#save-mapping").click()
        page.wait_for_url(re.compile(r"/check$"))
        # Row 1 is a lead like the others: all three are checked.
        expect(page.locator("#count-total")).to_have_text("3", timeout=60_000)
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    printed = first + output
    assert "Captorra importer page:" in printed
    for text in ("Ann", "Lee", "555-0199", "Houston"):
        assert text not in printed
    [saved] = mappings.glob("*.yaml")
    assert load_mapping(saved).mapping.read.header_row == 0
