"""Province-scale benchmark (issue 8 item 7).

Builds a deterministic province: N units (default 4,000) as colleges of 100 (a Party committee,
its propaganda department, 9 offices, 60 branches, 29 department branches), every bundled pack,
5 years (2022-2026, "now" = Monday 16 November 2026 08:00, before the sending window); 80% of the
past work done, 15% of that late. It is built through the project's own bulk paths (`ccal org
import` code, `ccal materialise`, `scheduler.bulk.submit_many`). Each figure is printed next to
its baseline measured in the same run; one line per target, `NAME: VALUE (target OP LIMIT)
ok|MISSED`, and last `targets met: N/M`.

Commands are timed as separate processes with /usr/bin/time (CPU = user + sys, peak RSS).
`--database-url postgresql+psycopg://...` runs the same on PostgreSQL (an empty database).

    python bench/scale.py                 # 4,000 units (takes minutes)
    python bench/scale.py --units 200     # a quick look while developing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 16, 8, 0)        # a Monday, before the 09:00 sending window
YEARS = (2022, 2023, 2024, 2025, 2026)
# `ccal` of this tree (run as a script, so a copy of the tree benchmarks its own code).
CCAL = [sys.executable, str(ROOT / "cli.py")]


def h(text: str) -> int:
    return zlib.crc32(text.encode()) % 1000


def org_csv(units: int) -> str:
    lines = ["code,name,kind,parent,secretary,email"]
    colleges = max(1, units // 100)
    for c in range(colleges):
        dw = f"C{c:02d}DW"
        lines.append(f"{dw},第{c + 1}学院党委,党委,,书记{c}DW,s{c}dw@example.edu.cn")
        lines.append(f"{'XCB' if c == 0 else f'C{c:02d}XCB'},第{c + 1}学院党委宣传部,处室,{dw},部长{c},s{c}xcb@example.edu.cn")
        kinds = ["处室"] * 9 + ["党支部"] * 60 + ["系党支部"] * 29
        for i, kind in enumerate(kinds[:min(100, units) - 2]):
            code = f"C{c:02d}U{i:02d}"
            lines.append(f"{code},第{c + 1}学院单位{i},{kind},{dw},书记{c}-{i},s{c}u{i}@example.edu.cn")
    return "\n".join(lines) + "\n"


def timed(args: list[str], env: dict, stdout=subprocess.DEVNULL) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MiB) of one process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        start = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", t.name, *args], env=env,
                           stdout=stdout, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if r.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(args)} failed: {r.stderr[-2000:]}")
        user, sys_, rss = t.read().split()[-3:]
    return wall, float(user) + float(sys_), int(rss) / 1024


def best(args, env, n=3):
    runs = [timed(args, env) for _ in range(n)]
    return min(r[1] for r in runs), max(r[2] for r in runs)


def submissions(app, years) -> int:
    """80% of the work due before NOW done, 15% of that late, through submit_many. Nothing is
    dated after NOW (late work that would be done after it is still open)."""
    from sqlmodel import Session, col, select

    from scheduler.bulk import SubmitRow, submit_many
    from scheduler.models import Occurrence

    with Session(app.engine) as s:
        occs = s.exec(select(Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period, Occurrence.due,
                             Occurrence.required)
                      .where(col(Occurrence.due) < NOW.date(),
                             col(Occurrence.due) >= date(min(years), 1, 1), col(Occurrence.due) <= date(max(years), 12, 31),
                             Occurrence.done == 0)).all()
    rows = []
    for unit, key, period, due, required in occs:
        x = h(f"{unit}|{key}|{period}")
        if x >= 800:
            continue
        late = x < 120
        ats = [datetime.combine(due + timedelta(days=1 + x % 20) if late else due - timedelta(days=n + x % 5),
                                datetime.min.time()).replace(hour=10) for n in range(required)]
        if max(ats) >= NOW:    # late work that would be done after "now": not done yet
            continue
        rows += [SubmitRow(len(rows) + 2 + n, key, unit, period, at) for n, at in enumerate(ats)]
    result = submit_many(app, rows)
    return result.recorded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=4000)
    ap.add_argument("--database-url", default=None, help="default: a SQLite file in the work directory")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="ccal-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{work}/ccal.db"
    from obligations.packs import bundled_pack_dir
    packs = sorted(p.stem for p in bundled_pack_dir().glob("*.toml"))
    cfg = work / "ccal.toml"
    cfg.write_text(f'[general]\ndata_dir = "{work}/data"\n[database]\nurl = "{url}"\n'
                   f'[packs]\nenabled = {json.dumps(packs)}\n[service]\nchannels = ["email"]\n', encoding="utf-8")
    (work / "org.csv").write_text(org_csv(args.units), encoding="utf-8")
    env = {**os.environ, "CCAL_CONFIG": str(cfg)}
    env.pop("CCAL_DATABASE_URL", None)
    print(f"work directory {work}; database {url.split('@')[-1]}; packs {', '.join(packs)}")

    from scheduler.app import open_app
    from scheduler.org import import_org
    from scheduler.submissions import record_event
    from scheduler.tracking import materialise_years

    t0 = time.perf_counter()
    app = open_app(cfg)
    with app.session() as s:
        org = import_org(s, work / "org.csv", now=NOW)
    materialise_years(app, [2026])
    n = submissions(app, [2026])
    print(f"built 2026: {org.rows} units, {n} submissions ({time.perf_counter() - t0:.0f} s)")

    unit = "C00U20"
    q_up = [*CCAL, "upcoming", "--days", "30", "--as-of", NOW.date().isoformat(), "--format", "json"]
    q_st = [*CCAL, "status", unit, "--as-of", NOW.date().isoformat(), "--format", "json"]
    up1, _ = best(q_up, env)
    st1, _ = best(q_st, env)

    mat_wall, mat_cpu, mat_rss = timed([*CCAL, "materialise", *map(str, YEARS)], env)
    t0 = time.perf_counter()
    n = submissions(app, YEARS[:-1])
    print(f"built 2022-2025: {n} submissions ({time.perf_counter() - t0:.0f} s)")
    from sqlmodel import Session, func, select
    from scheduler.models import Occurrence
    with Session(app.engine) as s:
        total = s.exec(select(func.count()).select_from(Occurrence)).one()
    print(f"occurrences stored: {total}")

    up5, _ = best(q_up, env)
    st5, _ = best(q_st, env)

    q_over = [*CCAL, "overdue", "--as-of", NOW.date().isoformat(), "--format", "json"]
    over_cpu, over_rss = best(q_over, env)
    bare = work / "bare.py"
    bare.write_text(f'''import json, sqlmodel
from sqlalchemy import text
e = sqlmodel.create_engine({url!r})
with e.connect() as c:
    rows = c.execute(text("SELECT o.unit_code, u.name, o.obligation_key, o.period, o.opens, o.due, o.provisional, o.done, o.required FROM occurrence o JOIN unit u ON u.code = o.unit_code WHERE o.is_open AND o.due < :d ORDER BY o.due, o.unit_code, o.obligation_key, o.period"), {{"d": "{NOW.date().isoformat()}"}}).all()
print(json.dumps([[str(v) for v in r] for r in rows], ensure_ascii=False))
''')
    bare_cpu, _ = best([sys.executable, str(bare)], env)

    help_cpu, _ = best([*CCAL, "--help"], env, 5)
    pass_cpu, _ = best([sys.executable, "-c", "pass"], env, 5)

    t0 = time.perf_counter()
    record_event(app, "jincheng-2020.meeting", "XCB", date(2026, 12, 10), period="2026-Q4")
    anchor = time.perf_counter() - t0

    tick_wall, tick_cpu, tick_rss = timed([*CCAL, "tick", "--now", NOW.isoformat()], env)
    idle_cpu, _ = best([*CCAL, "tick", "--now", (NOW + timedelta(minutes=5)).isoformat()], env, 2)
    start_cpu, _ = best([sys.executable, "-c", "import cli, scheduler.service, scheduler.app"], {**env, "PYTHONPATH": str(ROOT)})

    print(f"\nbaselines: python -c pass {pass_cpu:.3f} s; bare SELECT of the overdue rows {bare_cpu:.2f} s; "
          f"start-up (imports of tick) {start_cpu:.2f} s")
    print(f"upcoming --days 30: {up1:.2f} s with 1 year, {up5:.2f} s with 5; status {unit}: {st1:.2f} s / {st5:.2f} s")
    print(f"first tick {tick_cpu:.1f} s CPU ({tick_wall:.1f} s wall), idle tick {idle_cpu:.2f} s CPU\n")
    targets = [
        ("help_vs_python", help_cpu / pass_cpu, "<=", 6, "x"),
        ("overdue_vs_bare_select", over_cpu / bare_cpu, "<=", 3, "x"),
        ("overdue_peak_mib", over_rss, "<", 300, ""),
        ("upcoming_5y_vs_1y", up5 / up1, "<=", 1.2, "x"),
        ("status_5y_vs_1y", st5 / st1, "<=", 1.2, "x"),
        ("idle_tick_work_s", max(idle_cpu - start_cpu, 0), "<", 2, ""),
        ("first_tick_s", tick_cpu, "<", 30, ""),
        ("first_tick_peak_mib", tick_rss, "<", 400, ""),
        ("materialise_5y_s", mat_cpu, "<", 15, ""),
        ("materialise_peak_mib", mat_rss, "<", 400, ""),
        ("anchor_meeting_s", anchor, "<", 1, ""),
    ]
    met = 0
    for name, value, op, limit, unit_ in targets:
        ok = value <= limit if op == "<=" else value < limit
        met += ok
        print(f"{name}: {value:.2f}{unit_} (target {op} {limit}{unit_}) {'ok' if ok else 'MISSED'}")
    print(f"targets met: {met}/{len(targets)}")
    app.engine.dispose()


if __name__ == "__main__":
    main()
