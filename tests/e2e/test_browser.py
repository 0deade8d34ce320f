"""The page in a real browser: headless Chromium, driven by Playwright, on a loopback server.

Each step is saved as a screenshot: into the test's tmp folder, or into the folder
named by CAPTORRA_UI_SCREENSHOTS (how docs/ui-*.png were made).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, running_server
from importer.ui import UiConfig
from importer.ui import running_server as running_ui
from tests.leads import REFERRER, read_sheet

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
            "valid": 229,
            "already_posted": 0,
            "invalid": 9,
            "duplicate": 2,
            "total": 240,
        }
        expect(page.locator("#rows tbody tr")).to_have_count(11)
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
        expect(page.locator("#result-posted")).to_have_text("229")
        expect(page.locator("#result-invalid")).to_have_text("9")
        expect(page.locator("#result-duplicate")).to_have_text("2")
        expect(page.locator("table.runs tbody tr")).to_have_count(1)
        page.screenshot(path=shots / "ui-6-results.png")
        with page.expect_download() as download:
            page.locator("#download").click()
        assert download.value.suggested_filename == "acme_leads.results.xlsx"
        saved = tmp_path / "downloaded.xlsx"
        download.value.save_as(saved)
    statuses = Counter(row["Status"] for row in read_sheet(saved))
    assert statuses == {"posted": 229, "invalid": 9, "duplicate": 2}


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
            "valid": 229,
            "already_posted": 0,
            "invalid": 9,
            "duplicate": 2,
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
            assert 0 < posted == len(sandbox.intakes) < 229
            expect(page.locator("#result-failed")).to_have_text(str(229 - posted))
