import hashlib
import os

import pytest

from scheduler.evidence import EvidenceError, evidence_path, store_evidence

MINUTES = "机电工程系党支部 2026年第二季度意识形态研判会议记录".encode("utf-8")
SHA = hashlib.sha256(MINUTES).hexdigest()


@pytest.fixture
def store(tmp_path):
    return tmp_path / "evidence"


@pytest.fixture
def minutes(tmp_path):
    path = tmp_path / "upload" / "会议记录.PDF"
    path.parent.mkdir()
    path.write_bytes(MINUTES)
    return path


def files_in(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_stores_a_copy_under_its_content_hash(store, minutes):
    stored = store_evidence(minutes, store)
    assert stored.sha256 == SHA
    assert stored.size == len(MINUTES)
    assert stored.original_name == "会议记录.PDF"
    assert stored.stored_path == f"{SHA[:2]}/{SHA}.pdf"
    assert (store / stored.stored_path).read_bytes() == MINUTES
    assert files_in(store) == [stored.stored_path]          # no temporary file left


def test_identical_content_is_stored_once_and_never_rewritten(store, minutes, tmp_path):
    first = store_evidence(minutes, store)
    inode = (store / first.stored_path).stat().st_ino
    copy = tmp_path / "copy.docx"                           # same bytes, other name and type
    copy.write_bytes(MINUTES)
    second = store_evidence(copy, store)
    assert second.stored_path == first.stored_path
    assert second.original_name == "copy.docx"
    assert (store / first.stored_path).stat().st_ino == inode
    assert files_in(store) == [first.stored_path]


def test_different_content_gets_its_own_file(store, minutes, tmp_path):
    other = tmp_path / "other.pdf"
    other.write_bytes(MINUTES + b"!")
    a, b = store_evidence(minutes, store), store_evidence(other, store)
    assert a.stored_path != b.stored_path
    assert (store / b.stored_path).read_bytes() == MINUTES + b"!"


@pytest.mark.parametrize("name, suffix", [("scan.JPG", ".jpg"), ("a.tar.gz", ".gz"),
                                          ("README", ""), ("x.<script>", ""), ("y.", "")])
def test_only_a_plain_extension_is_kept(store, tmp_path, name, suffix):
    src = tmp_path / name
    src.write_bytes(b"evidence")
    assert store_evidence(src, store).stored_path.endswith(hashlib.sha256(b"evidence").hexdigest() + suffix)


def test_missing_and_non_regular_sources_are_refused(store, tmp_path):
    with pytest.raises(EvidenceError, match=r"nope\.pdf：文件不存在"):
        store_evidence(tmp_path / "nope.pdf", store)
    with pytest.raises(EvidenceError, match="不是普通文件"):
        store_evidence(tmp_path, store)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(EvidenceError, match="pipe：不是普通文件"):
        store_evidence(fifo, store)


def test_a_symlinked_bucket_leading_out_of_the_store_is_refused(store, minutes, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    store.mkdir()
    (store / SHA[:2]).symlink_to(outside)
    with pytest.raises(EvidenceError, match="leads out of the evidence directory"):
        store_evidence(minutes, store)
    assert list(outside.iterdir()) == []
    assert [p.name for p in store.iterdir()] == [SHA[:2]]   # temporary file cleaned up


def test_a_planted_symlink_with_the_hash_name_is_refused(store, minutes, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(MINUTES)
    (store / SHA[:2]).mkdir(parents=True)
    (store / SHA[:2] / f"{SHA}.pdf").symlink_to(secret)
    with pytest.raises(EvidenceError, match="leads out of the evidence directory"):
        store_evidence(minutes, store)


def test_evidence_path_finds_stored_files_and_refuses_escapes(store, minutes, tmp_path):
    stored = store_evidence(minutes, store)
    assert evidence_path(stored.stored_path, store).read_bytes() == MINUTES
    (tmp_path / "secret.txt").write_text("x")
    for bad in ("../secret.txt", f"{SHA[:2]}/../../secret.txt", str(tmp_path / "secret.txt"), ""):
        with pytest.raises(EvidenceError):
            evidence_path(bad, store)
    with pytest.raises(EvidenceError, match="missing"):
        evidence_path(f"{SHA[:2]}/{'0' * 64}.pdf", store)
