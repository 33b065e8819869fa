"""Exceptions the library raises on input it cannot judge.

Each message is written for the person who supplied the input: it says what is wrong and, where possible, what
to do about it. The page and the command line show the message as it is.
"""


class DetectorError(Exception):
    """Base class of every error the checker reports to a user."""


class UnreadableVideoError(DetectorError):
    """The file is not a video the decoder can read (not a video, empty, truncated, audio only...)."""


class VideoTooLargeError(DetectorError):
    """The file is over the size the checker accepts."""


class NoFaceFoundError(DetectorError):
    """No face was found in any sampled frame."""


class ModelNotFoundError(DetectorError):
    """The requested model has no weights or no card in the models folder."""


class ModelCardError(DetectorError):
    """A model card is missing a field, or its weights do not match the card."""


class DatasetError(DetectorError):
    """Training or evaluation data is missing or malformed."""
