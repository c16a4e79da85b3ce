"""Uploaded evidence: what is accepted, and how it reaches the evidence store.

Accepted: PDF, Word (doc/docx), Excel (xls/xlsx), JPEG and PNG. A file is accepted only when
its extension, its declared content type (when the browser sends a specific one) and its first
bytes agree. Uploads are spooled under names of the program's own (``upload-<n>.<ext>``): the
uploaded file name is recorded in the database as the original name and never reaches the file
system. The evidence store keeps them by content hash (scheduler/evidence.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# extension -> (content types a browser may declare, magic prefixes, canonical content type)
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"
TYPES: dict[str, tuple[frozenset[str], tuple[bytes, ...], str]] = {
    "pdf": (frozenset({"application/pdf", "application/x-pdf"}), (b"%PDF-",), "application/pdf"),
    "doc": (frozenset({"application/msword"}), (OLE,), "application/msword"),
    "docx": (frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}), (ZIP,),
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xls": (frozenset({"application/vnd.ms-excel", "application/msexcel"}), (OLE,), "application/vnd.ms-excel"),
    "xlsx": (frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}), (ZIP,),
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "jpg": (frozenset({"image/jpeg", "image/pjpeg"}), (b"\xff\xd8\xff",), "image/jpeg"),
    "jpeg": (frozenset({"image/jpeg", "image/pjpeg"}), (b"\xff\xd8\xff",), "image/jpeg"),
    "png": (frozenset({"image/png"}), (b"\x89PNG\r\n\x1a\n",), "image/png"),
}
# Declared types that say nothing (the browser did not know): the magic bytes decide.
VAGUE = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/zip",
                   "application/x-zip-compressed", "application/x-ole-storage", "application/cdfv2"})
INLINE = frozenset({"pdf", "jpg", "jpeg", "png"})    # shown in the browser; the rest downloaded
ACCEPT = ",".join(f".{e}" for e in TYPES)
KINDS_TEXT = "PDF、Word（doc/docx）、Excel（xls/xlsx）、JPG/PNG 图片"


class UploadRefused(ValueError):
    """An uploaded file that is not accepted; the message (Chinese) names the file."""


@dataclass(frozen=True)
class Accepted:
    name: str         # the uploaded name, cleaned (recorded only)
    ext: str
    path: Path        # the spooled copy, named by the program


def clean_name(filename: str | None) -> str:
    """The uploaded name as it may be shown: last path component, no control characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    return name.strip()[:200] or "未命名文件"


def extension(name: str) -> str:
    m = re.search(r"\.([A-Za-z0-9]{1,5})$", name)
    return m.group(1).lower() if m else ""


def check(name: str, content_type: str | None, head: bytes) -> str:
    """The extension of an acceptable file; UploadRefused otherwise."""
    ext = extension(name)
    if ext not in TYPES:
        raise UploadRefused(f"文件“{name}”的类型不受支持；只接受 {KINDS_TEXT}")
    declared, magics, _ = TYPES[ext]
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in VAGUE and ctype not in declared:
        raise UploadRefused(f"文件“{name}”的内容类型（{ctype}）与扩展名 .{ext} 不符")
    if not any(head.startswith(m) for m in magics):
        raise UploadRefused(f"文件“{name}”的内容不是有效的 .{ext} 文件（文件头不符）")
    return ext


def content_type(ext: str) -> str:
    return TYPES[ext][2] if ext in TYPES else "application/octet-stream"


async def spool(files, directory: Path) -> tuple[list[Path], list[str]]:
    """Check and copy uploaded files (Starlette UploadFile) into `directory` under the program's
    own names; (paths, cleaned original names). Raises UploadRefused on the first bad file."""
    paths, names = [], []
    for i, f in enumerate(files):
        name = clean_name(f.filename)
        head = await f.read(16)
        ext = check(name, f.content_type, head)
        path = directory / f"upload-{i}.{ext}"      # the program's name, never the user's
        with path.open("wb") as out:
            out.write(head)
            while chunk := await f.read(1 << 20):
                out.write(chunk)
        paths.append(path)
        names.append(name)
    return paths, names


def uploaded(form) -> list:
    """The non-empty file parts of a parsed form's `files` field."""
    return [f for f in form.getlist("files") if hasattr(f, "read") and (f.filename or f.size)]
