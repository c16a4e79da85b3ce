import datetime as dt

import pytest
from sqlmodel import select

from scheduler.models import Person, RoleAssignment, Unit
from scheduler.org import OrgImportError, import_org

HEADER = "code,name,kind,parent,secretary,email,wecom_userid,mobile\n"
NOW = dt.datetime(2026, 3, 1, 9, 0)

GOOD = HEADER + """\
DW,院党委,党委,,王建国,wangjianguo@example.edu.cn,WangJianGuo,13800001001
JG1,机关第一党支部,branch,DW,郑晓东,zhengxiaodong@example.edu.cn,ZhengXiaoDong,13800001011
DZB,党政办公室,处室,JG1,郑晓东,zhengxiaodong@example.edu.cn,ZhengXiaoDong,13800001011
XCB,党委宣传部,OFFICE,JG1,李文静,liwenjing@example.edu.cn,,
JDX,机电工程系党支部,系党支部,DW,杨志强,,YangZhiQiang,+86 138-0000-1051
"""


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "org.csv", encoding: str = "utf-8"):
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path
    return write


def units(session):
    return {u.code: (u.name, u.kind, u.parent_code) for u in session.exec(select(Unit))}


def holders(session, role="secretary"):
    rows = session.exec(select(RoleAssignment.unit_code, Person.name)
                        .join(Person, Person.id == RoleAssignment.person_id)
                        .where(RoleAssignment.role == role)).all()
    return dict(rows)


def errors_of(session, path, **kw):
    with pytest.raises(OrgImportError) as e:
        import_org(session, path, **kw)
    return [str(x) for x in e.value.errors]


def test_imports_units_kinds_parents_secretaries_and_contacts(session, write):
    result = import_org(session, write(GOOD), now=NOW)
    assert (result.rows, result.units_created, result.people_created, result.roles_added) == (5, 5, 4, 5)
    assert units(session) == {
        "DW": ("院党委", "committee", None),
        "JG1": ("机关第一党支部", "branch", "DW"),
        "DZB": ("党政办公室", "office", "JG1"),
        "XCB": ("党委宣传部", "office", "JG1"),
        "JDX": ("机电工程系党支部", "dept_branch", "DW"),
    }
    assert holders(session) == {"DW": "王建国", "JG1": "郑晓东", "DZB": "郑晓东",
                                "XCB": "李文静", "JDX": "杨志强"}
    zheng = session.exec(select(Person).where(Person.name == "郑晓东")).one()  # one person, two units
    assert (zheng.email, zheng.wecom_userid, zheng.mobile) == \
        ("zhengxiaodong@example.edu.cn", "ZhengXiaoDong", "13800001011")
    yang = session.exec(select(Person).where(Person.name == "杨志强")).one()
    assert (yang.email, yang.mobile, yang.key) == (None, "13800001051", "wecom:YangZhiQiang")
    assert session.get(Unit, "DW").created_at == NOW


def test_reimporting_the_same_file_changes_nothing(session, write):
    path = write(GOOD)
    import_org(session, path)
    again = import_org(session, path)
    assert not again.changed
    assert again.rows == 5
    assert len(session.exec(select(Person)).all()) == 4
    assert len(session.exec(select(RoleAssignment)).all()) == 5


def test_row_order_does_not_matter(session, write):
    lines = GOOD.splitlines()
    import_org(session, write("\n".join([lines[0]] + lines[:0:-1]) + "\n"))   # children first
    assert units(session)["DZB"] == ("党政办公室", "office", "JG1")


def test_parent_may_already_be_in_the_database(session, write):
    import_org(session, write(GOOD))
    import_org(session, write(HEADER + "JWC,教务处,处室,JG1,褚振华,chuzhenhua@example.edu.cn,,\n", "more.csv"))
    assert units(session)["JWC"] == ("教务处", "office", "JG1")


