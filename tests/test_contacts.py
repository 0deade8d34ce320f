"""The same person from two vendors: phone and email duplicates, in a file and across runs."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.cli import cli
from importer.contacts import ClaimRule, iso_utc, normal_emails, normal_phones
from importer.errors import MappingError
from importer.journal import SCHEMA_VERSION, Journal
from importer.mapping import load_mapping
from importer.pipeline import SANDBOX_LABEL, ImportJob, import_files
from importer.posting import Lead, Outcome, PostSettings
from importer.sandbox import Sandbox
from tests.leads import MAPPING, read_sheet, write_csv

ENDPOINT = "http://127.0.0.1:9/api/captorraapi/create"
BETA_HEADER = ("Ref", "First Name", "Last Name", "Phone", "E-mail", "State", "Case Type")
# Acme's leads: three people.
ACME_ROWS = [
    ("A1", "Ann", "Lee", "(215) 555-0101", "ann.lee@mail.example", "pa", "Auto Accident"),
    ("A2", "Bob", "Ray", "215-555-0102", "bob.ray@mail.example", "pa", "Auto Accident"),
    ("A3", "Cy", "Day", "215 555 0103", "cy.day@mail.example", "pa", "Auto Accident"),
]
# Beta resells two of them with its own IDs, phones and emails written its own way.
BETA_ROWS = [
    ("B-77", "Ann", "Lee", "+1 215.555.0101", "ann.other@mail.example", "PA", "Auto Accident"),
    ("B-78", "Robert", "Ray", "2155559999", "  BOB.RAY@Mail.Example ", "PA", "Auto Accident"),
    ("B-79", "Dee", "New", "2155550200", "dee.new@mail.example", "PA", "Auto Accident"),
]


@pytest.fixture
def vendors(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """Each vendor's leads file and mapping (profile) file."""
    acme_mapping = tmp_path / "acme.yaml"
    acme_mapping.write_text(MAPPING, encoding="utf-8")
    beta_mapping = tmp_path / "beta.yaml"
    beta_mapping.write_text(MAPPING.replace("ID: Lead ID", "ID: Ref"), encoding="utf-8")
    return {
        "acme": (write_csv(tmp_path / "acme.csv", ACME_ROWS), acme_mapping),
        "beta": (write_csv(tmp_path / "beta.csv", BETA_ROWS, header=BETA_HEADER), beta_mapping),
    }


def post(
    sandbox: Sandbox, leads: Path, mapping: Path, tmp_path: Path, **options: object
) -> list[dict[str, str | int | None]]:
    out = tmp_path / f"{leads.stem}.results.xlsx"
    job = ImportJob(
        inputs=(leads,),
        mapping=mapping,
        output=out,
        post=PostSettings(endpoint=ENDPOINT),
        journal=tmp_path / "journal.sqlite3",
        **options,  # type: ignore[arg-type]
    )
    import_files(job, transport=sandbox.transport())
    return read_sheet(out)


def test_phones_and_emails_are_compared_normalised() -> None:
    phones = pd.Series(
        ["(215) 555-0134", "+1 215.555.0134", "215-555-0134 x12", "2155550134.0", "555-0134", ""],
        dtype="str",
    )
    assert normal_phones(phones).tolist() == ["2155550134"] * 4 + ["", ""]
    emails = pd.Series(["  Ann@Mail.Example ", "ann@mail.example", "not an address"], dtype="str")
    assert normal_emails(emails).tolist() == ["ann@mail.example"] * 2 + [""]


