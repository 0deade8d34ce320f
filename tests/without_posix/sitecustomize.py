"""Makes this interpreter lack the modules Windows lacks: on PYTHONPATH, Python runs it first.

`fcntl`, `pwd`, `grp`, `termios`, `resource`, `tty` and `pty` exist only on
POSIX systems. Importing one of them here raises `ModuleNotFoundError`, as on
Windows, so a test can run the importer as a Windows user would get it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

BLOCKED = frozenset({"fcntl", "pwd", "grp", "termios", "resource", "tty", "pty"})


class _WindowsHasNoSuchModule(MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname in BLOCKED:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


for _name in BLOCKED:
    sys.modules.pop(_name, None)
sys.meta_path.insert(0, _WindowsHasNoSuchModule())
