"""The page's routes, step by step and error by error, through Starlette's TestClient."""

from __future__ import annotations

import html
import logging
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openpyxl
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from importer.journal import Journal
from importer.mapping import load_mapping
from importer.posting import PostSettings
from importer.sandbox import SandboxConfig, running_server
from importer.settings import Settings, load_settings, settings_path
from importer.ui import UiConfig, create_app, server
from importer.ui.checking import split_messages
from importer.ui.security import cookie_name
from tests.leads import AUTO_TYPE, MAPPING, REFERRER, lead_rows, read_sheet, write_csv

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its TestClient with httpx2; the project uses httpx.
    warnings.filterwarnings("ignore", "Using `httpx`", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PORT = 8123
TOKEN = "launch-token"
BASE = f"http://127.0.0.1:{PORT}"
ACME = Path(__file__).parent.parent / "sample_data" / "acme_leads.xlsx"
EXAMPLE = Path(__file__).parent.parent / "mappings" / "example.yaml"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Ui:
    client: TestClient
    config: UiConfig

    def upload(self, path: Path, name: str | None = None) -> str:
        """Upload a file; the id the page gives it."""
        response = self.client.post(
            "/upload", content=path.read_bytes(), headers={"X-File-Name": name or path.name}
        )
        assert response.status_code == 200, response.text
        match = re.fullmatch(rf"{BASE}/f/([\w-]+)/mapping", response.json()["next"])
        assert match is not None
        return match.group(1)

    def use(self, upload: str, mapping: str) -> str:
        response = self.client.post(f"/f/{upload}/mapping/use", data={"mapping": mapping})
        assert response.status_code == 303, response.text
        return str(response.headers["location"])

    def check(self, upload: str, query: str = "") -> httpx.Response:
        """The check page once the check is over (it runs in the background)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = self.client.get(f"/f/{upload}/check{query}")
            if 'id="checking"' not in response.text:
                return response
            time.sleep(0.05)
        raise AssertionError("the check did not finish")

    def checked(self, path: Path, mapping: str = "leads.yaml") -> str:
        """Upload a file, use a saved mapping and wait for the check; the upload's id."""
        upload = self.upload(path)
        self.use(upload, mapping)
        self.check(upload)
        return upload

    def send(self, upload: str) -> dict[str, object]:
        response = self.client.post(f"/f/{upload}/send", data={"confirm": "yes"})
        assert response.status_code == 303
        assert response.headers["location"] == f"{BASE}/f/{upload}/run"
        return self.wait(upload)

    def wait(self, upload: str, *, seconds: float = 60) -> dict[str, object]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            progress: dict[str, object] = self.client.get(f"/f/{upload}/progress").json()
            if progress["state"] in ("finished", "failed"):
                return progress
            time.sleep(0.05)
        raise AssertionError("the send did not finish")


def counts(page: str) -> dict[str, int]:
    """The numbers of the check page's tiles."""
    return {
        name: int(number.replace(",", ""))
        for name, number in re.findall(r'id="count-(\w+)">([\d,]+)<', page)
    }


@pytest.fixture(autouse=True)
def referrer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTORRA_REFERRER", REFERRER)


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    # A saved mapping with no match rule: chosen from the list, never automatically.
    unmatched = re.sub(
        r"^match:.*\n(?:  .*\n)*", "", EXAMPLE.read_text(encoding="utf-8"), flags=re.M
    )
    (folder / "example.yaml").write_text(unmatched, encoding="utf-8")
    (folder / "leads.yaml").write_text(
        MAPPING + 'match: {filename: "leads*.csv"}\n', encoding="utf-8"
    )
    return folder


def _ui(config: UiConfig) -> Iterator[Ui]:
    app = create_app(config, token=TOKEN, port=PORT)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        client.cookies.set(cookie_name(PORT), TOKEN)
        yield Ui(client, config)
    assert not app.state.workspace.root.exists()  # removed when the server stops


@pytest.fixture
def ui(tmp_path: Path, mappings: Path) -> Iterator[Ui]:
    config = UiConfig(
        port=PORT, mappings_dir=mappings, journal=tmp_path / "journal.sqlite3", sandbox=True
    )
    yield from _ui(config)


@pytest.fixture
def leads(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "leads.csv", lead_rows(5))


# ---------------------------------------------------------------- who may ask


def test_without_the_cookie_every_page_is_refused(ui: Ui) -> None:
    ui.client.cookies.clear()
    for path in ("/", "/static/app.css", "/f/x/check"):
        response = ui.client.get(path)
        assert response.status_code == 403
        assert "Open the page with the link captorra-import ui printed" in response.text
    assert (
        ui.client.post("/upload", content=b"x", headers={"X-File-Name": "a.csv"}).status_code == 403
    )


def test_a_wrong_key_or_code_is_refused(ui: Ui) -> None:
    ui.client.cookies.clear()
    assert ui.client.get("/?code=guess").status_code == 403
    assert ui.client.get(f"/?token={TOKEN}").status_code == 403  # the key opens nothing in a URL
    ui.client.cookies.set(cookie_name(PORT), "guess")
    assert ui.client.get("/").status_code == 403


def _code(ui: Ui) -> str:
    return str(ui.client.app.state.codes.issue())  # type: ignore[attr-defined]


def test_a_one_time_code_becomes_a_strict_httponly_cookie_once(ui: Ui) -> None:
    ui.client.cookies.clear()
    code = _code(ui)
    response = ui.client.get(f"/f/abc/check?show=all&code={code}")
    assert response.status_code == 303
    assert response.headers["location"] == "/f/abc/check?show=all"  # the code leaves the URL
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(PORT)}={TOKEN};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert ui.client.get("/").status_code == 200
    # Used once, the code is worthless: in another browser (no cookie) it opens nothing.
    ui.client.cookies.clear()
    assert ui.client.get(f"/?code={code}").status_code == 403


