"""The importer's exceptions: one tree, caught in one place (the CLI).

    ImporterError                 anything that stops a whole run
    ├── UsageError                options that contradict each other          exit 2
    ├── InputFileError            a spreadsheet that cannot be read            exit 2
    │   └── NoHeaderRowError      its first row looks like a lead, not names   exit 2
    ├── MappingError              a mapping file that cannot be applied        exit 2
    ├── EndpointError             an endpoint URL the importer refuses         exit 2
    ├── JournalError              the journal cannot be opened or written      exit 2
    └── LockedError               another batch run holds the inbox            exit 4

A bad *row* is never an exception: it is data, with a status and a message in
the results workbook.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README and in `--help`."""

    OK = 0  # every row posted (or already posted), or valid when validating
    NEEDS_A_PERSON = 1  # some rows invalid, rejected, duplicate or unconfirmed
    STOPPED = 2  # usage, input, mapping or journal error; or a configuration stop
    RETRY_LATER = 3  # some rows failed transiently: a re-run retries them
    LOCKED = 4  # another batch run holds the inbox
    INTERRUPTED = 130  # Ctrl-C / SIGINT


class ImporterError(Exception):
    """Base of every error that stops a run; its message is one line for the user."""

    exit_code: ExitCode = ExitCode.STOPPED


class UsageError(ImporterError):
    """Options that cannot be used together or make no sense."""


class InputFileError(ImporterError):
    """A spreadsheet that is missing, empty, corrupt, encrypted or not a spreadsheet."""


class NoHeaderRowError(InputFileError):
    """A spreadsheet whose header row looks like a lead: read it with `header_row: 0`.

    Its own class so that the page can read such a file without a header row
    instead of showing the command line's advice.
    """


class MappingError(ImporterError):
    """A mapping file that is malformed or does not fit the input."""


class EndpointError(ImporterError):
    """An endpoint URL the importer will not send personal data to."""


class JournalError(ImporterError):
    """A journal that cannot be opened, is corrupt, or cannot be written."""


class LockedError(ImporterError):
    """Another run holds the lock."""

    exit_code = ExitCode.LOCKED
