"""Evidence store: files attached to submissions, kept by content hash.

A file is stored as ``<evidence_dir>/ab/abcdef...<ext>`` (the first two hex digits of its
SHA-256 as a sub-directory). Stored files are never overwritten: identical content is stored
once and reused. Writes are atomic (temporary file, then link into place), and no path ever
leads out of the evidence directory (symlinked sub-directories and ".." are refused).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20
_EXT = re.compile(r"\.[a-z0-9]{1,10}")


class EvidenceError(ValueError):
    """An evidence file cannot be stored or found; the message names the file."""


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    stored_path: str          # relative to the evidence directory, "/"-separated
    original_name: str


def store_evidence(src: Path, evidence_dir: Path) -> StoredFile:
    """Copy `src` into the store under its content hash; reuse the stored copy if identical
    content is already there."""
    src = Path(src)
    try:
        st = src.stat()
    except FileNotFoundError:
        raise EvidenceError(f"{src}: file not found") from None
    except OSError as e:
        raise EvidenceError(f"{src}: cannot read: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise EvidenceError(f"{src}: not a regular file")

    root = Path(evidence_dir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    ext = src.suffix.lower() if _EXT.fullmatch(src.suffix.lower()) else ""

    # Hash while copying into a temporary file inside the store (same file system, so the
    # final link is atomic); the bucket is only known once the hash is.
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=root)
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
                while chunk := inp.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o440)              # stored evidence is read-only
        except OSError as e:
            raise EvidenceError(f"{src}: cannot copy into the evidence store: {e.strerror}") from None
        sha = digest.hexdigest()
        bucket = _inside(root, root / sha[:2])
        bucket.mkdir(exist_ok=True)
        bucket = _inside(root, bucket)        # refuse a bucket that is a symlink out of the store

        existing = _existing_copy(bucket, sha)
        if existing is not None:
            existing = _inside(root, existing)  # a planted symlink must not lead out
        else:
            dest = _inside(root, bucket / f"{sha}{ext}")
            try:
                os.link(tmp, dest)            # fails if the name exists: never overwrites
                existing = dest
            except FileExistsError:
                existing = dest
            except OSError:
                # File systems without hard links: rename is still atomic; check first.
                if dest.exists():
                    existing = dest
                else:
                    os.replace(tmp, dest)
                    existing = dest
        if existing.stat().st_size != size:
            raise EvidenceError(f"{existing}: stored copy has the wrong size (damaged store?)")
        return StoredFile(sha256=sha, size=size,
                          stored_path=existing.relative_to(root).as_posix(),
                          original_name=src.name)
    finally:
        tmp.unlink(missing_ok=True)


def _existing_copy(bucket: Path, sha: str) -> Path | None:
    """A stored file with this hash (any extension): identical content is stored once."""
    for p in sorted(bucket.glob(f"{sha}*")):
        if p.name == sha or (p.name.startswith(sha + ".") and _EXT.fullmatch(p.name[len(sha):])):
            return p
    return None


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise EvidenceError(f"{path}: leads out of the evidence directory {root}")
    return resolved


def evidence_path(stored_path: str, evidence_dir: Path) -> Path:
    """The file for a stored path (as recorded in the database), refusing any path that leads
    out of the evidence directory."""
    rel = PurePosixPath(stored_path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise EvidenceError(f"{stored_path}: not a path inside the evidence directory")
    root = Path(evidence_dir).expanduser().resolve()
    path = _inside(root, root.joinpath(*rel.parts))
    if not path.is_file():
        raise EvidenceError(f"{stored_path}: evidence file missing from {root}")
    return path