def test_a_code_from_another_host_name_is_refused_and_not_used_up(ui: Ui) -> None:
    ui.client.cookies.clear()
    code = _code(ui)
    assert ui.client.get(f"/?code={code}", headers={"Host": "evil.example"}).status_code == 400
    assert ui.client.get(f"/?code={code}").status_code == 303


def test_a_double_slash_never_leads_to_another_site(ui: Ui) -> None:
    ui.client.cookies.clear()
    response = ui.client.get(f"{BASE}//evil.example/?code={_code(ui)}")
    assert response.status_code == 303
    assert response.headers["location"] == "/evil.example/"
    response = ui.client.get(f"{BASE}//evil.example/x")
    assert response.status_code == 303
    assert response.headers["location"] == "/evil.example/x"


@pytest.mark.parametrize(
    "host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1", "127.0.0.1:9999", "[::1]"]
)
def test_a_wrong_host_header_is_refused(ui: Ui, host: str) -> None:
    # What a DNS-rebinding page would send: the right address, someone else's name.
    response = ui.client.get("/", headers={"Host": host})
    assert response.status_code == 400
    assert "answers only at the address" in response.text


def test_localhost_is_a_right_host(ui: Ui) -> None:
    assert ui.client.get("/", headers={"Host": f"localhost:{PORT}"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://127.0.0.1:3000"},  # another server on this machine
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_posts_from_other_sites_are_refused(ui: Ui, leads: Path, headers: dict[str, str]) -> None:
    response = ui.client.post(
        "/upload", content=leads.read_bytes(), headers={"X-File-Name": "leads.csv", **headers}
    )
    assert response.status_code == 403
    assert not any(ui.config.mappings_dir.parent.glob("captorra-ui-*"))


def test_other_sites_cannot_embed_the_pages(ui: Ui) -> None:
    headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    assert ui.client.get("/static/app.js", headers=headers).status_code == 403


def test_every_answer_forbids_outside_assets_framing_and_caching(ui: Ui) -> None:
    for response in (ui.client.get("/"), ui.client.get("/nowhere")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"


def test_the_pages_fetch_nothing_from_elsewhere(ui: Ui) -> None:
    page = ui.client.get("/").text
    for reference in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert reference.startswith((f"{BASE}/", "/", "#")), reference


# ---------------------------------------------------------------- step 1: upload


def test_uploading_a_csv_keeps_it_in_a_private_folder(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    workspace = ui.client.app.state.workspace  # type: ignore[attr-defined]
    stored = workspace.root / upload / "leads.csv"
    assert stored.read_bytes() == leads.read_bytes()
    assert workspace.root.stat().st_mode & 0o777 == 0o700
    assert (workspace.root / upload).stat().st_mode & 0o777 == 0o700


def test_an_upload_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    config = UiConfig(port=PORT, mappings_dir=tmp_path, sandbox=True, max_upload_bytes=1_000_000)
    for ui in _ui(config):
        response = ui.client.post(
            "/upload", content=b"x" * 1_500_000, headers={"X-File-Name": "big.csv"}
        )
        assert response.status_code == 413
        assert response.json()["error"] == (
            "The file is 1 MB; the limit is 0 MB. Split it into smaller files."
        )


def test_an_upload_that_grows_past_the_limit_is_stopped_and_removed(tmp_path: Path) -> None:
    config = UiConfig(port=PORT, mappings_dir=tmp_path, sandbox=True, max_upload_bytes=3 * 2**20)

    def body() -> Iterator[bytes]:  # no Content-Length: only counting can tell
        for _ in range(8):
            yield b"a,b\n" * 2**18

    for ui in _ui(config):
        response = ui.client.post("/upload", content=body(), headers={"X-File-Name": "big.csv"})
        assert response.status_code == 413
        assert "the limit is 3 MB" in response.json()["error"]
        assert list(ui.client.app.state.workspace.root.iterdir()) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("leads.csv", b"", "leads.csv: the file is empty; export the leads again"),
        ("leads.xlsx", b"PK\x03\x04 not really a zip", "leads.xlsx: "),
        ("leads.pdf", b"%PDF-1.4", "leads.pdf: is not a spreadsheet this importer reads"),
        ("", b"a,b\n1,2\n", "the file: is not a spreadsheet this importer reads"),
    ],
)
def test_a_file_that_cannot_be_read_is_explained_in_plain_words(
    ui: Ui, name: str, content: bytes, message: str
) -> None:
    response = ui.client.post("/upload", content=content, headers={"X-File-Name": name})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(message)
    assert "captorra-ui-" not in error  # never the private folder's path
    assert list(ui.client.app.state.workspace.root.iterdir()) == []  # type: ignore[attr-defined]


def test_a_file_name_cannot_leave_the_private_folder(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads, name="../../etc/leads.csv")
    workspace = ui.client.app.state.workspace  # type: ignore[attr-defined]
    assert (workspace.root / upload / "leads.csv").exists()


def test_the_home_page_lists_recent_runs_from_the_journal(ui: Ui, leads: Path) -> None:
    assert "None yet" in ui.client.get("/").text
    upload = ui.checked(leads)
    ui.send(upload)
    page = ui.client.get("/").text
    assert "leads.csv" in page
    assert "sandbox (in-process)" in page
    assert "posted 5" in page


# ---------------------------------------------------------------- step 2: mapping


def test_the_saved_profile_made_for_the_file_is_preselected(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    page = ui.client.get(f"/f/{upload}/mapping").text
    assert "<strong>leads.yaml</strong> is the saved mapping made for files like this one" in page
    assert 'id="use-profile"' in page


def test_without_a_profile_the_proposal_is_shown_as_a_form(ui: Ui) -> None:
    upload = ui.upload(ACME)
    response = ui.client.get(f"/f/{upload}/mapping")
    assert response.status_code == 200
    page = response.text
    assert "No saved mapping is chosen for this file automatically" in page
    assert "acme_leads.xlsx: no mapping profile matches it" in page
    assert re.search(r'<option value="col:First Name" selected>', page)
    assert re.search(r'<option value="col:Phone" selected>', page)
    assert re.search(r'id="Primary-transform".*?<option value="phone" selected>', page, re.S)
    # Type: the case types of the file, waiting for their GUIDs.
    for case_type in ("Auto Accident", "Slip and Fall", "Dog Bite"):
        assert f'name="Type.lookup.value" value="{case_type}"' in page
    assert re.search(r'id="CaptorraId-pick".*?<option value="settings" selected>', page, re.S)
    assert 'value="acme_leads*.xlsx"' in page  # the suggested match rule


def test_a_workbook_with_several_sheets_offers_a_sheet_picker(ui: Ui, tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["Remark"])
    first.append(["not leads"])
    second = book.create_sheet("Leads")
    second.append(["First Name", "Last Name"])
    second.append(["Ann", "Lee"])
    book.save(path)
    upload = ui.upload(path)
    page = ui.client.get(f"/f/{upload}/mapping").text
    assert '<option value="Leads">Leads</option>' in page
    assert 'value="col:Remark"' in page
    page = ui.client.get(f"/f/{upload}/mapping?sheet=Leads").text
    assert '<option value="Leads" selected>Leads</option>' in page
    assert 'value="col:Last Name"' in page
    assert 'value="col:Remark"' not in page


def _form(**changes: str | list[str]) -> dict[str, str | list[str]]:
    """The mapping form for the leads CSV, as the page would send it."""
    form: dict[str, str | list[str]] = {
        "name": "vendor",
        "use_match": "1",
        "match": "fair*.csv",
        "CaptorraId.pick": "value",
        "CaptorraId.value": "${CAPTORRA_ID}",
        "Referrer.pick": "value",
        "Referrer.value": REFERRER,
        "First.pick": "col:First Name",
        "Last.pick": "col:Last Name",
        "Primary.pick": "col:Phone",
        "Primary.transform": "phone",
        "Email.pick": "col:E-mail",
        "State.pick": "col:State",
        "State.transform": "state",
        "Type.pick": "col:Case Type",
        "Type.lookup.value": ["Auto Accident", "Dog Bite"],
        "Type.lookup.guid": [AUTO_TYPE, ""],
        "ID.pick": "col:Lead ID",
        "Details.pick": "columns",
        "Details.columns": ["Case Type", "State"],
        "Details.labeled": "1",
        "Keyword.pick": "value",
        "Keyword.value": "Spring: *fair* #1",
    }
    return form | changes


def test_saving_the_form_writes_a_commented_mapping_that_loads(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads, name="fair.csv")
    response = ui.client.post(f"/f/{upload}/mapping/save", data=_form())
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{BASE}/f/{upload}/check"
    saved = ui.config.mappings_dir / "vendor.yaml"
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# Mapping for fair.csv, made with `captorra-import ui` on ")
    assert "  # First (required): contact first name, 50 characters at most\n" in text
    assert "First1" not in text  # comments never hold values from the file
    loaded = load_mapping(saved)
    fields = loaded.mapping.fields
    assert fields["CaptorraId"].value == "123456"
    assert fields["Primary"].column == "Phone"
    assert fields["Primary"].transform == ["phone"]
    assert fields["Type"].lookup == {"Auto Accident": AUTO_TYPE}
    assert fields["Details"].columns == ["Case Type", "State"]
    assert fields["Details"].format == "labeled"
    assert fields["Keyword"].value == "Spring: *fair* #1"
    assert loaded.mapping.match is not None
    assert loaded.mapping.match.filename == "fair*.csv"
    page = ui.check(upload).text
    assert counts(page) == {
        "valid": 5,
        "already_posted": 0,
        "invalid": 0,
        "duplicate": 0,
        "total": 5,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "../evil"}, "Name: use letters, digits, spaces"),
        ({"name": "leads"}, "a mapping called leads.yaml already exists; choose another name"),
        ({"First.pick": "none"}, "First: Captorra needs it; choose its column"),
        ({"Last.pick": "value", "Last.value": ""}, "Last: write the text to send on every row"),
        ({"Last.pick": "col:Surname"}, "fair.csv has no column 'Surname'"),
        ({"Type.lookup.guid": ["not-a-guid", ""]}, "Type: the GUID for 'Auto Accident' is not"),
        ({"Type.lookup.guid": ["", ""]}, "Type: write the Captorra GUID of at least one"),
        ({"Referrer.value": "abc"}, "Referrer: write the GUID Captorra gave this lead source"),
        ({"Details.columns": []}, "Details: tick at least one column"),
        (
            {"Address.pick": "template", "Address.template": "{Street"},
            "Address.template: expected '}' before end",
        ),
        ({"CaptorraId.value": "${NO_SUCH_VARIABLE}"}, "environment variable NO_SUCH_VARIABLE"),
        ({"Address.pick": "value", "Address.value": "a\x00"}, "Address: holds a control"),
        ({"match": "fair\n*.csv"}, "File name rule: holds a control character"),
        ({"First.on_overflow": "cut\x00"}, "fields.First.on_overflow: Input should be"),
        (
            {"match": "LEADS*.csv"},
            "leads.yaml is already used automatically for files named like LEADS*.csv",
        ),
    ],
)
def test_a_mapping_with_a_mistake_is_not_saved(
    ui: Ui, leads: Path, changes: dict[str, str | list[str]], message: str
) -> None:
    upload = ui.upload(leads, name="fair.csv")
    before = sorted(ui.config.mappings_dir.iterdir())
    response = ui.client.post(f"/f/{upload}/mapping/save", data=_form(**changes))
    assert response.status_code == 400
    assert "The mapping was not saved" in response.text
    assert message in response.text.replace("&#39;", "'").replace("&#34;", '"')
    assert "captorra-ui-" not in response.text.split('id="form-error"')[1].split("</div>")[0]
    assert sorted(ui.config.mappings_dir.iterdir()) == before
    # The page keeps what was typed.
    assert 'value="Spring: *fair* #1"' in response.text


