"""Uploaded bytes: a temporary file that lives only as long as the analysis, and a key to remember results by.

The page receives a video as bytes. The decoder needs a path, so the bytes are written to a temporary file that
is deleted as soon as the analysis ends, whether it succeeded or failed: uploaded videos are not kept on disk.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from detector.config import AnalysisConfig

logger = logging.getLogger(__name__)

ACCEPTED_VIDEO_TYPES = ("mp4", "mov", "m4v", "avi", "webm", "mkv")
# Photos are checked as videos of one frame (detector/video.py).
ACCEPTED_PHOTO_TYPES = ("jpg", "jpeg", "png", "webp")
ACCEPTED_TYPES = ACCEPTED_VIDEO_TYPES + ACCEPTED_PHOTO_TYPES


def upload_suffix(file_name: str) -> str:
    """The temporary file's suffix: the upload's own when it is an accepted type, else ``.video``.

    The suffix matters: the decoder reports the container by it (``VideoInfo.container``).
    """
    suffix = Path(file_name).suffix.lower()
    return suffix if suffix.lstrip(".") in ACCEPTED_TYPES else ".video"


@contextmanager
def saved_upload(data: bytes, file_name: str) -> Iterator[Path]:
    """Writes ``data`` to a temporary file named like ``file_name``'s type; yields its path; always deletes it."""
    with tempfile.NamedTemporaryFile(suffix=upload_suffix(file_name), prefix="upload-", delete=False) as handle:
        path = Path(handle.name)
        try:
            handle.write(data)
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        logger.debug("deleted the temporary copy %s of %s", path, file_name)


def upload_digest(data: bytes) -> str:
    """The sha256 of an upload, hex: identifies the same video uploaded again under any name."""
    return hashlib.sha256(data).hexdigest()


def analysis_key(digest: str, model_names: Sequence[str], config: AnalysisConfig) -> Hashable:
    """What a result depends on: the video's content, the models, and every setting of the analysis."""
    return (digest, tuple(model_names), config)


# Files a reviewer may drop at once: each is analysed in turn on a small server.
MAX_FILES = 10


def within_limits(sizes: Sequence[int], max_files: int, max_total_bytes: int) -> tuple[int, list[str]]:
    """How many of several uploads (sizes in bytes, in the order dropped) to check, and why any others are not.

    The first files are kept while there are at most ``max_files`` and their sizes add up to at most
    ``max_total_bytes``; the messages say which limit left the rest out, in words a reviewer can act on.
    """
    if max_files < 1 or max_total_bytes < 1:
        raise ValueError(f"limits must be positive, got {max_files} files and {max_total_bytes} bytes")
    kept, total = 0, 0
    for size in sizes[:max_files]:
        if total + size > max_total_bytes:
            break
        kept, total = kept + 1, total + size
    messages = []
    left_out = len(sizes) - kept
    if len(sizes) > max_files and kept == max_files:
        messages.append(
            f"{len(sizes)} files were dropped; the checker takes up to {max_files} at once, so the first "
            f"{max_files} are checked. Drop the other {left_out} after these."
        )
    elif left_out:
        megabytes = max_total_bytes / 1_000_000
        if kept == 0:
            return 0, [f"The first file alone is larger than the {megabytes:,.0f} MB the checker takes at once."]
        messages.append(
            f"Together the files are larger than the {megabytes:,.0f} MB the checker takes at once, so only the "
            f"first {kept} are checked. Drop the other {left_out} after these."
        )
    return kept, messages
