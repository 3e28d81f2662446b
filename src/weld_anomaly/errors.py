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


# The kinds of bad radiograph. Each is an ImageError, so it is
# reported as one line; the class name goes into the rejects table when convert.on_error is
# "skip".


class NotDicom(ImageError):
    """Not a DICOM file (no preamble and DICM prefix), nor a supported raster image."""


class Truncated(ImageError):
    """The file ends before its data does."""


class NoPixelData(ImageError):
    """A DICOM object without an image (structured report, DICOMDIR, RT plan, ...)."""


class UnsupportedImageType(ImageError):
    """An image, but not a radiograph this workflow can read (float, 1-bit, 32-bit, ...)."""


class UnsupportedTransferSyntax(ImageError):
    """A transfer syntax no decoder handles (video, Deflated Image Frame, unknown UID)."""


class MissingDecoder(ImageError):
    """A compressed transfer syntax whose decoder package is not installed."""


class DecodeFailed(ImageError):
    """The compressed pixel data is corrupt: every decoder failed."""


class UnsupportedPhotometric(ImageError):
    """Colour or palette images; radiographs are MONOCHROME1 or MONOCHROME2."""


class InvalidPixelModule(ImageError):
    """Inconsistent image attributes (rows, bits, pixel data length)."""


class InvalidHeader(ImageError):
    """An attribute that cannot be parsed (e.g. a non-numeric number of frames)."""


class TooLarge(ImageError):
    """More pixels (or inflated bytes) than convert.max_pixels allows, checked before decoding."""


class ConstantImage(ImageError):
    """Every pixel maps to one value: nothing to inspect."""


class DuplicateInstance(ImageError):
    """The same radiograph appears twice (same SOP Instance UID or identical pixels)."""


class Unexpected(ImageError):
    """The converter failed in a way it does not foresee (a bug, or a file it cannot handle).

    The traceback goes to the job's log only; the run reports one line, and with
    ``convert.on_error: skip`` the image becomes a rejected row like any other bad file.
    """
