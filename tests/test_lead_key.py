"""Lead keys: what makes two rows the same lead, within a file and across runs.

The journal stores `key_hash(lead_key)` of every lead it posted, so the key of a
lead must never change between versions: the exact key texts and one hash are
pinned here, and the column-at-a-time normalisation is checked against the
plain Python it replaced.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.lead_key import DuplicateFinder, key_fields, key_hash, lead_keys
from importer.mapping import Mapping, load_mapping

SEP = "\x1f"
HEAD = """\
version: 1
fields:
  CaptorraId: {value: "123456"}
  Referrer: {value: 123e4567-e89b-12d3-a456-426655440000}
  First: First Name
  Last: Last Name
"""


def mapping(tmp_path: Path, extra: str = "") -> Mapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(HEAD + extra, encoding="utf-8")
    return load_mapping(path, environ={}).mapping


def values(**columns: list[str]) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    return pd.DataFrame(
        {"CaptorraId": ["123456"] * rows} | columns,
        index=pd.RangeIndex(2, 2 + rows),
        dtype="str",
    )


def test_the_default_key_is_captorra_id_and_id(tmp_path: Path) -> None:
    assert key_fields(mapping(tmp_path, "  ID: Lead ID\n  Email: E-mail\n")) == ("CaptorraId", "ID")


def test_without_an_id_the_key_is_the_mapped_contact_fields(tmp_path: Path) -> None:
    assert key_fields(mapping(tmp_path, "  Email: E-mail\n")) == (
        "CaptorraId",
        "First",
        "Last",
        "Email",
    )


def test_a_custom_key(tmp_path: Path) -> None:
    loaded = mapping(tmp_path, "  Email: E-mail\nlead_key: [Email]\n")
    assert key_fields(loaded) == ("Email",)
    keys = lead_keys(loaded, values(First=["A"], Last=["B"], Email=[" Ann@Mail.Example "]))
    assert list(keys) == ["Email=ann@mail.example"]


def test_keys_are_normalised(tmp_path: Path) -> None:
    loaded = mapping(tmp_path, "  ID: Lead ID\n")
    keys = lead_keys(
        loaded, values(First=["x", "y"], Last=["x", "y"], ID=["  AC-0001  ", "ac-0001"])
    )
    assert list(keys) == [f"CaptorraId=123456{SEP}ID=ac-0001"] * 2


def test_a_row_without_an_id_falls_back_to_the_contact_key(tmp_path: Path) -> None:
    loaded = mapping(tmp_path, "  ID: Lead ID\n  Primary: Phone\n  Email: E-mail\n")
    frame = values(
        ID=["AC-1", "", " "],
        First=["Ann", "Ann ", "Bo"],
        Last=["Lee", "LEE", "Lee"],
        Primary=["(215) 555-0134", "215.555.0134", "2155550135"],
        Email=["", "", "bo@mail.example"],
    )
    contact = f"CaptorraId=123456{SEP}First=ann{SEP}Last=lee{SEP}Primary=2155550134{SEP}Email="
    assert list(lead_keys(loaded, frame)) == [
        f"CaptorraId=123456{SEP}ID=ac-1",
        contact,
        f"CaptorraId=123456{SEP}First=bo{SEP}Last=lee{SEP}Primary=2155550135"
        f"{SEP}Email=bo@mail.example",
    ]


def test_the_fallback_holds_when_the_mapping_names_the_default_key(tmp_path: Path) -> None:
    # Before: with `lead_key: [CaptorraId, ID]` written out (as in example.yaml), every row
    # without an ID had the key "ID=" and all but the first were reported as duplicates.
    loaded = mapping(tmp_path, "  ID: Lead ID\nlead_key: [CaptorraId, ID]\n")
    keys = lead_keys(loaded, values(ID=["", ""], First=["Ann", "Bo"], Last=["Lee", "Lee"]))
    assert list(keys) == [
        f"CaptorraId=123456{SEP}First=ann{SEP}Last=lee",
        f"CaptorraId=123456{SEP}First=bo{SEP}Last=lee",
    ]


def test_a_blank_custom_key_falls_back_to_the_contact_key(tmp_path: Path) -> None:
    loaded = mapping(tmp_path, "  Email: E-mail\nlead_key: [CaptorraId, Email]\n")
    keys = lead_keys(loaded, values(Email=["", ""], First=["Ann", "Bo"], Last=["Lee", "Lee"]))
    assert list(keys) == [
        f"CaptorraId=123456{SEP}First=ann{SEP}Last=lee{SEP}Email=",
        f"CaptorraId=123456{SEP}First=bo{SEP}Last=lee{SEP}Email=",
    ]


def _reference(name: str, text: str) -> str:
    """The normalisation of the first version, in plain Python: keys must not change."""
    text = re.sub(r"\s+", " ", text.casefold()).strip()
    return re.sub(r"\D+", "", text) if name in {"Primary", "Secondary"} else text


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
        | st.text(st.sampled_from("aBß İΣς 0\u0661\u0662\t\n\u00a0\u2003-()x"), max_size=12),
        min_size=1,
        max_size=5,
    )
)
def test_keys_are_those_of_earlier_versions(texts: list[str]) -> None:
    loaded = Mapping.model_validate(
        {
            "version": 1,
            "fields": {
                "CaptorraId": {"value": "1"},
                "Referrer": {"value": "x"},
                "First": "F",
                "Last": "L",
                "Primary": "P",
            },
            "lead_key": ["Last", "Primary"],
        }
    )
    frame = values(First=["f"] * len(texts), Last=texts, Primary=texts)
    expected = [
        f"Last={_reference('Last', text)}{SEP}Primary={_reference('Primary', text)}"
        for text in texts
    ]
    keys = list(lead_keys(loaded, frame))
    # A row whose key is blank falls back to the contact key: compare the others.
    assert [key for key, text in zip(keys, texts, strict=True) if _reference("Last", text)] == [
        key for key, text in zip(expected, texts, strict=True) if _reference("Last", text)
    ]


def test_key_hash_depends_on_the_salt_and_never_changes() -> None:
    key = f"CaptorraId=123456{SEP}ID=ac-1"
    assert key_hash(key, b"0" * 16) == "20463f8785465e601aedb18c1b729e53ea277238"
    assert key_hash(key, b"1" * 16) != key_hash(key, b"0" * 16)
    assert key_hash(key + "x", b"0" * 16) != key_hash(key, b"0" * 16)


def _keys(rows: list[int], texts: list[str]) -> pd.Series:
    return pd.Series(texts, index=pd.Index(rows, dtype="int64"), dtype="str")


def test_duplicate_finder_remembers_first_rows_across_chunks() -> None:
    finder = DuplicateFinder()
    first = finder.first_rows(_keys([2, 3, 4, 5], ["a", "b", "a", "a"]))
    assert list(first) == [2, 3, 2, 2]
    assert list(first.index) == [2, 3, 4, 5]
    assert list(finder.first_rows(_keys([6, 8], ["b", "c"]))) == [3, 8]
    assert list(finder.first_rows(_keys([9, 10, 11], ["c", "a", "d"]))) == [8, 2, 11]
    assert list(finder.first_rows(_keys([], []))) == []


def test_duplicate_finders_do_not_share_memory() -> None:
    DuplicateFinder().first_rows(_keys([2], ["a"]))
    assert list(DuplicateFinder().first_rows(_keys([7], ["a"]))) == [7]


@pytest.mark.parametrize("rows", [[5, 3, 4], [2, 9, 7]])
def test_the_first_row_of_a_key_is_its_lowest(rows: list[int]) -> None:
    assert list(DuplicateFinder().first_rows(_keys(rows, ["k", "k", "k"]))) == [min(rows)] * 3