def test_a_second_vendor_s_copies_are_duplicates_naming_the_first(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    sandbox = Sandbox()
    acme = post(sandbox, *vendors["acme"], tmp_path)
    assert [row["Status"] for row in acme] == ["posted"] * 3
    beta = post(sandbox, *vendors["beta"], tmp_path)
    today = datetime.now(UTC).date().isoformat()
    assert [row["Status"] for row in beta] == ["duplicate", "duplicate", "posted"]
    assert beta[0]["Error"] == (
        f"same phone as a lead posted on {today} from acme (IntakeID {acme[0]['IntakeID']}); "
        "not sent"
    )
    assert beta[1]["Error"] == (
        f"same email as a lead posted on {today} from acme (IntakeID {acme[1]['IntakeID']}); "
        "not sent"
    )
    assert [payload["ID"] for _, payload in sandbox.intakes] == ["A1", "A2", "A3", "B-79"]


def test_a_lead_posted_before_the_window_is_not_a_duplicate(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    sandbox = Sandbox()
    post(sandbox, *vendors["acme"], tmp_path)
    later = datetime.now(UTC) + timedelta(days=31)
    beta = post(sandbox, *vendors["beta"], tmp_path, now=later)
    assert [row["Status"] for row in beta] == ["posted"] * 3
    within = datetime.now(UTC) + timedelta(days=29)
    sandbox = Sandbox()
    again = tmp_path / "again"
    again.mkdir()
    post(sandbox, *vendors["acme"], again)
    beta = post(sandbox, *vendors["beta"], again, now=within)
    assert [row["Status"] for row in beta] == ["duplicate", "duplicate", "posted"]


@pytest.mark.parametrize("option", [{"duplicate_window": 0}, {"repost": True}])
def test_window_0_or_repost_sends_them(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path, option: dict[str, object]
) -> None:
    sandbox = Sandbox()
    post(sandbox, *vendors["acme"], tmp_path)
    beta = post(sandbox, *vendors["beta"], tmp_path, **option)
    assert [row["Status"] for row in beta] == ["posted"] * 3
    assert len(sandbox.intakes) == 6


def test_the_command_line_window_and_repost(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite3"

    def run(name: str, *options: str) -> list[str]:
        leads, mapping = vendors[name]
        out = tmp_path / f"{name}{len(options)}.xlsx"
        arguments = ["run", str(leads), "-m", str(mapping), "--sandbox", "--journal", str(journal)]
        result = CliRunner().invoke(cli, [*arguments, "-o", str(out), "-q", *options])
        assert result.exit_code in (0, 1), result.output
        return [str(row["Status"]) for row in read_sheet(out)]

    assert run("acme") == ["posted"] * 3
    assert run("beta", "--duplicate-window", "30") == ["duplicate", "duplicate", "posted"]
    assert run("beta", "--duplicate-window", "0") == ["posted", "posted", "already_posted"]
    result = CliRunner().invoke(cli, ["run", "x.csv", "-m", "m.yaml", "--duplicate-window", "-1"])
    assert result.exit_code == 2
    assert "--duplicate-window" in result.output


def test_the_mapping_chooses_what_matches(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    sandbox = Sandbox()
    post(sandbox, *vendors["acme"], tmp_path)
    leads, mapping = vendors["beta"]
    mapping.write_text(
        mapping.read_text() + "duplicates: {match: [email], window_days: 7}\n", encoding="utf-8"
    )
    beta = post(sandbox, leads, mapping, tmp_path)
    assert [row["Status"] for row in beta] == ["posted", "duplicate", "posted"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{match: [fax]}", "duplicates.match.0: Input should be 'phone' or 'email'"),
        ("{window_days: -1}", "duplicates.window_days: Input should be greater than or equal to 0"),
        ("{days: 3}", "duplicates.days: unknown option 'days'"),
    ],
)
def test_a_wrong_duplicates_rule_is_a_mapping_error(
    tmp_path: Path, rule: str, message: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING + f"duplicates: {rule}\n", encoding="utf-8")
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    assert message in str(error.value)
    assert re.match(rf"{re.escape(str(path))}, line \d+, ", str(error.value))


def test_in_one_file_the_same_phone_or_email_is_a_duplicate(tmp_path: Path) -> None:
    rows = [
        ("A1", "Ann", "Lee", "(215) 555-0101", "ann@mail.example", "pa", "Auto Accident"),
        ("A2", "Ann", "Lee", "215.555.0101", "other@mail.example", "pa", "Auto Accident"),
        ("A3", "Bo", "Day", "2155550103", "ANN@mail.example", "pa", "Auto Accident"),
        ("A4", "Cy", "Fox", "2155550104", "cy@mail.example", "pa", "Auto Accident"),
        ("A5", "Di", "Fox", "2155550104", "cy@mail.example", "pa", "Auto Accident"),
    ]
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    out = tmp_path / "out.xlsx"
    job = ImportJob(inputs=(write_csv(tmp_path / "l.csv", rows),), mapping=mapping, output=out)
    import_files(job)
    assert [(row["Status"], row["Error"]) for row in read_sheet(out)] == [
        ("valid", None),
        ("duplicate", "same phone as row 2; not sent"),
        ("duplicate", "same email as row 2; not sent"),
        ("valid", None),
        ("duplicate", "same phone and email as row 5; not sent"),
    ]


def test_a_rerun_of_the_same_file_is_already_posted_not_duplicate(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    sandbox = Sandbox()
    post(sandbox, *vendors["acme"], tmp_path)
    again = post(sandbox, *vendors["acme"], tmp_path)
    assert [row["Status"] for row in again] == ["already_posted"] * 3


def test_a_check_without_sending_finds_earlier_posts(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    """What the web page's check does: validate only, reading the journal."""
    post(Sandbox(), *vendors["acme"], tmp_path)
    leads, mapping = vendors["beta"]
    out = tmp_path / "check.xlsx"
    job = ImportJob(
        inputs=(leads,),
        mapping=mapping,
        output=out,
        journal=tmp_path / "journal.sqlite3",
        posted_to=ENDPOINT,
    )
    import_files(job)
    rows = read_sheet(out)
    assert [row["Status"] for row in rows] == ["duplicate", "duplicate", "valid"]
    assert "from acme" in str(rows[0]["Error"])
    # Posts elsewhere (the sandbox) do not count here.
    job = ImportJob(
        inputs=(leads,),
        mapping=mapping,
        output=out,
        journal=tmp_path / "journal.sqlite3",
        posted_to=SANDBOX_LABEL,
    )
    import_files(job)
    assert [row["Status"] for row in read_sheet(out)] == ["valid"] * 3


def test_the_journal_holds_no_phone_or_email_in_any_form(
    vendors: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    sandbox = Sandbox()
    post(sandbox, *vendors["acme"], tmp_path)
    post(sandbox, *vendors["beta"], tmp_path)
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        # A phone and an email for each lead sent: 3 of acme, 1 of beta.
        assert db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 8
    data = b"".join(path.read_bytes() for path in tmp_path.glob("journal.sqlite3*"))
    forms: set[str] = set()
    for row in [*ACME_ROWS, *BETA_ROWS]:
        phone, email = row[3], row[4]
        digits = re.sub(r"\D", "", phone)[-10:]
        forms |= {phone, digits, digits[:3] + "-" + digits[3:6], digits[-7:]}
        forms |= {email, email.strip(), email.strip().lower(), email.split("@")[0].strip()}
        for text in (f"phone={digits}", digits, f"email={email.strip().lower()}"):
            for algorithm in ("md5", "sha1", "sha256", "blake2b"):
                forms.add(hashlib.new(algorithm, text.encode()).hexdigest())
    for form in forms:
        for encoded in (form.encode(), form.encode("utf-16-le")):
            assert encoded not in data, form


def test_a_journal_of_the_previous_version_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    journal.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE contacts")
        db.execute("UPDATE meta SET value = 1 WHERE name = 'version'")
        db.execute(
            "INSERT INTO leads (endpoint, key_hash, status, run_id, first_seen, updated)"
            " VALUES ('e', 'k', 'posted', 'r', 'x', 'x')"
        )
    journal = Journal(path)
    journal.close()
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()[0]
        assert version == SCHEMA_VERSION == 2
        assert db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0
        assert db.execute("SELECT key_hash FROM leads").fetchall() == [("k",)]


# ---------------------------------------------------------------- the claim, at send time


def started(path: Path, mapping: str = "acme.yaml") -> Journal:
    journal = Journal(path)
    journal.start_run(
        input_path=Path("leads.csv"),
        input_sha256="0" * 64,
        mapping=Path(mapping),
        endpoint=ENDPOINT,
    )
    journal.same_contact = _claim_rule(days=30)
    return journal


def _claim_rule(*, days: int) -> ClaimRule:
    since = iso_utc(datetime.now(UTC) - timedelta(days=days))
    return ClaimRule(since, frozenset({"phone", "email"}))


def lead(key: str, row: int, *contacts: tuple[str, str]) -> Lead:
    return Lead(row, {}, key, contacts)


def test_a_person_posted_meanwhile_is_refused_as_the_lead_is_claimed(tmp_path: Path) -> None:
    """The check before sending can miss a post made since; the claim cannot."""
    path = tmp_path / "j.sqlite3"
    first = started(path)
    ann = lead("CaptorraId=1\x1fID=A1", 2, ("phone", "h-phone"), ("email", "h-a"))
    assert first.before_send(ann) is False
    first.answered(ann, Outcome(2, "posted", intake_id="intake-1"))
    second = started(path, "beta.yaml")
    decision = second.before_send(lead("CaptorraId=1\x1fID=B1", 5, ("email", "h-a")))
    assert isinstance(decision, Outcome)
    assert decision.status == "duplicate"
    today = datetime.now(UTC).date().isoformat()
    assert decision.error == (
        f"same email as a lead posted on {today} from acme (IntakeID intake-1); not sent"
    )


def test_a_person_another_live_run_is_sending_is_left_to_it(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    other = started(path)
    assert other.before_send(lead("CaptorraId=1\x1fID=A1", 2, ("phone", "h-phone"))) is False
    decision = started(path, "beta.yaml").before_send(
        lead("CaptorraId=1\x1fID=B1", 3, ("phone", "h-phone"))
    )
    assert isinstance(decision, Outcome)
    assert decision.status == "failed"
    assert decision.error == (
        f"a lead with the same phone is being sent right now by run {other.run_id}; "
        "re-run later to see whether it is a duplicate"
    )


def test_a_rejected_or_old_lead_does_not_make_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = started(path)
    ann = lead("CaptorraId=1\x1fID=A1", 2, ("phone", "h-phone"))
    first.before_send(ann)
    first.answered(ann, Outcome(2, "rejected", error="Please provide First"))
    second = started(path, "beta.yaml")
    assert second.before_send(lead("CaptorraId=1\x1fID=B1", 3, ("phone", "h-phone"))) is False
    second.answered(lead("CaptorraId=1\x1fID=B1", 3), Outcome(3, "posted", intake_id="i-2"))
    third = started(path)
    third.same_contact = _claim_rule(days=-1)  # a window that starts after that post
    assert third.before_send(lead("CaptorraId=1\x1fID=C1", 4, ("phone", "h-phone"))) is False


def test_a_lead_posted_before_contacts_were_kept_gets_them_when_seen_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    first = started(path)
    old = lead("CaptorraId=1\x1fID=A1", 2)  # as a journal of the previous version holds it
    first.before_send(old)
    first.answered(old, Outcome(2, "posted", intake_id="intake-1"))
    rerun = started(path)
    decision = rerun.before_send(lead("CaptorraId=1\x1fID=A1", 2, ("phone", "h-phone")))
    assert isinstance(decision, Outcome)
    assert decision.status == "already_posted"
    other = started(path, "beta.yaml").before_send(
        lead("CaptorraId=1\x1fID=B1", 3, ("phone", "h-phone"))
    )
    assert isinstance(other, Outcome)
    assert other.status == "duplicate"


MESSY = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.text(st.sampled_from("0123456789 .-+()xXetEn@#\n\t\u00a0"), max_size=24),
    st.sampled_from(["(215) 555-0134 ext 12", "1-215-555-0134", " A@B.example ", "2155550134.0"]),
)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(MESSY, max_size=6))
def test_normalising_is_total_and_idempotent(texts: list[str]) -> None:
    values = pd.Series(texts, dtype="str")
    phones = normal_phones(values)
    assert all(phone == "" or re.fullmatch(r"[0-9]{10}", phone) for phone in phones)
    assert normal_phones(phones).tolist() == phones.tolist()
    emails = normal_emails(values)
    assert all(email == "" or "@" in email for email in emails)
    assert normal_emails(emails).tolist() == emails.tolist()


def test_a_person_whose_lead_may_have_been_created_is_not_sent_again(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = started(path)
    ann = lead("CaptorraId=1\x1fID=A1", 2, ("phone", "h-phone"))
    first.before_send(ann)
    first.answered(ann, Outcome(2, "unconfirmed", error="HTTP 200: an HTML page"))
    decision = started(path, "beta.yaml").before_send(
        lead("CaptorraId=1\x1fID=B1", 3, ("phone", "h-phone"))
    )
    assert isinstance(decision, Outcome)
    assert decision.status == "duplicate"
    today = datetime.now(UTC).date().isoformat()
    assert decision.error == (
        f"same phone as a lead sent on {today} from acme that may have been created "
        "(unconfirmed); not sent"
    )
