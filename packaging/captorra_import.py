"""Entry point of the one-file executable built by `make dist` (PyInstaller)."""

from importer.cli import main

main()
