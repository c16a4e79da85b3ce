from collections import Counter

from sqlmodel import select

from scheduler.config import load_config
from scheduler.demo import load_demo
from scheduler.models import Person, RoleAssignment, Unit


def test_demo_college_has_the_shape_the_packs_need(session):
    result = load_demo(session)
    assert result.errors == []
    units = {u.code: u for u in session.exec(select(Unit))}
    assert 15 <= len(units) <= 25
    kinds = Counter(u.kind for u in units.values())
    assert kinds["committee"] == 1
    assert kinds["branch"] >= 3 and kinds["dept_branch"] >= 3 and kinds["office"] >= 5
    # the propaganda department is the configured default unit, and an office
    propaganda = units[load_config(None).organisation.propaganda_unit]
    assert (propaganda.name, propaganda.kind) == ("党委宣传部", "office")
    # 机关第一党支部 is made of several offices
    organ = next(u for u in units.values() if u.name == "机关第一党支部")
    members = [u for u in units.values() if u.parent_code == organ.code]
    assert len(members) >= 2 and all(u.kind == "office" for u in members)
    # every unit but the committee hangs under another one
    assert [u.code for u in units.values() if u.parent_code is None] == \
        [u.code for u in units.values() if u.kind == "committee"]


def test_every_demo_unit_has_a_reachable_secretary(session):
    load_demo(session)
    rows = session.exec(select(RoleAssignment.unit_code, Person)
                        .join(Person, Person.id == RoleAssignment.person_id)
                        .where(RoleAssignment.role == "secretary")).all()
    secretaries = dict(rows)
    assert set(secretaries) == set(session.exec(select(Unit.code)))
    for person in secretaries.values():
        assert person.email.endswith("@example.edu.cn")
        assert person.wecom_userid and len(person.mobile) == 11


def test_loading_the_demo_twice_changes_nothing(session):
    first = load_demo(session)
    counts = (len(session.exec(select(Unit)).all()), len(session.exec(select(Person)).all()),
              len(session.exec(select(RoleAssignment)).all()))
    second = load_demo(session)
    assert first.changed and not second.changed
    assert counts == (len(session.exec(select(Unit)).all()), len(session.exec(select(Person)).all()),
                      len(session.exec(select(RoleAssignment)).all()))
