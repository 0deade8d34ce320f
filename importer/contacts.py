"""The same person in another lead: matching leads by phone and email.

Vendors resell leads, so one person arrives twice: from two vendors, with two
vendor IDs, days apart. The lead key (`lead_key.py`) cannot see that; this
module can. A valid row whose phone (Primary or Secondary) or email matches

- an earlier valid row of the same file: "same phone as row 12; not sent", or
- a lead posted to the same endpoint within the mapping's window (`duplicates:`,
  default phone or email, 30 days): "same email as a lead posted on 2026-11-20
  from acme (IntakeID 4711); not sent"

is `duplicate` and is not sent. The message names which identifier matched,
when and from which vendor, never the value. A lead left `unconfirmed` (it may
be in Captorra) counts as posted.

Identifiers are normalised column by column: a phone is its 10 digits (a
leading US 1 and an extension dropped; anything else is no phone), an email is
trimmed and lower-cased (text without `@` is no email). Across runs only keyed
hashes are compared and stored (keyed with the journal's secret), never the
values.

The check here reads the journal once per chunk, before anything is sent. The
journal repeats it for each lead inside the transaction that claims the lead
(`Journal.claim`), so two runs at once never both send the same person;
this early pass only saves the requests and gives every row its answer up
front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from importer.lead_key import DuplicateFinder
from importer.mapping import DuplicateRule

Kind = Literal["phone", "email"]
# Which Captorra fields hold each kind of identifier.
IDENTIFIERS: dict[Kind, tuple[str, ...]] = {"phone": ("Primary", "Secondary"), "email": ("Email",)}
ContactHashes = tuple[tuple[str, str], ...]  # (kind, keyed hash) of one lead's identifiers


@dataclass(frozen=True)
class EarlierLead:
    """A lead in the journal that holds one of the identifiers looked up."""

    contact_hash: str
    kind: str
    key_hash: str  # the earlier lead's own key hash
    posted_at: str  # ISO time, UTC
    intake_id: str
    vendor: str  # the profile or mapping it was imported with
    confirmed: bool = True  # False: `unconfirmed`, it may or may not be in Captorra


class ContactHistory(Protocol):
    """The journal's side of the check (see `Journal`)."""

    def contact_hashes(self, texts: Sequence[str]) -> list[str]:
        """Keyed hashes of identifier texts ("phone=2155550134")."""

    def key_hashes(self, keys: Sequence[str]) -> list[str]:
        """Keyed hashes of lead keys, as the journal stores them."""

    def posted_with(self, hashes: Sequence[str], since: str) -> list[EarlierLead]:
        """The leads posted since `since` (ISO, UTC) holding any of these contact hashes."""

    def posted_keys(self, key_hashes: Sequence[str]) -> set[str]:
        """Which of these lead keys are posted (those rows are `already_posted` instead)."""


@dataclass(frozen=True)
class ClaimRule:
    """What the journal checks again as it claims each lead."""

    since: str  # ISO time, UTC: posts before it are outside the window
    kinds: frozenset[str]


@dataclass(frozen=True)
class ContactCheck:
    """One chunk's answer: the duplicates found, and every checked row's hashes."""

    errors: pd.Series  # the Error of each duplicate row, indexed by row
    hashes: pd.Series  # ContactHashes per row (empty tuples without a journal)


def effective_rule(rule: DuplicateRule, window_days: int | None) -> DuplicateRule:
    """The mapping's rule with `--duplicate-window` (if given) instead of its window."""
    if window_days is None:
        return rule
    return rule.model_copy(update={"window_days": window_days})


def vendor_name(mapping: Path | str) -> str:
    """How results and messages name a vendor: its profile's (mapping file's) name."""
    return Path(mapping).stem


