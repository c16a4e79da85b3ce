"""tests/seeds.py: the seed-reading tests skip on a fresh clone without ../shared, and fail in
CI (CI=true) when the seeds are missing (issue 7)."""

import pytest

from tests.seeds import require_seeds_dir


def test_missing_seeds_skip_outside_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("CCAL_SEEDS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="seed documents not found"):
        require_seeds_dir()


def test_missing_seeds_fail_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("CCAL_SEEDS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires them"):
        require_seeds_dir()


def test_present_seeds_are_found(monkeypatch, tmp_path):
    (tmp_path / "000_x.txt").write_text("原文", encoding="utf-8")
    monkeypatch.setenv("CCAL_SEEDS_DIR", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert require_seeds_dir() == tmp_path