def test_changes_update_in_place_and_a_new_secretary_replaces_the_old(session, write):
    import_org(session, write(GOOD))
    changed = GOOD.replace("XCB,党委宣传部,OFFICE,JG1,李文静,liwenjing@example.edu.cn,,",
                           "XCB,宣传部,OFFICE,DW,孙明,sunming@example.edu.cn,SunMing,")
    result = import_org(session, write(changed, "v2.csv"))
    assert (result.units_created, result.units_updated) == (0, 1)
    assert (result.people_created, result.roles_added, result.roles_removed) == (1, 1, 1)
    assert units(session)["XCB"] == ("宣传部", "office", "DW")
    assert holders(session)["XCB"] == "孙明"
    # the person record stays (history of who held what is not ours to erase)
    assert session.exec(select(Person).where(Person.name == "李文静")).one()


def test_blank_contact_keeps_the_stored_one_and_a_new_one_updates(session, write):
    import_org(session, write(GOOD))
    v2 = HEADER + "DW,院党委,党委,,王建国,wangjianguo@example.edu.cn,,13900001001\n"
    result = import_org(session, write(v2, "v2.csv"))
    wang = session.exec(select(Person).where(Person.name == "王建国")).one()
    assert (wang.wecom_userid, wang.mobile) == ("WangJianGuo", "13900001001")
    assert result.people_updated == 1


def test_all_bad_rows_are_reported_and_nothing_is_imported(session, write):
    path = write(HEADER + """\
DW,院党委,党委,,王建国,wangjianguo@example.edu.cn,,
KS1,保卫科,科室,DW,赵六,zhaoliu@example.edu.cn,,

JG 2,,branch,DW,钱七,qianqi-at-example.edu.cn,钱七,12345
XSC,学生处,office,NOPE,,,,13800001022
""")
    assert errors_of(session, path) == [
        f'{path}:3: 字段 kind：未知单位类型 "科室"（可用：committee/党委, branch/党支部, '
        'dept_branch/系党支部, office/处室）',
        f"{path}:5: 字段 code：单位代码应为 1-32 个字母、数字或 _ - .，给出的是 \"JG 2\"",
        f'{path}:5: 字段 email：不是邮箱地址："qianqi-at-example.edu.cn"',
        f'{path}:5: 字段 mobile：不是大陆手机号（11 位数字）："12345"',
        f"{path}:5: 字段 name：单位名称为空",
        f'{path}:5: 字段 wecom_userid：不是企业微信账号（字母、数字或 _ - . @，最多 64 个）："钱七"',
        f"{path}:6: 字段 mobile：填了联系方式，但 secretary 为空",
    ]
    assert units(session) == {}
    assert session.exec(select(Person)).all() == []


def test_partial_imports_the_good_rows_and_reports_the_rest(session, write):
    path = write(HEADER + """\
DW,院党委,党委,,王建国,wangjianguo@example.edu.cn,,
JG1,机关第一党支部,支部,DW,郑晓东,,,
DZB,党政办公室,处室,JG1,郑晓东,,,
XCB,党委宣传部,处室,DW,李文静,liwenjing@example.edu.cn,,
""")
    result = import_org(session, path, partial=True)
    assert [str(e) for e in result.errors] == [
        f'{path}:3: 字段 kind：未知单位类型 "支部"（可用：committee/党委, branch/党支部, '
        'dept_branch/系党支部, office/处室）',
        f"{path}:4: 字段 parent：上级单位 JG1 未导入（第 3 行有误）",
    ]
    assert set(units(session)) == {"DW", "XCB"}
    assert result.units_created == 2
    assert "2 行有误未导入" in result.summary()


def test_duplicate_codes_and_parent_loops_are_errors(session, write):
    path = write(HEADER + """\
A,甲支部,branch,B,,,,
B,乙支部,branch,A,,,,
C,丙处,office,C,,,,
A,甲支部重复,branch,,,,,
""")
    assert errors_of(session, path) == [
        f"{path}:2: 字段 parent：上级关系成环：A → B → A",
        f"{path}:3: 字段 parent：上级关系成环：B → A → B",
        f"{path}:4: 字段 parent：上级关系成环：C → C",
        f"{path}:5: 字段 code：单位 A 已在第 2 行",
    ]