def iso_utc(moment: datetime) -> str:
    """The journal's time format; comparable as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class ContactFinder:
    """The same-contact check for the chunks of one file; see the module docstring.

    `history` is the journal to look earlier posts up in (None: this file only);
    with `repost` earlier posts are not looked up (the rows are sent anyway) but
    the hashes are still made, so the journal records them.
    """

    def __init__(
        self,
        rule: DuplicateRule,
        history: ContactHistory | None = None,
        *,
        repost: bool = False,
        now: datetime | None = None,
    ) -> None:
        self.rule = rule
        self.history = history
        self.claim: ClaimRule | None = None
        if rule.active and history is not None and not repost:
            since = (now or datetime.now(UTC)) - timedelta(days=rule.window_days)
            self.claim = ClaimRule(iso_utc(since), frozenset(rule.match))
        self._seen = DuplicateFinder()

    def check(self, values: pd.DataFrame, keys: pd.Series) -> ContactCheck:
        """Check the rows of `values` (mapped fields of valid rows), `keys` their lead keys."""
        long = identifier_table(values)
        hashes = self._hashed(long, values.index)
        errors = _no_rows()
        if not self.rule.active:
            return ContactCheck(errors, hashes)
        long = long[long["kind"].isin(self.rule.match)]
        errors = self._in_file(long)
        if self.claim is not None and not long.empty:
            earlier = self._posted_before(long, keys)
            errors = earlier.combine_first(errors).astype("str")  # the journal's says more
        return ContactCheck(errors, hashes)

    def _hashed(self, long: pd.DataFrame, index: pd.Index) -> pd.Series:
        if self.history is None or long.empty:
            return pd.Series([()] * len(index), index=index, dtype="object")
        codes, distinct = pd.factorize(long["text"])
        digests = np.asarray(self.history.contact_hashes(distinct.tolist()), dtype=object)
        long["hash"] = digests[codes]
        # One tuple per lead for the journal: the posting stage works lead by lead.
        per_row: dict[int, list[tuple[str, str]]] = {}
        kinds = long["kind"].to_numpy(dtype=object).tolist()
        for row, kind, digest in zip(
            long.index.tolist(), kinds, digests[codes].tolist(), strict=True
        ):
            per_row.setdefault(row, []).append((kind, digest))
        return pd.Series(
            [tuple(per_row.get(row, ())) for row in index.tolist()], index=index, dtype="object"
        )

    def _in_file(self, long: pd.DataFrame) -> pd.Series:
        """Rows whose identifier an earlier row of the file has: "same phone as row 12"."""
        if long.empty:
            return _no_rows()
        first = self._seen.first_rows(long["text"]).to_numpy()
        rows = long.index.to_numpy(dtype="int64")
        earlier = first < rows
        hits = pd.DataFrame(
            {
                "row": rows[earlier],
                "first": first[earlier],
                "kind": long["kind"].to_numpy()[earlier],
            }
        )
        if hits.empty:
            return _no_rows()
        hits = hits[hits["first"] == hits.groupby("row")["first"].transform("min")]
        first_row = hits.groupby("row")["first"].min()
        kinds = _kinds_by_row(hits["row"], hits["kind"])
        return ("same " + kinds + " as row " + first_row.astype("str") + "; not sent").astype("str")

    def _posted_before(self, long: pd.DataFrame, keys: pd.Series) -> pd.Series:
        """Rows matching a lead posted within the window (the journal's history)."""
        assert self.history is not None
        assert self.claim is not None
        found = self.history.posted_with(long["hash"].unique().tolist(), self.claim.since)
        if not found:
            return _no_rows()
        earlier = pd.DataFrame([lead.__dict__ for lead in found]).drop(columns="kind")
        matched = long.reset_index(names="row").merge(
            earlier, left_on="hash", right_on="contact_hash"
        )
        rows = matched["row"].unique().tolist()
        own = dict(zip(rows, self.history.key_hashes(keys[rows].tolist()), strict=True))
        matched["own"] = matched["row"].map(own)
        # A row's own earlier post is `already_posted` (the journal says so at send time).
        posted_itself = self.history.posted_keys(list(own.values()))
        matched = matched[
            (matched["key_hash"] != matched["own"]) & ~matched["own"].isin(posted_itself)
        ]
        if matched.empty:
            return _no_rows()
        matched = matched.sort_values(["row", "posted_at", "key_hash", "kind"])
        first = matched.groupby("row")["key_hash"].transform("first")
        matched = matched[matched["key_hash"] == first]
        columns = ["posted_at", "vendor", "intake_id", "confirmed"]
        described = matched.groupby("row")[columns].first()
        described["kinds"] = _kinds_by_row(matched["row"], matched["kind"])
        return pd.Series(
            [
                earlier_lead_error(kinds, posted_at, vendor, intake_id, confirmed)
                for posted_at, vendor, intake_id, confirmed, kinds in described.itertuples(
                    index=False
                )
            ],
            index=described.index.astype("int64"),
            dtype="str",
        )


def _no_rows() -> pd.Series:
    return pd.Series(dtype="str", index=pd.Index([], dtype="int64"))


def earlier_lead_error(
    kinds: str, posted_at: str, vendor: str, intake_id: str, confirmed: bool = True
) -> str:
    """The Error of a lead matching one posted earlier; the same text at check and at send."""
    if not confirmed:
        # It may be in Captorra: sending the same person again could make two intakes.
        return (
            f"same {kinds} as a lead sent on {posted_at[:10]} from {vendor} that may have been "
            "created (unconfirmed); not sent"
        )
    intake = f" (IntakeID {intake_id})" if intake_id else ""
    return f"same {kinds} as a lead posted on {posted_at[:10]} from {vendor}{intake}; not sent"


def in_flight_error(kinds: str, run_id: str) -> str:
    return (
        f"a lead with the same {kinds} is being sent right now by run {run_id}; "
        "re-run later to see whether it is a duplicate"
    )


def kinds_text(kinds: Sequence[str]) -> str:
    """["email", "phone", "phone"] -> "phone and email"."""
    present = [kind for kind in IDENTIFIERS if kind in set(kinds)]
    return " and ".join(present)


def _kinds_by_row(rows: pd.Series, kinds: pd.Series) -> pd.Series:
    """Per row, the kinds among its lines: "phone", "email" or "phone and email"."""
    phone = (kinds == "phone").groupby(rows.to_numpy()).any()
    email = (kinds == "email").groupby(rows.to_numpy()).any()
    text = np.select([phone & email, phone], ["phone and email", "phone"], "email")
    return pd.Series(text, index=phone.index, dtype="str")


def identifier_table(values: pd.DataFrame) -> pd.DataFrame:
    """One line per (row, identifier): kind and text ("phone=2155550134"), index = row."""
    parts = []
    for kind, fields in IDENTIFIERS.items():
        for name in fields:
            if name not in values:
                continue
            normal = _NORMALISE[kind](values[name].fillna("").astype("str"))
            present = normal != ""
            parts.append(
                pd.DataFrame(
                    {"kind": kind, "text": kind + "=" + normal[present]},
                    index=values.index[present],
                )
            )
    if not parts:
        return pd.DataFrame(
            {"kind": pd.Series(dtype="str"), "text": pd.Series(dtype="str")},
            index=pd.Index([], dtype="int64"),
        )
    long = pd.concat(parts)
    # The same number in Primary and Secondary is one identifier.
    return long[~long.reset_index(names="row").duplicated(["row", "text"]).to_numpy()]


def normal_phones(column: pd.Series) -> pd.Series:
    """10 digits, or "" for anything that is not a US phone number.

    Unlike the `phone` transform this never keeps a value as written: a number
    it cannot read matches nothing.
    """
    # An extension is not part of the number; nor is the ".0" of a number Excel stored.
    # No \s: it would send pandas to Python's re, row by row, instead of pyarrow.
    number = column.str.replace(
        r"(?i)[ \t]*(?:(?:x|ext\.?|extension)[ \t]*[0-9]*|\.0)[ \t]*$", "", regex=True
    )
    digits = number.str.replace(r"[^0-9]+", "", regex=True)
    us = (digits.str.len() == 11) & digits.str.startswith("1")
    digits = digits.where(~us, digits.str.slice(1))
    return digits.where(digits.str.len() == 10, "")


def normal_emails(column: pd.Series) -> pd.Series:
    """Trimmed and lower case, or "" for text that is not an address."""
    email = column.str.strip().str.lower()
    return email.where(email.str.contains("@", regex=False), "")


_NORMALISE = {"phone": normal_phones, "email": normal_emails}
