"""The page's speed against the command line's: `python -m benchmarks.ui_check [ROWS]`.

Two figures the page promises, measured in one run on the same acme file and
example mapping:
- the check (`importer.ui.checking.run_check`: `validate` plus reading its
  workbook back and looking rows up in the journal) takes at most twice as long
  as `validate` itself (`import_files` without posting);
- upload -> mapping page (the POST of the file, then the page with the proposal
  and the saved mapping that matches) takes under 2 seconds for 20,000 rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from benchmarks.common import ENVIRON, MAPPING, lead_file
from importer.journal import Journal
from importer.pipeline import SANDBOX_LABEL, ImportJob, import_files
from importer.ui import UiConfig, create_app
from importer.ui.checking import run_check
from importer.ui.security import cookie_name
from importer.ui.workspace import Upload

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

CHECK_RATIO_TARGET = 2.0
MAPPING_PAGE_TARGET = 2.0


def _best(seconds: list[float]) -> float:
    return min(seconds)


def main(rows: int = 20_000, repeats: int = 2) -> int:
    os.environ.update(ENVIRON)
    source = lead_file(rows, "xlsx")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        journal = work / "journal.sqlite3"
        Journal(journal).close()  # a journal exists, as it does after any send
        validate, check = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            job = ImportJob(inputs=(source,), mapping=MAPPING, output=work / "v.xlsx")
            import_files(job)
            validate.append(time.perf_counter() - started)
            upload_folder = Path(tempfile.mkdtemp(dir=work))
            copy = upload_folder / source.name
            copy.write_bytes(source.read_bytes())
            upload = Upload("bench", source.name, copy, sheets=[])
            started = time.perf_counter()
            run_check(upload, MAPPING, journal=journal, endpoint=SANDBOX_LABEL)
            check.append(time.perf_counter() - started)
        mappings = work / "mappings"
        mappings.mkdir()
        (mappings / "acme.yaml").write_text(MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
        page = []
        config = UiConfig(port=8123, mappings_dir=mappings, journal=journal, sandbox=True)
        app = create_app(config, token="bench", port=8123)
        with TestClient(app, base_url="http://127.0.0.1:8123", follow_redirects=False) as client:
            client.cookies.set(cookie_name(8123), "bench")
            for _ in range(repeats):
                started = time.perf_counter()
                answer = client.post(
                    "/upload",
                    content=source.read_bytes(),
                    headers={"X-File-Name": "acme_leads_bench.xlsx"},  # the profile's kind
                )
                shown = client.get(answer.json()["next"])
                assert "use-profile" in shown.text, shown.text[:500]
                page.append(time.perf_counter() - started)
    ratio = _best(check) / _best(validate)
    print(f"{rows:,} rows (acme xlsx, example mapping), best of {repeats}:")
    print(f"  validate (import_files)        {_best(validate):6.2f} s")
    print(f"  page check (run_check)         {_best(check):6.2f} s   {ratio:.2f}x validate "
          f"(target <= {CHECK_RATIO_TARGET}x)")  # fmt: skip
    print(f"  upload -> mapping page         {_best(page):6.2f} s   (target < "
          f"{MAPPING_PAGE_TARGET} s)")  # fmt: skip
    met = ratio <= CHECK_RATIO_TARGET and _best(page) < MAPPING_PAGE_TARGET
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:2])))
