"""Saving uploaded files (CSV imports) to the data directory, within a size limit."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO

from tidings.domain.errors import PayloadTooLarge, ValidationError

MAX_UPLOAD_BYTES = 2 * 1024 ** 3
CHUNK = 1024 * 1024


def save(stream: BinaryIO, data_dir: Path, *, limit: int = MAX_UPLOAD_BYTES) -> tuple[Path, int]:
    """Copy ``stream`` to a new private file under ``<data_dir>/uploads``; (path, size).

    The file is removed again when it is empty or larger than ``limit``.
    """
    directory = data_dir / "uploads"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{secrets.token_hex(12)}.upload"
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The file is larger than {limit // 1024 ** 2} MiB.")
                out.write(chunk)
        if size == 0:
            raise ValidationError("The file is empty.", field="file")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size
