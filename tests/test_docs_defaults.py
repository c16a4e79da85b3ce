"""The season and semester defaults have one source, obligations/schedules.py: docs/packs.md,
config.example.toml and a config that sets nothing agree with it (issue 7: the docs said
08-20..09-30 / 06-01..08-31 / 05-15..07-15 while the code used other dates)."""

import re
import tomllib
from pathlib import Path

from obligations.schedules import DEFAULT_SEASONS, Context, SemesterDefaults

ROOT = Path(__file__).resolve().parents[1]


def test_docs_packs_states_the_code_s_season_and_semester_defaults():
    text = re.sub(r"\s+", " ", (ROOT / "docs" / "packs.md").read_text(encoding="utf-8"))
    documented = {m[0]: (m[1], m[2], m[3]) for m in
                  re.findall(r"`([a-z]+)` (\S+) (\d\d-\d\d)\.\.(\d\d-\d\d)", text)}
    assert documented == {s.key: (s.name, s.start, s.end) for s in DEFAULT_SEASONS}
    d = SemesterDefaults()
    assert f"autumn {d.autumn_start} to {d.autumn_end} of the next year" in text
    assert f"spring {d.spring_start} to {d.spring_end}" in text


def test_the_example_config_repeats_the_code_s_defaults():
    config = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    assert {k: (v["name"], v["start"], v["end"]) for k, v in config["seasons"].items()} == {
        s.key: (s.name, s.start, s.end) for s in DEFAULT_SEASONS}
    d = SemesterDefaults()
    assert {k: config["semesters"][k] for k in ("autumn_start", "autumn_end", "spring_start", "spring_end")} == {
        "autumn_start": d.autumn_start, "autumn_end": d.autumn_end,
        "spring_start": d.spring_start, "spring_end": d.spring_end}


def test_a_config_that_sets_nothing_uses_the_code_s_defaults(tmp_config):
    assert tmp_config.schedule_context() == Context()
