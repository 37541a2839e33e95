"""What the command line prints: the one place the CLI writes text, through the redaction
layer, so no command can print a secret (the server's echo of it included)."""

from __future__ import annotations

import sys

from leanplum_notebook.redaction import redact

__all__ = ["say", "warn"]


def say(text: str = "") -> None:
    """Print a line to standard output."""
    sys.stdout.write(redact(text) + "\n")


def warn(text: str) -> None:
    """Print a line to standard error."""
    sys.stderr.write(redact(text) + "\n")