def test_using_a_mapping_that_is_not_in_the_folder_is_refused(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    for name in ("../journal.sqlite3", "nothing.yaml", ""):
        response = ui.client.post(f"/f/{upload}/mapping/use", data={"mapping": name})
        assert response.status_code == 400
        assert "No such mapping" in response.text


def test_a_form_that_is_not_url_encoded_is_refused(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    response = ui.client.post(f"/f/{upload}/mapping/use", json={"mapping": "leads.yaml"})
    assert response.status_code == 400


# ---------------------------------------------------------------- step 3: check


def test_the_check_counts_the_sample_file_and_marks_each_problem_cell(ui: Ui) -> None:
    upload = ui.upload(ACME)
    assert ui.use(upload, "example.yaml") == f"{BASE}/f/{upload}/check"
    response = ui.check(upload)
    assert response.status_code == 200
    page = response.text
    assert counts(page) == {
        "valid": 226,
        "already_posted": 0,
        "invalid": 9,
        "duplicate": 5,
        "total": 240,
    }
    assert "Nothing has been sent" in page
    # Problem rows first; each message sits in the cell it is about.
    assert 'aria-current="page" class="current">Rows with problems' in page
    first_name = (
        r'<td class="cell-error"[^>]*>\s*<span class="value">[^<]*</span>\s*'
        r'<span class="msg msg-error">First: 53 characters, limit 50</span>'
    )
    assert re.search(first_name, page)
    assert re.search(r'class="msg msg-error">Type: &#34;Dog Bite&#34; is not in the lookup<', page)
    assert re.search(r"<span class=\"value\">AC-\d+</span>\s*<span class=\"msg msg-error\">"
                     r"same lead as row \d+ \(same CaptorraId, ID\); not sent", page)  # fmt: skip
    assert len(re.findall(r'<tr class="row-(?:invalid|duplicate)">', page)) == 14
    every = ui.client.get(f"/f/{upload}/check?show=all").text
    assert len(re.findall(r'<tr class="row-', every)) == 200  # the first 200 of 240
    assert "Showing the first 200 of 240" in every
    warned = ui.client.get(f"/f/{upload}/check?show=warnings").text
    assert "characters cut to 4,000" in warned


def test_the_check_workbook_can_be_downloaded(ui: Ui, leads: Path, tmp_path: Path) -> None:
    upload = ui.upload(leads)
    ui.use(upload, "leads.yaml")
    assert ui.client.get(f"/f/{upload}/download/check").status_code == 404  # not checked yet
    ui.check(upload)
    response = ui.client.get(f"/f/{upload}/download/check")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == 'attachment; filename="leads.check.xlsx"'
    saved = tmp_path / "check.xlsx"
    saved.write_bytes(response.content)
    assert [row["Status"] for row in read_sheet(saved)] == ["valid"] * 5


def test_a_mapping_that_does_not_fit_the_file_is_explained(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    ui.use(upload, "example.yaml")
    response = ui.check(upload)
    assert response.status_code == 400
    assert "This mapping does not fit the file" in response.text
    assert "leads.csv has no column" in response.text
    assert "captorra-ui-" not in response.text


def test_the_check_asks_for_a_mapping_first(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    response = ui.check(upload)
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/f/{upload}/mapping"


def test_rows_posted_before_are_counted_and_not_sent_again(ui: Ui, leads: Path) -> None:
    first = ui.upload(leads)
    ui.use(first, "leads.yaml")
    ui.check(first)
    ui.send(first)
    again = ui.upload(leads)
    ui.use(again, "leads.yaml")
    page = ui.check(again).text
    assert counts(page) == {
        "valid": 0,
        "already_posted": 5,
        "invalid": 0,
        "duplicate": 0,
        "total": 5,
    }
    posted = ui.client.get(f"/f/{again}/check?show=posted").text
    assert re.search(r"IntakeID [0-9a-f-]{36}: posted on \S+ \(run \w+\); not sent again", posted)
    # Nothing is new: no "Send 0 leads", and a send is not started.
    assert "Nothing new to send: every valid row was posted before." in page
    assert "Send 0" not in page
    assert 'id="to-send"' not in page
    refused = ui.client.post(f"/f/{again}/send", data={"confirm": "yes"})
    assert refused.headers["location"] == f"{BASE}/f/{again}/check"
    assert ui.client.get(f"/f/{again}/progress").status_code == 404
    assert "Nothing new to send from" in ui.client.get(f"/f/{again}/send").text


# ---------------------------------------------------------------- step 4: send


def test_the_confirmation_names_the_sandbox(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    assert ui.client.get(f"/f/{upload}/send").headers["location"].endswith("/check")
    ui.use(upload, "leads.yaml")
    ui.check(upload)
    page = ui.client.get(f"/f/{upload}/send").text
    assert 'class="banner banner-sandbox"' in page
    assert "Nothing leaves this computer" in page
    assert "Send 5 leads" in page


def test_the_confirmation_names_the_production_endpoint(tmp_path: Path, mappings: Path) -> None:
    endpoint = "https://captorra.example/api/captorraapi/create"
    config = UiConfig(port=PORT, mappings_dir=mappings, endpoint=endpoint)
    for ui in _ui(config):
        leads = write_csv(tmp_path / "leads.csv", lead_rows(2))
        upload = ui.checked(leads)
        page = ui.client.get(f"/f/{upload}/send").text
        assert 'class="banner banner-production"' in page
        assert f"The leads go to <code>{endpoint}</code>" in page
        assert "Production · sends go to Captorra" in page


def test_sending_needs_the_box_ticked(ui: Ui, leads: Path) -> None:
    upload = ui.checked(leads)
    response = ui.client.post(f"/f/{upload}/send", data={"confirm": ""})
    assert response.status_code == 400
    assert "Tick the box to confirm where the leads go." in response.text
    assert ui.client.get(f"/f/{upload}/progress").status_code == 404  # nothing started


def test_send_shows_progress_then_results_and_the_workbook(
    ui: Ui, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    upload = ui.upload(ACME)
    ui.use(upload, "example.yaml")
    ui.check(upload)
    progress = ui.send(upload)
    assert progress["state"] == "finished"
    assert progress["counts"] == [["posted", 226], ["invalid", 9], ["duplicate", 5]]
    assert progress["percent"] == 100
    assert ui.client.get(f"/f/{upload}/run").headers["location"].endswith("/results")
    page = ui.client.get(f"/f/{upload}/results").text
    assert re.search(r'id="result-posted">226<', page)
    assert "Download the results workbook" in page
    response = ui.client.get(f"/f/{upload}/download/results")
    assert response.headers["content-disposition"] == (
        'attachment; filename="acme_leads.results.xlsx"'
    )
    saved = tmp_path / "results.xlsx"
    saved.write_bytes(response.content)
    rows = read_sheet(saved)
    assert sum(row["Status"] == "posted" for row in rows) == 226
    # Sending twice from the page is not possible: the second form lands on the run.
    again = ui.client.post(f"/f/{upload}/send", data={"confirm": "yes"})
    assert again.headers["location"] == f"{BASE}/f/{upload}/run"
    journal = Journal(ui.config.journal_path)
    try:
        assert [run.counts for run in journal.runs()] == [
            {"posted": 226, "invalid": 9, "duplicate": 5}
        ]
    finally:
        journal.close()
    assert "Agnieszka" not in caplog.text  # no personal data in the log


def test_cancel_stops_starting_new_requests(tmp_path: Path, mappings: Path) -> None:
    slow = SandboxConfig(latency=0.05)
    with running_server(slow) as (endpoint, sandbox):
        config = UiConfig(
            port=PORT,
            mappings_dir=mappings,
            journal=tmp_path / "journal.sqlite3",
            endpoint=endpoint,
            post=PostSettings(endpoint=endpoint, concurrency=1),
        )
        for ui in _ui(config):
            leads = write_csv(tmp_path / "leads.csv", lead_rows(40))
            upload = ui.checked(leads)
            ui.client.post(f"/f/{upload}/send", data={"confirm": "yes"})
            while not ui.client.get(f"/f/{upload}/progress").json()["counts"]:
                time.sleep(0.02)
            assert ui.client.post(f"/f/{upload}/cancel").status_code == 303
            progress = ui.wait(upload)
            found = dict(progress["counts"])  # type: ignore[call-overload]
            assert found["posted"] == len(sandbox.intakes) < 40
            assert found["failed"] == 40 - found["posted"]
            page = ui.client.get(f"/f/{upload}/results").text
            assert re.search(r'id="results-title">Stopped: <span[^>]*>leads.csv</span>', page)
            assert "Sending stopped early: cancelled" in page


# ---------------------------------------------------------------- leftovers


def test_an_unknown_file_id_is_gone(ui: Ui) -> None:
    for path in ("mapping", "check", "send", "run", "results", "download/results"):
        response = ui.client.get(f"/f/nope/{path}")
        assert response.status_code == 404
        assert "This file is no longer here" in response.text
    assert ui.client.get("/f/nope/progress").status_code == 404


def test_messages_are_split_per_field() -> None:
    assert split_messages("") == []
    assert split_messages('First: required; Type: "a; b" is not in the lookup') == [
        "First: required",
        'Type: "a; b" is not in the lookup',
    ]
    assert split_messages("same lead as row 3 (same ID); not sent; Last: required") == [
        "same lead as row 3 (same ID); not sent",
        "Last: required",
    ]


# ---------------------------------------------------------------- settings


def test_without_settings_the_first_visit_asks_for_them_and_saves_them(
    ui: Ui, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAPTORRA_ID")
    monkeypatch.delenv("CAPTORRA_REFERRER")
    response = ui.client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/settings"
    assert "Welcome: first, your firm's Captorra details" in ui.client.get("/settings").text
    refused = ui.client.post("/settings", data={"captorra_id": "12a", "referrer": "nope"})
    assert refused.status_code == 400
    assert "CaptorraId: digits only, as Captorra shows it (e.g. 123456)" in refused.text
    assert "Referrer: a GUID has 32 letters a-f and digits" in refused.text
    assert 'value="12a"' in refused.text  # what was typed stays
    assert not settings_path().exists()
    saved = ui.client.post("/settings", data={"captorra_id": " 654321 ", "referrer": REFERRER})
    assert saved.status_code == 303
    assert load_settings() == Settings(captorra_id="654321", referrer=REFERRER)
    assert ui.client.get("/").status_code == 200
    assert "Saved." in ui.client.get("/settings?saved").text


def test_settings_set_by_the_environment_are_named_on_the_settings_page(ui: Ui) -> None:
    page = ui.client.get("/settings").text
    assert "This computer is set up to use CaptorraId 123456" in page


def test_a_saved_case_type_guid_is_offered_in_the_next_mapping(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads, name="fair.csv")
    assert ui.client.post(f"/f/{upload}/mapping/save", data=_form()).status_code == 303
    assert load_settings().case_types == {"auto accident": AUTO_TYPE}
    other = ui.upload(leads, name="other.csv")
    page = ui.client.get(f"/f/{other}/mapping").text
    assert f'aria-label="GUID for Auto Accident" value="{AUTO_TYPE}"' in page.replace(
        f'value="{AUTO_TYPE}" aria-label="GUID for Auto Accident"',
        f'aria-label="GUID for Auto Accident" value="{AUTO_TYPE}"',
    )


# ---------------------------------------------------------------- changing a saved mapping


def test_change_the_mapping_opens_it_with_its_guids_and_saves_it_back_under_its_name(
    ui: Ui, leads: Path
) -> None:
    upload = ui.upload(leads)
    old = (ui.config.mappings_dir / "leads.yaml").read_text(encoding="utf-8")
    page = ui.client.get(f"/f/{upload}/mapping?edit=leads.yaml").text
    assert "Change leads.yaml" in page
    assert f'value="{AUTO_TYPE}"' in page  # the lookup GUIDs
    assert re.search(r'id="Primary-transform".*?<option value="phone" selected>', page, re.S)
    assert 'id="match" name="match" value="leads*.csv"' in page  # the match rule
    changed = _form(name="leads", original="leads.yaml", match="leads*.csv", action="replace")
    confirm = ui.client.post(f"/f/{upload}/mapping/save", data=changed)
    assert confirm.status_code == 200
    assert "Replace leads.yaml?" in confirm.text
    assert (ui.config.mappings_dir / "leads.yaml").read_text(encoding="utf-8") == old
    changed["action"] = "replace-confirmed"
    done = ui.client.post(f"/f/{upload}/mapping/save", data=changed)
    assert done.status_code == 303, done.text
    assert (ui.config.mappings_dir / "leads.yaml.bak").read_text(encoding="utf-8") == old
    loaded = load_mapping(ui.config.mappings_dir / "leads.yaml")
    assert loaded.mapping.fields["Keyword"].value == "Spring: *fair* #1"
    assert loaded.mapping.match is not None
    assert loaded.mapping.match.filename == "leads*.csv"
    assert sorted(path.name for path in ui.config.mappings_dir.iterdir()) == [
        "example.yaml",
        "leads.yaml",
        "leads.yaml.bak",
    ]


def test_changing_a_mapping_keeps_what_the_form_does_not_show(ui: Ui, leads: Path) -> None:
    path = ui.config.mappings_dir / "rich.yaml"
    path.write_text(
        MAPPING.replace(
            "First: First Name",
            "First: {column: First Name, transform: [title, upper], default: Friend}",
        )
        + "lead_key: [CaptorraId, ID]\nread: {delimiter: ','}\n",
        encoding="utf-8",
    )
    upload = ui.upload(leads)
    page = ui.client.get(f"/f/{upload}/mapping?edit=rich.yaml").text
    data = _page_form(page)
    data["action"] = "replace-confirmed"
    assert ui.client.post(f"/f/{upload}/mapping/save", data=data).status_code == 303
    before = load_mapping(path.with_name("rich.yaml.bak")).mapping
    after = load_mapping(path).mapping
    assert after == before


def _page_form(page: str) -> dict[str, str | list[str]]:
    """What the page's mapping form would send unchanged (inputs, checked boxes, selections)."""
    form = page.split('id="mapping-form"')[1].split("</form>")[0]
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None or ('type="checkbox"' in tag and " checked" not in tag):
            continue
        data.setdefault(html.unescape(name.group(1)), []).append(
            html.unescape(value.group(1)) if value else ""
        )
    for name, body in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = [html.unescape(chosen.group(1)) if chosen else ""]
    return {name: values if len(values) > 1 else values[0] for name, values in data.items()}


def test_save_as_new_refuses_the_name_of_the_mapping_being_changed(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    data = _page_form(ui.client.get(f"/f/{upload}/mapping?edit=leads.yaml").text)
    data["action"] = "new"
    response = ui.client.post(f"/f/{upload}/mapping/save", data=data)
    assert response.status_code == 400
    assert "a mapping called leads.yaml already exists" in response.text


# ---------------------------------------------------------------- no lost work


def test_every_address_a_person_can_land_on_answers_get(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    ui.client.post(f"/f/{upload}/mapping/save", data=_form(name="../bad"))  # refused
    for path in (
        "/upload",
        "/settings",
        f"/f/{upload}/mapping/save",
        f"/f/{upload}/mapping/use",
        f"/f/{upload}/mapping/draft",
        "/settings/connection",
        f"/f/{upload}/cancel",
        f"/f/{upload}/send",
        f"/f/{upload}/run",
    ):
        response = ui.client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert "Method Not Allowed" not in response.text


def test_a_refused_save_is_kept_and_shown_when_the_page_is_opened_again(
    ui: Ui, leads: Path
) -> None:
    upload = ui.upload(leads)
    ui.client.post(f"/f/{upload}/mapping/save", data=_form(name="../bad"))
    page = ui.client.get(f"/f/{upload}/mapping/save", follow_redirects=True).text
    assert 'value="../bad"' in page
    assert 'value="Spring: *fair* #1"' in page
    fresh = ui.client.get(f"/f/{upload}/mapping?fresh").text
    assert 'value="../bad"' not in fresh


def test_the_form_as_typed_is_kept_for_a_reload(ui: Ui, leads: Path) -> None:
    upload = ui.upload(leads)
    kept = ui.client.post(f"/f/{upload}/mapping/draft", data=_form(name="typed so far"))
    assert kept.json() == {"kept": True}
    assert 'value="typed so far"' in ui.client.get(f"/f/{upload}/mapping").text


# ---------------------------------------------------------------- a way back, feedback


def test_the_home_page_links_to_a_finished_send_and_its_workbook(ui: Ui, leads: Path) -> None:
    upload = ui.checked(leads)
    ui.send(upload)
    page = ui.client.get("/").text
    assert f'href="{BASE}/f/{upload}/results"' in page
    assert f'href="{BASE}/f/{upload}/download/results"' in page
    assert "Results can be downloaded here until captorra-import ui is stopped." in page


def test_the_check_reports_the_rows_checked_so_far(ui: Ui, leads: Path) -> None:
    upload = ui.checked(leads)
    progress = ui.client.get(f"/f/{upload}/check/progress").json()
    assert progress == {"done": 5, "total": 5, "over": True}


def test_a_long_file_name_is_accepted_and_shortened_on_the_page(ui: Ui, leads: Path) -> None:
    name = "Spring Expo " + "very " * 60 + "long.csv"
    upload = ui.upload(leads, name=name)
    stored = ui.client.app.state.workspace.get(upload)  # type: ignore[attr-defined]
    assert stored.path.suffix == ".csv"
    assert len(stored.name.encode()) <= 200
    page = ui.client.get(f"/f/{upload}/mapping").text
    assert f'title="{stored.name}">{stored.short_name}</span>' in page
    assert len(stored.short_name) == 60


def test_a_csv_whose_characters_look_wrong_can_be_read_another_way(ui: Ui, tmp_path: Path) -> None:
    path = tmp_path / "accents.csv"
    path.write_bytes("First Name,Last Name\nJos\u00e9,N\u00fa\u00f1ez\n".encode("cp1252"))
    upload = ui.upload(path)
    page = ui.client.get(f"/f/{upload}/mapping").text
    assert "Characters look wrong" in page
    assert "Western European (Windows)" in page
    page = ui.client.get(f"/f/{upload}/mapping?encoding=cp1250").text
    assert "N\u00fa\u0144ez" in page  # read as Central European: ñ is ń there
    page = ui.client.get(f"/f/{upload}/mapping?encoding=cp1252").text
    assert "N\u00fa\u00f1ez" in page


FORBIDDEN = ("${", "match:", "read.", "YAML", "export ")


def visible_text(page: str) -> str:
    """What a person reads: the page without scripts, styles, tags and attributes."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_pages_speak_plain_words(ui: Ui, leads: Path, tmp_path: Path) -> None:
    pages = [ui.client.get("/").text, ui.client.get("/settings").text]
    cp1252 = tmp_path / "leads_cp1252.csv"
    cp1252.write_bytes(
        leads.read_text(encoding="utf-8").replace("First1", "Jos\u00e9").encode("cp1252")
    )
    upload = ui.upload(cp1252)
    pages.append(ui.client.get(f"/f/{upload}/mapping").text)
    pages.append(ui.client.get(f"/f/{upload}/mapping?edit=leads.yaml").text)
    pages.append(ui.client.post(f"/f/{upload}/mapping/save", data=_form(name="../x")).text)
    ui.use(upload, "leads.yaml")
    pages.append(ui.check(upload).text)
    pages.append(ui.client.get(f"/f/{upload}/send").text)
    ui.send(upload)
    pages.append(ui.client.get(f"/f/{upload}/results").text)
    pages.append(ui.client.get("/").text)
    for page in pages:
        text = visible_text(page)
        for word in FORBIDDEN:
            assert word not in text, (word, text[max(0, text.find(word) - 80) :][:200])


# A row of a file without a header row: a phone and a city that repeat, as in real exports.
HEADERLESS_ROW = ("Ann", "Lee", "(713) 555-0199", "(713) 555-0199", "Houston", "Houston")
CELL_TEXT = ("Ann", "Lee", "555-0199", "Houston")


def _headerless(path: Path) -> Path:
    """Three leads and no header row, as CSV or as a workbook (by the path's ending)."""
    if path.suffix == ".csv":
        path.write_text((",".join(HEADERLESS_ROW) + "\n") * 3, encoding="utf-8")
        return path
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for _ in range(3):
        sheet.append(HEADERLESS_ROW)
    workbook.save(path)
    return path


def _headerless_form(**changes: str) -> dict[str, str]:
    form = {
        "name": "no_header",
        "CaptorraId.pick": "settings",
        "Referrer.pick": "value",
        "Referrer.value": REFERRER,
        "First.pick": "col:Column 1",
        "Last.pick": "col:Column 2",
    }
    return form | changes


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return html.unescape(found.group(1))


@pytest.mark.parametrize("name", ["no_header.csv", "no_header.xlsx"])
def test_a_headerless_file_logs_no_cell_text(
    ui: Ui, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    """Row 1 is a lead: the page reads every row as one, and the mapping says so."""
    caplog.set_level(logging.DEBUG)
    upload = ui.upload(_headerless(tmp_path / name))  # not refused
    page = ui.client.get(f"/f/{upload}/mapping").text
    text = visible_text(page)
    assert "This file has no header row" in text
    assert 'value="col:Column 1"' in page
    assert 'value="col:Column 6"' in page
    assert 'value="col:Ann"' not in page  # no lead taken for column names
    for word in FORBIDDEN:
        assert word not in text, word
    response = ui.client.post(f"/f/{upload}/mapping/save", data=_headerless_form())
    assert response.status_code == 303, response.text
    saved = ui.config.mappings_dir / "no_header.yaml"
    loaded = load_mapping(saved)
    assert loaded.mapping.read.header_row == 0
    assert loaded.mapping.fields["First"].column == "Column 1"
    assert not any(cell in saved.read_text(encoding="utf-8") for cell in CELL_TEXT)
    check = ui.check(upload)
    assert check.status_code == 200, check.text
    assert counts(check.text)["total"] == 3  # the first row is a lead too
    # Changed and saved again, the mapping still reads the file without a header row.
    page = ui.client.get(f"/f/{upload}/mapping?edit=no_header.yaml").text
    assert "This file has no header row" in page
    again = _headerless_form(
        action="replace-confirmed",
        original="no_header.yaml",
        rest=_hidden(page, "rest"),
        **{"Last.pick": "col:Column 2", "Email.pick": "col:Column 5"},
    )
    response = ui.client.post(f"/f/{upload}/mapping/save", data=again)
    assert response.status_code == 303, response.text
    changed = load_mapping(saved).mapping
    assert changed.read.header_row == 0
    assert changed.fields["Email"].column == "Column 5"
    assert counts(ui.check(upload).text)["total"] == 3
    for cell in CELL_TEXT:
        assert cell not in caplog.text


def test_a_headerless_file_named_like_a_saved_mapping_goes_on_in_plain_words(
    ui: Ui, tmp_path: Path
) -> None:
    upload = ui.upload(_headerless(tmp_path / "leads_june.csv"))  # leads.yaml: "leads*.csv"
    text = visible_text(ui.client.get(f"/f/{upload}/mapping").text)
    assert "expects a header row, and this file has none" in text
    for word in (*FORBIDDEN, "header_row", "--no-header"):
        assert word not in text, word


def test_each_sheet_is_read_with_or_without_a_header_row(ui: Ui, tmp_path: Path) -> None:
    path = tmp_path / "two_sheets.xlsx"
    workbook = openpyxl.Workbook()
    headerless = workbook.active
    assert headerless is not None
    headerless.title = "Raw"
    for _ in range(3):
        headerless.append(HEADERLESS_ROW)
    named = workbook.create_sheet("Named")
    named.append(["First Name", "Last Name", "Phone", "Mobile", "City", "Town"])
    named.append(HEADERLESS_ROW)
    workbook.save(path)
    upload = ui.upload(path)
    assert "This file has no header row" in ui.client.get(f"/f/{upload}/mapping").text
    page = ui.client.get(f"/f/{upload}/mapping?sheet=Named").text
    assert "This file has no header row" not in page
    assert 'value="col:First Name"' in page
    assert "This file has no header row" in ui.client.get(f"/f/{upload}/mapping?sheet=Raw").text


def test_a_mapping_for_files_with_headers_is_refused_in_plain_words(
    ui: Ui, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upload = ui.upload(_headerless(tmp_path / "no_header.csv"))
    ui.use(upload, "example.yaml")
    page = ui.check(upload)
    assert page.status_code == 400
    text = visible_text(page.text)
    assert "This mapping is for files with a header row" in text
    assert "Column 1, Column 2" in text
    for word in (*FORBIDDEN, "header_row", "--no-header"):
        assert word not in text, word
    for cell in CELL_TEXT:
        assert cell not in caplog.text


def test_the_browser_is_opened_with_a_one_time_code_and_never_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    opened: list[str] = []

    def browser_that_stays_open(url: str) -> bool:  # as a text-mode $BROWSER does
        opened.append(url)
        started.set()
        release.wait(60)
        return True

    monkeypatch.setattr(server.webbrowser, "open", browser_that_stays_open)
    app = create_app(UiConfig(port=PORT, mappings_dir=tmp_path), token=TOKEN, port=PORT)
    try:
        server.open_browser(server.page_address(app, f"{BASE}/"))
        assert started.wait(30)
        assert not release.is_set()  # open_browser returned while the browser still runs
    finally:
        release.set()
        app.state.workspace.close()
    assert TOKEN not in opened[0]  # the key is never on a command line
    assert re.fullmatch(rf"{BASE}/\?code=[\w-]+", opened[0])


def test_stopping_the_server_stops_an_in_process_sandbox_send(
    tmp_path: Path, mappings: Path
) -> None:
    """Ctrl-C of `captorra-import ui` closes the app: the send stops, and says how far it got."""
    rows = 4_000
    journal = tmp_path / "journal.sqlite3"
    config = UiConfig(port=PORT, mappings_dir=mappings, journal=journal, sandbox=True)
    leads = write_csv(tmp_path / "leads.csv", lead_rows(rows))
    for ui in _ui(config):  # leaving the loop closes the app, as Ctrl-C does
        upload = ui.checked(leads)
        ui.client.post(f"/f/{upload}/send", data={"confirm": "yes"})
        while not ui.client.get(f"/f/{upload}/progress").json()["counts"]:
            time.sleep(0.01)
    store = Journal(journal)
    try:
        [run] = store.runs(limit=5)
    finally:
        store.close()
    assert run.exit_code == 3  # some rows to retry: importing the file again sends them
    assert 0 < run.counts["posted"] < rows
    assert run.counts["failed"] == rows - run.counts["posted"]


def test_the_settings_page_checks_the_connection_to_where_leads_go(ui: Ui) -> None:
    assert ui.client.get("/settings/connection").headers["location"] == f"{BASE}/settings"
    page = ui.client.post("/settings/connection").text
    assert 'id="connection-result">Leads can reach it.</p>' in page
    assert re.search(r'<li class="step-ok"><strong>[^<]+</strong>: ok', page)
    assert "step-failed" not in page


def test_a_connection_that_fails_names_the_step(tmp_path: Path, mappings: Path) -> None:
    with socket.socket() as closed:  # a free port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/api/captorraapi/create"
    for ui in _ui(UiConfig(port=PORT, mappings_dir=mappings, endpoint=endpoint)):
        page = ui.client.post("/settings/connection").text
        assert 'id="connection-result">Leads cannot reach it yet.</p>' in page
        assert 'class="step-failed"' in page


def test_a_mapping_saved_after_choosing_an_encoding_reads_the_file_that_way(
    ui: Ui, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "leads.csv", lead_rows(2))
    path.write_bytes(
        path.read_text(encoding="utf-8").replace("First1", "Jos\u00e9").encode("cp1252")
    )
    upload = ui.upload(path, name="fair.csv")
    ui.client.get(f"/f/{upload}/mapping?encoding=cp1252")
    assert ui.client.post(f"/f/{upload}/mapping/save", data=_form()).status_code == 303
    loaded = load_mapping(ui.config.mappings_dir / "vendor.yaml")
    assert loaded.mapping.read.encoding == "cp1252"
    assert "Jos\u00e9" in ui.check(upload, "?show=all").text


def test_the_check_shows_the_same_people_posted_before_as_duplicates(
    ui: Ui, leads: Path, tmp_path: Path
) -> None:
    first = ui.checked(leads)
    ui.send(first)
    # Another vendor's file: the same people under its own lead IDs.
    resold = [(f"B{row[0]}", *row[1:]) for row in lead_rows(5)]
    again = ui.checked(write_csv(tmp_path / "leads-resold.csv", resold))
    page = ui.check(again).text
    assert counts(page) == {
        "valid": 0,
        "already_posted": 0,
        "invalid": 0,
        "duplicate": 5,
        "total": 5,
    }
    # In the phone and email cells, with the date and the vendor of the earlier lead.
    message = (
        r'<span class="msg msg-error">same phone and email as a lead posted on '
        r"\d{4}-\d\d-\d\d from leads \(IntakeID [0-9a-f-]{36}\); not sent</span>"
    )
    assert len(re.findall(message, page)) == 10
    assert 'id="to-send"' not in page  # nothing would be sent
