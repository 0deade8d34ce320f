"""The pages and their routes: upload -> mapping -> check -> send -> results.

Every step calls the library the command line uses (`open_table`,
`choose_profile`, `propose_mapping`, `import_files`, the journal); this module
only turns requests into those calls and their answers into pages. Library
errors become a message on the page, in the words the command line would use,
naming the person's file rather than the private folder it is kept in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from importer import settings
from importer.assistant import propose_mapping
from importer.captorra import PRODUCTION_ENDPOINT
from importer.connection import ConnectionReport, check_connection_async
from importer.errors import (
    ImporterError,
    InputFileError,
    MappingError,
    NoHeaderRowError,
    UsageError,
)
from importer.journal import Journal, RunRecord, default_journal_path
from importer.mapping import LoadedMapping
from importer.pipeline import SANDBOX_LABEL, ImportJob
from importer.posting import PostSettings, is_loopback
from importer.profiles import choose_profile, load_profiles
from importer.reading import CSV_SUFFIXES
from importer.ui import mapping_form
from importer.ui.checking import FILTERS, Check, Checking, Filter, run_check, stamp
from importer.ui.security import Guard, OneTimeCodes
from importer.ui.sending import Run, ordered
from importer.ui.workspace import (
    ACCEPTED,
    ColumnInfo,
    Upload,
    UploadTooLarge,
    Workspace,
    plain,
)

log = logging.getLogger("captorra_importer")

MEGABYTE = 1024 * 1024
FORM_LIMIT = MEGABYTE  # a mapping form is a few kilobytes
STEPS = ("Upload", "Mapping", "Check", "Send", "Results")
RECENT_RUNS = 10
# What to try when a CSV's characters look wrong, in plain words: (label, codec).
ENCODINGS = (
    ("Western European (Windows)", "cp1252"),
    ("Unicode (UTF-8)", "utf-8"),
    ("Unicode (UTF-16)", "utf-16"),
    ("Central European (Windows)", "cp1250"),
    ("Cyrillic (Windows)", "cp1251"),
    ("Western European (Mac)", "mac_roman"),
    ("Western European (DOS)", "cp850"),
)


@dataclass(frozen=True)
class UiConfig:
    """What `captorra-import ui` serves; built by the CLI or by code."""

    port: int = 8000  # 0: any free port
    mappings_dir: Path = Path("mappings")
    journal: Path | None = None  # None: the default journal, as for `run`
    endpoint: str = PRODUCTION_ENDPOINT
    sandbox: bool = False  # send to the built-in sandbox: nothing leaves the machine
    open_browser: bool = True
    max_upload_bytes: int = 200 * MEGABYTE
    post: PostSettings | None = None  # how to send (concurrency, ...); None: run's defaults

    @property
    def journal_path(self) -> Path:
        return self.journal or default_journal_path()

    @property
    def target(self) -> str:
        """sandbox (in process), local (a server on this computer) or production."""
        if self.sandbox:
            return "sandbox"
        host = urlsplit(self.endpoint).hostname or ""
        return "local" if is_loopback(host) else "production"

    @property
    def endpoint_label(self) -> str:
        """Where sends go, as the journal and results name it."""
        return SANDBOX_LABEL if self.sandbox else self.endpoint

    def post_settings(self) -> PostSettings:
        base = self.post or PostSettings(endpoint=self.endpoint)
        return PostSettings(**{**base.__dict__, "endpoint": self.endpoint})


@dataclass
class _Pages:
    config: UiConfig
    workspace: Workspace
    templates: Jinja2Templates
    routes: list[Route | Mount] = field(default_factory=list)

    def __post_init__(self) -> None:
        add = self._add
        add("/", self.home, "home")
        add("/settings", self.settings_page, "settings")
        add("/settings", self.save_settings, "save_settings", methods=["POST"])
        add("/settings/connection", self.to_settings, "connection_page")
        add("/settings/connection", self.check_connection, "connection", methods=["POST"])
        add("/upload", self.to_home, "upload_page")
        add("/upload", self.upload, "upload", methods=["POST"])
        add("/f/{upload}/mapping", self.mapping, "mapping")
        add("/f/{upload}/mapping/draft", self.to_mapping, "draft_page")
        add("/f/{upload}/mapping/draft", self.keep_draft, "draft", methods=["POST"])
        add("/f/{upload}/mapping/use", self.to_mapping, "use_mapping_page")
        add("/f/{upload}/mapping/use", self.use_mapping, "use_mapping", methods=["POST"])
        add("/f/{upload}/mapping/save", self.to_mapping, "save_mapping_page")
        add("/f/{upload}/mapping/save", self.save_mapping, "save_mapping", methods=["POST"])
        add("/f/{upload}/check", self.check, "check")
        add("/f/{upload}/check/progress", self.check_progress, "check_progress")
        add("/f/{upload}/send", self.confirm, "confirm")
        add("/f/{upload}/send", self.send, "send", methods=["POST"])
        add("/f/{upload}/run", self.run, "run")
        add("/f/{upload}/progress", self.progress, "progress")
        add("/f/{upload}/cancel", self.to_run, "cancel_page")
        add("/f/{upload}/cancel", self.cancel, "cancel", methods=["POST"])
        add("/f/{upload}/results", self.results, "results")
        add("/f/{upload}/download/{what}", self.download, "download")
        static = StaticFiles(packages=[("importer.ui", "static")])
        self.routes.append(Mount("/static", app=static, name="static"))

    def _add(
        self,
        path: str,
        endpoint: Callable[[Request], Any],
        name: str,
        *,
        methods: list[str] | None = None,
    ) -> None:
        self.routes.append(Route(path, endpoint, name=name, methods=methods or ["GET"]))

    # ------------------------------------------------------------ helpers

    def _page(
        self, request: Request, name: str, step: int, status: int = 200, **context: Any
    ) -> Response:
        context |= {
            "config": self.config,
            "steps": STEPS,
            "step": step,
            "endpoint": self.config.endpoint_label,
            "target": self.config.target,
        }
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def _message(
        self, request: Request, step: int, status: int, title: str, message: str, **more: Any
    ) -> Response:
        return self._page(
            request, "message.html", step, status, title=title, message=plain(message), **more
        )

    def _gone(self, request: Request) -> Response:
        return self._message(
            request,
            0,
            404,
            "This file is no longer here",
            "Files are kept only while captorra-import ui runs. Upload it again.",
        )

    def _recent_runs(self) -> tuple[list[RunRecord], str]:
        path = self.config.journal_path
        if not path.exists():
            return [], ""
        try:
            journal = Journal(path)
        except ImporterError as error:
            return [], str(error)
        try:
            return journal.runs(limit=RECENT_RUNS), ""
        finally:
            journal.close()

    def _saved_mappings(self) -> list[str]:
        return mapping_form.saved_names(self.config.mappings_dir)

    def _runs_context(self) -> dict[str, Any]:
        """This session's sends (running first), for the links back to them."""
        uploads = [upload for upload in self.workspace if upload.run is not None]
        sends = [(upload, upload.run.snapshot()) for upload in uploads if upload.run is not None]
        sends.sort(key=lambda pair: (pair[1].over, -pair[1].seconds))
        return {"sends": sends, "ordered": ordered}

    # ------------------------------------------------------------ settings

    async def settings_page(self, request: Request) -> Response:
        try:
            stored = await run_in_threadpool(settings.load_settings)
        except UsageError as error:
            return self._message(request, 0, 500, "The settings cannot be read", str(error))
        first = not _ready(settings.effective(stored))
        return self._settings_page(
            request,
            stored.captorra_id,
            stored.referrer,
            first=first,
            saved="saved" in request.query_params,
        )

    def _settings_page(
        self,
        request: Request,
        captorra_id: str,
        referrer: str,
        *,
        first: bool = False,
        saved: bool = False,
        errors: Mapping[str, str] | None = None,
        connection: ConnectionReport | None = None,
    ) -> Response:
        stored = settings.Settings(captorra_id=captorra_id, referrer=referrer)
        return self._page(
            request,
            "settings.html",
            0,
            400 if errors else 200,
            captorra_id=captorra_id,
            referrer=referrer,
            used=settings.effective(stored),
            first=first,
            saved=saved,
            errors=errors or {},
            connection=connection,
        )

    async def to_settings(self, request: Request) -> Response:
        return RedirectResponse(str(request.url_for("settings")), status_code=303)

    async def check_connection(self, request: Request) -> Response:
        """Every step between this computer and where leads go (`check-connection`)."""
        post = self.config.post_settings()
        try:
            report = await check_connection_async(
                self.config.endpoint,
                sandbox=self.config.sandbox,
                proxy=post.proxy,
                ca_bundle=post.ca_bundle,
            )
        except ImporterError as error:
            return self._message(request, 0, 400, "The connection cannot be checked", str(error))
        try:
            stored = await run_in_threadpool(settings.load_settings)
        except UsageError as error:
            return self._message(request, 0, 500, "The settings cannot be read", str(error))
        return self._settings_page(request, stored.captorra_id, stored.referrer, connection=report)

    async def save_settings(self, request: Request) -> Response:
        data = await _form(request)
        if data is None:
            return _bad_form()
        captorra_id, referrer = _one(data, "captorra_id").strip(), _one(data, "referrer").strip()
        errors = {
            name: problem
            for name, problem in (
                ("captorra_id", settings.captorra_id_problem(captorra_id)),
                ("referrer", settings.referrer_problem(referrer)),
            )
            if problem
        }
        if errors:
            return self._settings_page(request, captorra_id, referrer, errors=errors)
        try:
            await run_in_threadpool(
                lambda: settings.update_settings(captorra_id=captorra_id, referrer=referrer)
            )
        except UsageError as error:
            return self._message(request, 0, 500, "The settings were not saved", str(error))
        return RedirectResponse(str(request.url_for("settings")) + "?saved", status_code=303)

    # ------------------------------------------------------------ step 1: upload

    async def home(self, request: Request) -> Response:
        try:
            used = await run_in_threadpool(settings.effective)
        except UsageError as error:
            return self._message(request, 0, 500, "The settings cannot be read", str(error))
        if not _ready(used):
            return RedirectResponse(str(request.url_for("settings")), status_code=303)
        runs, problem = await run_in_threadpool(self._recent_runs)
        return self._page(
            request,
            "upload.html",
            1,
            runs=runs,
            runs_problem=problem,
            accepted=ACCEPTED,
            limit_mb=self.config.max_upload_bytes // MEGABYTE,
            **self._runs_context(),
        )

    async def to_home(self, request: Request) -> Response:
        return RedirectResponse(str(request.url_for("home")), status_code=303)

    async def upload(self, request: Request) -> Response:
        limit = self.config.max_upload_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _too_large(int(declared), limit)
        name = unquote(request.headers.get("x-file-name", ""))
        try:
            upload = await self.workspace.receive(name, request.stream())
            await run_in_threadpool(self.workspace.open, upload)
        except UploadTooLarge:
            return _too_large(None, limit)
        except InputFileError as error:
            return JSONResponse({"error": plain(str(error))}, status_code=400)
        return JSONResponse({"next": str(request.url_for("mapping", upload=upload.id))})

    # ------------------------------------------------------------ step 2: mapping

    async def mapping(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        query = request.query_params
        if "sheet" in query:
            sheet = query["sheet"]
            upload.sheet = sheet if sheet in upload.sheets else None
            upload.header_row = None  # another sheet may have a header row: read it again
        if "encoding" in query:
            known = {codec for _, codec in ENCODINGS}
            upload.encoding = query["encoding"] if query["encoding"] in known else None
            upload.header_row = None
        try:
            columns = await run_in_threadpool(upload.columns)
        except InputFileError as error:
            return self._message(
                request, 2, 400, "This file cannot be read", upload.friendly(error),
                upload=upload, encodings=self._encodings(upload),
            )  # fmt: skip
        # "Change it" beside the list of saved mappings sends the list's choice.
        edit = query.get("edit") or (query.get("mapping", "") if "edit" in query else "")
        if edit and edit not in self._saved_mappings():
            return self._message(
                request, 2, 404, "No such mapping",
                f"{edit} is not among the saved mappings.", upload=upload,
            )  # fmt: skip
        profile, reason = await run_in_threadpool(self._matching_profile, upload)
        if "fresh" in query:
            upload.draft = None
        try:
            if edit:
                form = await run_in_threadpool(
                    lambda: mapping_form.from_saved(
                        self.config.mappings_dir / edit, file_name=upload.name
                    )
                )
            elif upload.draft is not None:
                form = mapping_form.from_submission(upload.draft, file_name=upload.name)
            else:
                form = await run_in_threadpool(self._proposal, upload, columns)
        except MappingError as error:
            return self._message(
                request, 2, 400, "This mapping cannot be changed here", upload.friendly(error),
                upload=upload,
            )  # fmt: skip
        return self._mapping_page(request, upload, columns, form, profile=profile, reason=reason)

    def _encodings(self, upload: Upload) -> list[tuple[str, str]]:
        if upload.path.suffix.lower() not in CSV_SUFFIXES:
            return []
        return [(label, codec) for label, codec in ENCODINGS if codec != upload.encoding]

    def _mapping_page(
        self,
        request: Request,
        upload: Upload,
        columns: list[ColumnInfo],
        form: mapping_form.MappingForm,
        *,
        profile: LoadedMapping | None = None,
        reason: str = "",
        error: str = "",
        confirm_replace: bool = False,
    ) -> Response:
        try:
            stored = settings.load_settings()
        except UsageError:
            stored = settings.Settings()
        return self._page(
            request,
            "mapping.html",
            2,
            400 if error else 200,
            upload=upload,
            columns=columns,
            form=form,
            profile=profile,
            reason=reason,
            error=plain(error),
            confirm_replace=confirm_replace,
            saved=self._saved_mappings(),
            sources=mapping_form.SOURCES,
            transforms=mapping_form.TRANSFORM_HINTS,
            used=settings.effective(stored),
            encodings=self._encodings(upload),
            match=form.match or ("" if form.original else mapping_form.suggest_match(upload.name)),
            samples={column.header: column.samples for column in columns},
            columns_data={
                column.header: {"samples": column.samples, "distinct": column.distinct}
                for column in columns
            },
            learnt=stored.case_types,
            as_json=_as_json,
        )

    def _matching_profile(self, upload: Upload) -> tuple[LoadedMapping | None, str]:
        directory = self.config.mappings_dir
        if not directory.is_dir():
            return None, "there are no saved mappings yet."
        try:
            profiles = load_profiles(directory)
        except MappingError as error:
            if not any(path.suffix.lower() in {".yaml", ".yml"} for path in directory.iterdir()):
                return None, "there are no saved mappings yet."
            if "`match:`" in str(error):
                return None, "no saved mapping is set to be used for files named like this one."
            return None, upload.friendly(error)
        try:
            sample = upload.sample()
            known = {sample.options: sample.columns}
            if sample.options.sheet is None and len(upload.sheets) == 1:
                # A one-sheet workbook: a mapping naming that sheet reads the same headers.
                known[dataclasses.replace(sample.options, sheet=upload.sheets[0])] = sample.columns
            return choose_profile(upload.path, profiles, known=known), ""
        except NoHeaderRowError:
            return None, (
                "the saved mapping for files named like this one expects a header row, "
                "and this file has none."
            )
        except ImporterError as error:
            return None, upload.friendly(error)

    def _proposal(self, upload: Upload, columns: list[ColumnInfo]) -> mapping_form.MappingForm:
        sample = upload.sample()
        proposal = propose_mapping(
            upload.path,
            sheet=upload.sheet,
            header_row=upload.header_row,
            first_rows=sample.frame,
            notes=sample.notes,
        )
        return mapping_form.from_proposal(
            proposal,
            columns,
            upload.folder / "proposal.yaml",
            file_name=upload.name,
            learnt=settings.load_settings().case_types,
        )

    async def to_mapping(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        return _see(request, "mapping", upload.id)

    async def keep_draft(self, request: Request) -> Response:
        """The form as typed so far, kept for this upload: a reload shows it again."""
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return JSONResponse({"error": "no such file"}, status_code=404)
        data = await _form(request)
        if data is None:
            return _bad_form()
        upload.draft = data
        return JSONResponse({"kept": True})

    async def use_mapping(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        data = await _form(request)
        if data is None:
            return _bad_form()
        name = _one(data, "mapping")
        if name not in self._saved_mappings():
            return self._message(
                request, 2, 400, "No such mapping",
                f"{name or 'No mapping'} is not among the saved mappings.", upload=upload,
            )  # fmt: skip
        upload.mapping = self.config.mappings_dir / name
        return _see(request, "check", upload.id)

    async def save_mapping(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        data = await _form(request)
        if data is None:
            return _bad_form()
        form = mapping_form.from_submission(data, file_name=upload.name)
        action = _one(data, "action")
        upload.draft = data  # kept until it is saved: a refused save loses nothing
        if action == "replace":
            columns = await run_in_threadpool(upload.columns)
            return self._mapping_page(request, upload, columns, form, confirm_replace=True)
        try:
            path = await run_in_threadpool(
                lambda: mapping_form.save(
                    form,
                    directory=self.config.mappings_dir,
                    upload=upload,
                    replace=action == "replace-confirmed",
                )
            )
        except ImporterError as error:
            columns = await run_in_threadpool(upload.columns)
            return self._mapping_page(request, upload, columns, form, error=upload.friendly(error))
        upload.draft = None
        learnt = mapping_form.learnt_case_types(form)
        if learnt:
            await run_in_threadpool(_learn, learnt)
        upload.mapping = path
        return _see(request, "check", upload.id)

    # ------------------------------------------------------------ step 3: check

    def _checking(self, upload: Upload, mapping: Path) -> Check | Checking:
        """The check of the upload with this mapping: done, or running (started if need be)."""
        made = stamp(upload, mapping)
        with upload.lock:
            if upload.check is not None and upload.check.stamp == made:
                return upload.check
            running = upload.checking
            if running is None or running.stamp != made:
                journal, endpoint = self.config.journal_path, self.config.endpoint_label

                def check() -> Check:
                    return run_check(
                        upload, mapping, journal=journal, endpoint=endpoint, observer=running
                    )

                running = Checking(check, stamp=made, start=False)
                upload.checking = running
                running.start()
            if running.over and running.check is not None:
                upload.check = running.check
                return running.check
            return running

    async def check(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        if upload.mapping is None:
            return _see(request, "mapping", upload.id)
        try:
            found = await run_in_threadpool(self._checking, upload, upload.mapping)
        except OSError as error:
            found = None
            failure: BaseException | None = error
        else:
            failure = found.error if isinstance(found, Checking) and found.over else None
        if isinstance(failure, NoHeaderRowError):
            upload.checking = None
            return self._message(
                request, 3, 400, "This mapping is for files with a header row",
                f"{upload.name} has no header row: its first row is a lead like the others. "
                f"{upload.mapping.name} reads column names from the first row, so it does not "
                "fit this file. Make a new mapping for it, or change this one, on the mapping "
                "page: there its columns are shown as Column 1, Column 2, ...",
                upload=upload, back="mapping",
            )  # fmt: skip
        if failure is not None or found is None:
            upload.checking = None
            return self._message(
                request, 3, 400, "This mapping does not fit the file", upload.friendly(failure),
                upload=upload, back="mapping",
            )  # fmt: skip
        if isinstance(found, Checking):
            done, total = found.progress()
            return self._page(request, "checking.html", 3, upload=upload, done=done, total=total)
        shown = request.query_params.get("show", "")
        if shown not in FILTERS:
            shown = "problems" if found.matching["problems"] else "all"
        return self._page(
            request,
            "check.html",
            3,
            upload=upload,
            check=found,
            shown=shown,
            filters=FILTERS,
            rows=found.rows[_as_filter(shown)],
        )

    async def check_progress(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None or upload.checking is None:
            return JSONResponse({"error": "no check for this file"}, status_code=404)
        done, total = upload.checking.progress()
        return JSONResponse({"done": done, "total": total, "over": upload.checking.over})

    # ------------------------------------------------------------ step 4: send

    async def confirm(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        if upload.run is not None:
            return _see(request, "run", upload.id)
        if upload.check is None:
            return _see(request, "check", upload.id)
        return self._page(request, "confirm.html", 4, upload=upload, check=upload.check)

    async def send(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        data = await _form(request)
        if data is None:
            return _bad_form()
        if upload.run is not None:
            return _see(request, "run", upload.id)
        if upload.check is None or upload.mapping is None or not upload.check.counts["valid"]:
            return _see(request, "check", upload.id)
        if _one(data, "confirm") != "yes":
            return self._page(
                request, "confirm.html", 4, 400, upload=upload, check=upload.check,
                error="Tick the box to confirm where the leads go.",
            )  # fmt: skip
        job = ImportJob(
            inputs=(upload.path,),
            mapping=upload.mapping,
            output=upload.folder / f"{upload.path.stem}.results.xlsx",
            sheet=upload.sheet,
            post=self.config.post_settings(),
            sandbox=self.config.sandbox,
            journal=self.config.journal_path,
        )
        with upload.lock:
            if upload.run is None:
                upload.run = Run(job, total=upload.check.total, friendly=upload.friendly)
                upload.run.start()
        return _see(request, "run", upload.id)

    async def run(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        if upload.run is None:
            return _see(request, "confirm", upload.id)
        progress = upload.run.snapshot()
        if progress.over:
            return _see(request, "results", upload.id)
        return self._page(request, "run.html", 4, upload=upload, progress=progress)

    async def to_run(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        return _see(request, "run", upload.id)

    async def progress(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None or upload.run is None:
            return JSONResponse({"error": "no send for this file"}, status_code=404)
        document = upload.run.snapshot().document()
        document["next"] = str(request.url_for("results", upload=upload.id))
        return JSONResponse(document)

    async def cancel(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        if upload.run is not None:
            upload.run.cancel()
        return _see(request, "run", upload.id)

    # ------------------------------------------------------------ step 5: results

    async def results(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        if upload.run is None:
            return _see(request, "confirm", upload.id)
        progress = upload.run.snapshot()
        if not progress.over:
            return _see(request, "run", upload.id)
        runs, problem = await run_in_threadpool(self._recent_runs)
        return self._page(
            request,
            "results.html",
            5,
            upload=upload,
            progress=progress,
            runs=runs,
            runs_problem=problem,
            **self._runs_context(),
        )

    async def download(self, request: Request) -> Response:
        upload = self.workspace.get(request.path_params["upload"])
        if upload is None:
            return self._gone(request)
        what = request.path_params["what"]
        path: Path | None = None
        if what == "results" and upload.run is not None:
            path = upload.run.snapshot().results
        elif what == "check" and upload.check is not None:
            path = upload.check.results
        if path is None or not path.exists():
            return self._message(
                request, 0, 404, "Nothing to download yet",
                "There is no such workbook for this file yet.", upload=upload,
            )  # fmt: skip
        upload.downloaded.add(what)
        stem = upload.path.stem
        name = f"{stem}.results.xlsx" if what == "results" else f"{stem}.check.xlsx"
        return FileResponse(path, filename=name, media_type=_XLSX)


def _ready(used: Mapping[str, settings.Effective]) -> bool:
    return all(entry.value for entry in used.values())


def _learn(learnt: Mapping[str, str]) -> None:
    try:
        stored = settings.load_settings()
        settings.save_settings(stored.with_case_types(learnt))
    except UsageError as error:  # learning is a help, never a reason to stop an import
        log.warning("case-type GUIDs not remembered: %s", error)


def _as_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _as_filter(name: str) -> Filter:
    return next(known for known in FILTERS if known == name)


def _see(request: Request, route: str, upload: str) -> Response:
    return RedirectResponse(str(request.url_for(route, upload=upload)), status_code=303)


def _too_large(size: int | None, limit: int) -> Response:
    sent = f"is {size / MEGABYTE:,.0f} MB" if size else "is larger than that"
    return JSONResponse(
        {
            "error": f"The file {sent}; the limit is {limit // MEGABYTE:,} MB. Split it into "
            "smaller files."
        },
        status_code=413,
    )


async def _form(request: Request) -> dict[str, list[str]] | None:
    """An url-encoded form body, or None when it is not one or is too large."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > FORM_LIMIT:
            return None
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _one(data: Mapping[str, list[str]], key: str) -> str:
    values = data.get(key)
    return values[-1] if values else ""


def _bad_form() -> Response:
    return JSONResponse({"error": "expected a form from the page"}, status_code=400)


def create_app(config: UiConfig, *, token: str, port: int) -> Starlette:
    """The page as an ASGI app; every request must pass `Guard` (see security.py)."""
    workspace = Workspace(max_upload_bytes=config.max_upload_bytes)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("importer.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["thousands"] = lambda number: f"{number:,}"
    templates = Jinja2Templates(env=environment)
    pages = _Pages(config, workspace, templates)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(close_workspace, workspace)

    app = Starlette(routes=pages.routes, lifespan=lifespan)
    app.state.workspace = workspace
    app.state.codes = OneTimeCodes()
    app.add_middleware(Guard, token=token, port=port, codes=app.state.codes)
    return app


def close_workspace(workspace: Workspace, *, wait: float = 60.0) -> None:
    """Stop sends (as Ctrl-C does), let requests in flight finish, remove the private folder."""
    runs = [upload.run for upload in workspace if upload.run is not None]
    for run in runs:
        run.cancel()
    for run in runs:
        run.join(wait)
    workspace.close()
