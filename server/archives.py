"""Uploaded archives checked before anything unpacks them (zip bombs, escaping paths).

No Flask here: the jobs API calls :func:`check_archive` on every uploaded zip, and
``server.errors`` maps :class:`ArchiveRefused` to a 400 problem.
"""
from __future__ import annotations

import zipfile

MIB = 1 << 20


class ArchiveRefused(Exception):
    """An uploaded archive refused before it is opened (too big unpacked, too many files)."""
    status = 400


def check_archive(path, limits: dict) -> None:
    """Refuse a zip bomb before any reader unpacks it: the members' declared sizes
    (Python's zipfile stops at them, and checks the CRC) against ``[limits]``."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise ArchiveRefused(f"'{path.name}' is not a readable zip archive") from None
    if len(members) > limits["max_zip_members"]:
        raise ArchiveRefused(f"'{path.name}' holds {len(members)} files, more than "
                             f"limits.max_zip_members = {limits['max_zip_members']}")
    total = sum(m.file_size for m in members)
    if total > limits["max_unzipped_mib"] * MIB:
        raise ArchiveRefused(f"'{path.name}' unpacks to {total // MIB} MiB, more than "
                             f"limits.max_unzipped_mib = {limits['max_unzipped_mib']}; "
                             "import it from a server path with the CLI")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > MIB and ratio > limits["max_zip_ratio"]:
            raise ArchiveRefused(f"'{member.filename}' in '{path.name}' is compressed "
                                 f"{ratio:.0f}:1 (limit {limits['max_zip_ratio']}:1): "
                                 "refused as a zip bomb")
        name = member.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/"):
            raise ArchiveRefused(f"'{member.filename}' in '{path.name}' points outside "
                                 "the archive")
