"""Evidence store: files attached to submissions, kept by content hash.

A file is stored as ``<evidence_dir>/ab/abcdef...<ext>`` (the first two hex digits of its
SHA-256 as a sub-directory). Stored files are never overwritten: identical content is stored
once and reused. Writes are atomic (temporary file, then link into place), and no path ever
leads out of the evidence directory (symlinked sub-directories and ".." are refused).

What may be attached (`check_source`): a regular file, named directly. Refused: a symlink,
anything that is not a regular file (directory, FIFO, device, socket), any file under /etc,
/proc, /sys or /dev, and ccal's own private files: the config file, the secret file, the
database (and its -wal/-shm/-journal files). The check is made on the opened file (O_NOFOLLOW,
then fstat; a hard link to a protected file is the same inode and refused too), so a file
swapped for a symlink between check and copy is refused as well. The store is created 0700 and
stored files are 0400 (owner only): evidence may hold names and phone numbers.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from collections.abc import Sequence
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


# Never attached, whatever the path that leads there: system configuration and kernel files.
FORBIDDEN_ROOTS = (Path("/etc"), Path("/proc"), Path("/sys"), Path("/dev"))


def protected_files(config) -> tuple[Path, ...]:
    """ccal's own private files for `config`: the config file, the secret file and the SQLite
    database with its side files (the ones that exist are compared by inode)."""
    paths: list[Path] = []
    if config.path is not None:
        paths.append(Path(config.path))
    secret = (config.notify or {}).get("secret_file") if isinstance(config.notify, dict) else None
    if isinstance(secret, str) and secret.strip():
        p = Path(secret.strip()).expanduser()
        if not p.is_absolute() and config.path is not None:
            p = Path(config.path).parent / p
        paths.append(p)
    db = sqlite_file(config.database.url)
    if db is not None:
        paths += [db] + [db.with_name(db.name + side) for side in ("-wal", "-shm", "-journal")]
    return tuple(paths)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: another database, or in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return None
    if db.startswith("file:"):
        db = db[5:].split("?", 1)[0]
    return Path(db)


def _open_source(src: Path, protected: Sequence[Path]) -> int:
    """An open descriptor on `src` once it passed the rules of the module docstring."""
    try:
        lst = os.lstat(src)
    except FileNotFoundError:
        raise EvidenceError(f"{src}：文件不存在") from None
    except OSError as e:
        raise EvidenceError(f"{src}：无法读取（{e.strerror}）") from None
    if stat.S_ISLNK(lst.st_mode):
        raise EvidenceError(f"{src}：是符号链接，请直接给出文件本身")
    if not stat.S_ISREG(lst.st_mode):
        raise EvidenceError(f"{src}：不是普通文件（目录、管道或设备不能作为佐证材料）")
    real = Path(os.path.realpath(src))
    for root in FORBIDDEN_ROOTS:
        if real.is_relative_to(root):
            raise EvidenceError(f"{src}：{root} 下的系统文件不能作为佐证材料")
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise EvidenceError(f"{src}：无法读取（{e.strerror}）") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (lst.st_dev, lst.st_ino):
            raise EvidenceError(f"{src}：文件在检查时被替换")
        for p in protected:
            try:
                pst = os.stat(p)
            except OSError:
                continue
            if (pst.st_dev, pst.st_ino) == (st.st_dev, st.st_ino):
                raise EvidenceError(f"{src}：是 ccal 自己的配置、密钥或数据库文件，不能作为佐证材料")
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def check_source(src: Path, protected: Sequence[Path] = ()) -> None:
    """Raise EvidenceError unless `src` may be attached (module docstring)."""
    os.close(_open_source(Path(src), protected))


def store_evidence(src: Path, evidence_dir: Path, *, protected: Sequence[Path] = ()) -> StoredFile:
    """Copy `src` into the store under its content hash; reuse the stored copy if identical
    content is already there. `protected`: files never attached (`protected_files(config)`)."""
    src = Path(src)
    src_fd = _open_source(src, protected)
    try:
        return _store(src, src_fd, evidence_dir)
    finally:
        os.close(src_fd)


def _store(src: Path, src_fd: int, evidence_dir: Path) -> StoredFile:
    root = Path(evidence_dir).expanduser()
    _private_dirs(root)
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
            with os.fdopen(fd, "wb") as out, os.fdopen(os.dup(src_fd), "rb") as inp:
                while chunk := inp.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o400)              # stored evidence is read-only, owner only
        except OSError as e:
            raise EvidenceError(f"{src}: cannot copy into the evidence store: {e.strerror}") from None
        sha = digest.hexdigest()
        bucket = _inside(root, root / sha[:2])
        if not bucket.exists():
            bucket.mkdir(mode=0o700, exist_ok=True)
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


def _private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents owner-only (0700)."""
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, 0o700)


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
