"""`captorra-import ui`: the importer as a page in the browser, for marketing staff.

Upload a spreadsheet, pick or make its mapping, check every row, send, and
download the results workbook, all on this computer (127.0.0.1) and through the
same library the command line uses. Modules, in the order of the steps:

    workspace.py     the private folder for uploads and workbooks
    mapping_form.py  the proposed mapping as a form, and back to a mapping file
    checking.py      the check: statuses and messages per row, already posted rows
    sending.py       the send in a background thread, with progress and cancel
    security.py      host, token and origin checks on every request
    app.py           the routes and pages
    server.py        serving it (uvicorn) and opening the browser
"""

from __future__ import annotations

from importer.ui.app import UiConfig, create_app
from importer.ui.server import running_server, serve

__all__ = ["UiConfig", "create_app", "running_server", "serve"]
