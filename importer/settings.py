"""The firm's settings: its CaptorraId, its Referrer GUID and the case-type GUIDs learnt so far.

Entered once (on the page's Settings screen or with `captorra-import settings`)
and kept in the user's config folder, so neither a mapping file nor the
environment has to hold them. Guarantees:
- the file is written atomically (a temp file in the same folder, then a rename)
  and is readable by this user only (0600; the folder 0700);
- the environment wins: `CAPTORRA_ID` / `CAPTORRA_REFERRER` set there override the
  stored values, so a nightly job configured by environment behaves as before;
- a mapping's `${CAPTORRA_ID}` and `${CAPTORRA_REFERRER}` read `environment()`,
  the environment with the stored values filled in where it lacks them.
A file that cannot be read raises `UsageError` naming it and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import platformdirs

from importer.captorra import GUID_PATTERN
from importer.errors import UsageError
from importer.transforms import guid

SETTINGS_VARIABLE = "CAPTORRA_SETTINGS"  # another settings file (tests, several firms)
VARIABLES = {"captorra_id": "CAPTORRA_ID", "referrer": "CAPTORRA_REFERRER"}
OPTIONS = {"CAPTORRA_ID": "--captorra-id", "CAPTORRA_REFERRER": "--referrer"}  # the CLI's
MAX_CASE_TYPES = 500  # learnt GUIDs kept; a settings file stays small
_CAPTORRA_ID = re.compile(r"\d{1,18}")


@dataclass(frozen=True)
class Settings:
    captorra_id: str = ""
    referrer: str = ""
    # case type as written in a vendor's file (case-folded) -> Captorra's GUID
    case_types: dict[str, str] = field(default_factory=dict)

    def with_case_types(self, learnt: Mapping[str, str]) -> Settings:
        """These settings with more case-type GUIDs learnt (newest win)."""
        merged = {**self.case_types, **{key.casefold(): value for key, value in learnt.items()}}
        kept = dict(list(merged.items())[-MAX_CASE_TYPES:])
        return replace(self, case_types=kept)


def settings_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the settings live: `$CAPTORRA_SETTINGS`, else the user's config folder."""
    chosen = (os.environ if environ is None else environ).get(SETTINGS_VARIABLE)
    if chosen:
        return Path(chosen)
    return platformdirs.user_config_path("captorra-importer") / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """The stored settings (empty when none were saved); raises `UsageError`."""
    path = path or settings_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(
            f"{path}: the settings file cannot be read ({type(error).__name__}); delete it "
            "and enter the settings again (captorra-import settings)"
        ) from None
    if not isinstance(document, dict):
        raise UsageError(f"{path}: the settings file is damaged; delete it and enter them again")
    case_types = document.get("case_types")
    return Settings(
        captorra_id=str(document.get("captorra_id") or ""),
        referrer=str(document.get("referrer") or ""),
        case_types={
            str(key): str(value)
            for key, value in (case_types if isinstance(case_types, dict) else {}).items()
        },
    )


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Check and store the settings atomically, readable by this user only; raises `UsageError`."""
    found = problems(settings)
    if found:
        raise UsageError("; ".join(found))
    path = path or settings_path()
    document = {
        "captorra_id": settings.captorra_id,
        "referrer": tidy_guid(settings.referrer) if settings.referrer else "",
        "case_types": settings.case_types,
    }
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=".settings-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream, indent=2, ensure_ascii=False)
                stream.write("\n")
            os.replace(scratch, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(scratch)
            raise
    except OSError as error:
        raise UsageError(f"{path}: the settings cannot be saved ({error.strerror})") from None
    return path


def tidy_guid(text: str) -> str:
    """A GUID as the importer sends it (the `guid` transform), e.g. braces and upper case gone."""
    tidy = guid(pd.Series([text.strip()], dtype="str")).values.iloc[0]
    return str(tidy).lower()


def captorra_id_problem(text: str) -> str:
    """Why `text` is not a CaptorraId ("" when it is one)."""
    if not text.strip():
        return "CaptorraId: enter your firm's number from Captorra"
    if not _CAPTORRA_ID.fullmatch(text.strip()):
        return "CaptorraId: digits only, as Captorra shows it (e.g. 123456)"
    return ""


def referrer_problem(text: str) -> str:
    """Why `text` is not a Referrer GUID ("" when it is one)."""
    if not text.strip():
        return "Referrer: enter the GUID Captorra gave this lead source"
    if not GUID_PATTERN.fullmatch(tidy_guid(text)):
        return (
            "Referrer: a GUID has 32 letters a-f and digits in groups of 8-4-4-4-12, "
            "e.g. 0a1b2c3d-1234-4abc-8def-0123456789ab"
        )
    return ""


def problems(settings: Settings) -> list[str]:
    """What is wrong with the settings (empty values are allowed: not set yet)."""
    found = []
    if settings.captorra_id:
        found.append(captorra_id_problem(settings.captorra_id))
    if settings.referrer:
        found.append(referrer_problem(settings.referrer))
    return [problem for problem in found if problem]


@dataclass(frozen=True)
class Effective:
    """One setting as the importer will use it, and where it comes from."""

    value: str
    source: str  # "environment", "settings" or "" (not set)


def effective(
    settings: Settings | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Effective]:
    """captorra_id and referrer as used: the environment wins over the settings file."""
    settings = load_settings() if settings is None else settings
    environ = os.environ if environ is None else environ
    found = {}
    for name, variable in VARIABLES.items():
        if environ.get(variable):
            found[name] = Effective(environ[variable], "environment")
        elif getattr(settings, name):
            found[name] = Effective(getattr(settings, name), "settings")
        else:
            found[name] = Effective("", "")
    return found


def environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment, with the stored CaptorraId and Referrer where it lacks them."""
    environ = dict(os.environ if environ is None else environ)
    settings = load_settings(settings_path(environ))
    for name, variable in VARIABLES.items():
        stored = getattr(settings, name)
        if stored and not environ.get(variable):
            environ[variable] = stored
    return environ


def update_settings(
    *,
    captorra_id: str | None = None,
    referrer: str | None = None,
    forget_case_types: bool = False,
    path: Path | None = None,
) -> Settings:
    """Change the given settings and save them (when anything changed); raises `UsageError`."""
    current = load_settings(path)
    changed = current
    if captorra_id is not None:
        problem = captorra_id_problem(captorra_id)
        if problem:
            raise UsageError(problem)
        changed = replace(changed, captorra_id=captorra_id.strip())
    if referrer is not None:
        problem = referrer_problem(referrer)
        if problem:
            raise UsageError(problem)
        changed = replace(changed, referrer=tidy_guid(referrer))
    if forget_case_types:
        changed = replace(changed, case_types={})
    if captorra_id is not None or referrer is not None or forget_case_types:
        save_settings(changed, path)
    return changed
