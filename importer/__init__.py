"""captorra-importer: load spreadsheets of leads into Captorra intake.

The stages, in order: `reading` -> `mapping` (+ `transforms`) -> `validation`
-> `posting` (+ `journal`) -> `results`; `pipeline` runs them, `cli` is the
command line and `sandbox` a Captorra-compatible API for trying it safely.
"""

from importer.errors import ExitCode, ImporterError
from importer.pipeline import FileReport, ImportJob, RunReport, import_files
from importer.posting import PostSettings

__all__ = [
    "ExitCode",
    "FileReport",
    "ImportJob",
    "ImporterError",
    "PostSettings",
    "RunReport",
    "import_files",
]
