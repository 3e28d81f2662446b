"""Errors caused by a user's input, reported as one clear line.

Every mistake a user can make (a broken YAML file, a crop outside its image, a corrupt
DICOM, a missing file) raises a subclass of :class:`UserError`. Its message says what is
wrong, where (file, image, crop, field) and what to do. The scripts and the CLI print that
one line and exit with status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or configuration, not a bug in this package."""

    def __init__(self, what: str, where: str | None = None, fix: str | None = None):
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        """The message as one line: ``where: what. fix``."""
        text = f"{self.where}: {self.what}" if self.where else self.what
        text = text.rstrip(".") + "."
        if self.fix:
            fix = self.fix.rstrip(".")
            text += " " + fix[:1].upper() + fix[1:] + "."
        return " ".join(text.split())


class ConfigError(UserError):
    """The configuration file, or a file it names, is invalid."""


class ManifestError(UserError):
    """A labels table, crop manifest or annotations file is invalid."""


class ImageError(UserError):
    """A radiograph cannot be read or converted."""