def test_one_person_described_two_ways_is_an_error(session, write):
    path = write(HEADER + """\
DW,院党委,党委,,王建国,wang@example.edu.cn,WangJG,
XCB,宣传部,处室,DW,王建华,wang@example.edu.cn,WangJH,
""")
    assert errors_of(session, path) == [
        f'{path}:3: 字段 secretary："王建华" 与第 2 行同一人员（wang@example.edu.cn）的 "王建国" 不一致',
        f'{path}:3: 字段 wecom_userid："WangJH" 与第 2 行同一人员（wang@example.edu.cn）的 "WangJG" 不一致',
    ]


def test_extra_role_columns_with_their_own_contacts(session, write):
    path = write("code,name,kind,parent,secretary,email,head,head_email,head_mobile\n"
                 "JDX,机电工程系党支部,dept_branch,,杨志强,yzq@example.edu.cn,朱建平,zjp@example.edu.cn,13800001052\n")
    import_org(session, path)
    assert holders(session, "head") == {"JDX": "朱建平"}
    zhu = session.exec(select(Person).where(Person.name == "朱建平")).one()
    assert (zhu.email, zhu.mobile) == ("zjp@example.edu.cn", "13800001052")


def test_minimal_columns_are_enough(session, write):
    import_org(session, write("name,code,kind\n院党委,DW,committee\n"))
    assert units(session) == {"DW": ("院党委", "committee", None)}


def test_header_problems_are_reported_together(session, write):
    path = write("code,name,parent,secretary,备注,head_email\nDW,院党委,,,,\n")
    assert errors_of(session, path) == [
        f"{path}:1: 字段 备注：未知列（可用的列：code, name, kind, parent, secretary, email, "
        "wecom_userid, mobile, head, head_email, head_wecom_userid, head_mobile, supervisor, "
        "supervisor_email, supervisor_wecom_userid, supervisor_mobile, propaganda, propaganda_email, "
        "propaganda_wecom_userid, propaganda_mobile）",
        f"{path}:1: 字段 kind：缺少必填列",
        f"{path}:1: 字段 head_email：有联系方式列但没有 head 列",
    ]


def test_utf8_with_bom_is_read(session, write):
    import_org(session, write(GOOD, encoding="utf-8-sig"))
    assert units(session)["DW"][0] == "院党委"


def test_a_gbk_file_from_chinese_excel_is_read_and_the_encoding_named(session, write):
    # Deliberate change (issue 10, item 11): Chinese Excel's plain "CSV (逗号分隔)" is GBK; it
    # used to be refused as "not UTF-8 text", it is now decoded as GB18030 and said so.
    result = import_org(session, write(GOOD, encoding="gbk"))
    assert units(session)["DW"][0] == "院党委"
    assert result.encoding == "GB18030" and "（文件编码 GB18030）" in result.summary()


def test_utf8_is_named_with_or_without_bom(session, write, tmp_path):
    assert import_org(session, write(GOOD)).encoding == "UTF-8"
    assert import_org(session, write(GOOD, "bom.csv", encoding="utf-8-sig")).encoding == "UTF-8（带 BOM）"


def test_neither_utf8_nor_gb18030_is_refused_with_a_hint(session, write, tmp_path):
    path = tmp_path / "org.csv"
    path.write_bytes(GOOD.encode("utf-8") + b"XX,\xff\xfe,\x80\n")
    [msg] = errors_of(session, path)
    assert msg.startswith(f"{path}:{GOOD.count(chr(10)) + 1}: 既不是 UTF-8 也不是 GB18030")
    assert "CSV UTF-8" in msg


def test_wrong_number_of_fields_and_quoted_newlines_keep_line_numbers(session, write):
    path = write(HEADER + 'DW,"院党委\n（党委）",党委,,,,,\nXCB,宣传部,处室,DW\n')
    assert errors_of(session, path) == [f"{path}:4: 应有 8 列，实有 4 列"]


def test_missing_and_empty_files(session, write, tmp_path):
    assert errors_of(session, tmp_path / "none.csv") == [f"{tmp_path / 'none.csv'}: 文件不存在"]
    empty = write("\n\n", "empty.csv")
    assert errors_of(session, empty) == [f"{empty}: 文件为空（没有表头行）"]
