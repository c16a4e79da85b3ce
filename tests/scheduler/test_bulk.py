"""Bulk submissions (issue 8 item 4): `submit_many` and `ccal submit --from-csv FILE`: the same
validation as one submit, every bad row reported with its line, the good rows kept."""

from datetime import date, datetime

from click.testing import CliRunner
from sqlmodel import Session, func, select

from cli import main
from scheduler.bulk import SubmitRow, submit_many
from scheduler.materialise import materialise
from scheduler.models import Occurrence, Submission
from scheduler.queries import overdue

CSV = """事项编号,单位代码,期间,完成时间,备注
tpack.report,LTX,2026-H1,2026-06-10,按时
tpack.report,JDX,2026-H1,2026-06-20 15:30,晚了
tpack.report,NOPE,2026-H1,2026-06-10,
tpack.report,LTX,2026-Q7,2026-06-10,
tpack.study,LTX,2026,昨天,
tpack.festival,LTX,2026,2026-02-01,
tpack.study,LTX,2026,2026-03-01,第一次
"""


def test_a_csv_in_gb18030_records_the_good_rows_and_names_every_bad_line(tracking_app, tmp_path):
    app = tracking_app
    materialise(app, [2026])
    path = tmp_path / "records.csv"
    path.write_bytes(CSV.encode("gb18030"))          # what Chinese Excel saves as "CSV"
    result = CliRunner().invoke(main, ["--config", str(app.config.path), "submit", "--from-csv", str(path)])
    assert result.exit_code == 1
    assert "已登记 3 条（其中逾期完成 1 条）" in result.output
    for line, field in ((4, "unit"), (5, "period"), (6, "at"), (7, "key")):
        assert f"{path}:{line}: 字段 {field}" in result.output, result.output
    with Session(app.engine) as s:
        rows = s.exec(select(Occurrence.unit_code, Occurrence.obligation_key, Occurrence.done, Occurrence.is_open)
                      .where(Occurrence.done > 0)).all()
        late = s.exec(select(Submission.late).join(Occurrence, Occurrence.id == Submission.occurrence_id)
                      .where(Occurrence.unit_code == "JDX")).one()
    assert sorted(rows) == [("JDX", "tpack.report", 1, False), ("LTX", "tpack.report", 1, False),
                            ("LTX", "tpack.study", 1, True)]
    assert late is True
    assert not [r for r in overdue(app, date(2026, 6, 25)) if r["obligation"] == "tpack.report"
                and r["unit"] in ("LTX", "JDX")]


def test_submit_many_in_batches_materialises_missing_occurrences_once(tracking_app):
    app = tracking_app
    rows = [SubmitRow(i + 2, "tpack.study", unit, "2026", datetime(2026, 3, 1 + i, 9, 0))
            for i, unit in enumerate(["LTX", "JDX", "LTX", "LTX"])]
    result = submit_many(app, rows)
    assert (result.recorded, result.errors) == (4, [])
    with Session(app.engine) as s:
        ltx = s.exec(select(Occurrence).where(Occurrence.unit_code == "LTX",
                                              Occurrence.obligation_key == "tpack.study")).one()
        assert (ltx.done, ltx.completed_at, ltx.is_open) == (3, datetime(2026, 3, 4, 9, 0), False)
        assert s.exec(select(func.count()).select_from(Submission)).one() == 4
