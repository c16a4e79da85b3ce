from datetime import date

import pytest

from obligations.holiday_files import (
    HolidayFileError,
    YearData,
    install_holiday_file,
    load_year_files,
    read_holiday_file,
    write_year_file,
)

# An illustrative 2027 arrangement (not the official one): every statutory day, a longer
# Spring Festival, and two Saturdays worked.
TOML_2027 = """\
year = 2027
source = "示例：2027年部分节假日安排"
holidays = [
  { date = "2027-01-01..2027-01-03", name = "元旦" },
  { date = "2027-02-05..2027-02-12", name = "春节" },
  "2027-04-03..2027-04-05",
  2027-05-01,
  "2027-05-02..2027-05-05",
  { date = "2027-06-09", name = "端午节" },
  { date = "2027-09-15", name = "中秋节" },
  { date = "2027-10-01..2027-10-07", name = "国庆节" },
]
workdays = [
  { date = "2027-02-20", name = "春节" },
  "2027-10-09",
]
"""

CSV_2027_ROWS = [
    "2027-01-01,holiday,元旦",
    "2027-02-05..2027-02-08,休,春节",
    "2027-02-20,班,春节",
    "2027-04-05,holiday,清明节",
    "2027-05-01..2027-05-02,holiday,劳动节",
    "2027-06-09,holiday,端午节",
    "2027-09-15,holiday,中秋节",
    "2027-10-01..2027-10-03,HOLIDAY,国庆节",
]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_text(*rows, header="date,type,name"):
    return "\n".join([header, *rows]) + "\n"


def error_for(tmp_path, name, text) -> HolidayFileError:
    path = write(tmp_path, name, text)
    with pytest.raises(HolidayFileError) as info:
        read_holiday_file(path)
    assert str(path) in str(info.value)
    return info.value


# --- reading valid files ---------------------------------------------------------------------

def test_toml_year_with_ranges_names_and_native_dates(tmp_path):
    years = read_holiday_file(write(tmp_path, "2027.toml", TOML_2027))
    data = years[2027]
    assert list(years) == [2027]
    assert data.source == "示例：2027年部分节假日安排"
    assert data.holidays[date(2027, 2, 5)] == "春节"
    assert data.holidays[date(2027, 2, 12)] == "春节"
    assert date(2027, 2, 13) not in data.holidays
    assert data.holidays[date(2027, 5, 1)] == ""  # native TOML date, no name
    assert data.holidays[date(2027, 4, 3)] == ""
    assert len(data.holidays) == 3 + 8 + 3 + 5 + 1 + 1 + 7
    assert data.workdays == {date(2027, 2, 20): "春节", date(2027, 10, 9): ""}


def test_toml_with_several_years(tmp_path):
    body = TOML_2027.replace("year = 2027\n", "")
    text = "[[years]]\nyear = 2027\n" + body + "\n[[years]]\nyear = 2010\nholidays = [\"2010-01-01\"]\n"
    years = read_holiday_file(write(tmp_path, "many.toml", text))
    assert sorted(years) == [2010, 2027]
    assert years[2010].holidays == {date(2010, 1, 1): ""}
    assert years[2010].workdays == {}


def test_csv_accepts_english_and_chinese_types_bom_and_comments(tmp_path):
    text = "\ufeff# 2027 arrangement\n" + csv_text(*CSV_2027_ROWS[:2], "", "# a comment", *CSV_2027_ROWS[2:])
    data = read_holiday_file(write(tmp_path, "h.csv", text))[2027]
    assert data.holidays[date(2027, 2, 8)] == "春节"
    assert data.holidays[date(2027, 10, 2)] == "国庆节"
    assert data.workdays == {date(2027, 2, 20): "春节"}
    assert len(data.holidays) == 1 + 4 + 1 + 2 + 1 + 1 + 3


def test_csv_rows_for_several_years_give_several_years(tmp_path):
    text = csv_text(*CSV_2027_ROWS, "2010-01-01,holiday,元旦", header="date,type,name")
    years = read_holiday_file(write(tmp_path, "h.csv", text))
    assert sorted(years) == [2010, 2027]


# --- errors name file, line and field ------------------------------------------------------

def test_csv_bad_date_names_line_and_field(tmp_path):
    err = error_for(tmp_path, "h.csv", csv_text(*CSV_2027_ROWS[:3], "2027-02-30,holiday,春节", *CSV_2027_ROWS[3:]))
    assert (err.line, err.field) == (5, "date")
    assert "2027-02-30" in str(err) and ":5:" in str(err) and "没有这一天" in str(err)


def test_csv_unknown_type_names_line_and_field(tmp_path):
    err = error_for(tmp_path, "h.csv", csv_text(*CSV_2027_ROWS[:1], "2027-02-05,vacation,春节"))
    assert (err.line, err.field) == (3, "type")
    assert "vacation" in err.message


def test_csv_date_listed_as_both_names_both_lines(tmp_path):
    err = error_for(tmp_path, "h.csv", csv_text(*CSV_2027_ROWS, "2027-02-06,班,春节"))
    assert (err.line, err.field) == (10, "date")
    assert "同时列为节假日和调休上班日" in err.message and "第 3 行" in err.message


def test_csv_bad_header(tmp_path):
    err = error_for(tmp_path, "h.csv", csv_text(*CSV_2027_ROWS, header="day,kind,name"))
    assert (err.line, err.field) == (1, "header")


def test_csv_range_across_years_is_refused(tmp_path):
    err = error_for(tmp_path, "h.csv", csv_text("2026-12-31..2027-01-01,holiday,元旦"))
    assert (err.line, err.field) == (2, "date")


def test_csv_stray_row_for_another_year_is_refused_as_incomplete(tmp_path):
    # A typo puts one row into 2028, which would otherwise replace 2028's provisional rules.
    err = error_for(tmp_path, "h.csv", csv_text(*CSV_2027_ROWS, "2028-02-09,holiday,春节"))
    assert err.field == "holidays" and "2028" in err.message and "法定节假日" in err.message


def test_toml_bad_date_names_index_and_line(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace('"2027-06-09"', '"2027-06-31"'))
    assert err.field == "holidays[5].date"
    assert err.line == 9


def test_toml_date_outside_declared_year(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace('"2027-10-09"', '"2026-10-10"'))
    assert err.field == "workdays[1]" and err.line == 15
    assert "不在 2027 年内" in err.message


def test_toml_date_listed_as_both(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace('"2027-10-09"', '"2027-10-02"'))
    assert err.field == "workdays[1]" and err.line == 15
    assert "同时列为节假日和调休上班日" in err.message and "holidays[7].date" in err.message


def test_toml_weekday_cannot_be_an_adjusted_working_day(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace('"2027-10-09"', '"2027-10-11"'))
    assert err.field == "workdays[1]" and "只有星期六或星期日才能是调休上班日" in err.message


def test_toml_reversed_range(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace("2027-10-01..2027-10-07", "2027-10-07..2027-10-01"))
    assert err.field == "holidays[7].date" and err.line == 11


def test_toml_unknown_key(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027 + "holiday = []\n")
    assert err.field == "holiday" and err.line == 17


def test_toml_missing_year(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace("year = 2027\n", ""))
    assert err.field == "year"


def test_toml_missing_statutory_holiday(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace('{ date = "2027-09-15", name = "中秋节" },', ""))
    assert err.field == "holidays" and "2027-09-15" in err.message


def test_toml_syntax_error_gives_line(tmp_path):
    err = error_for(tmp_path, "2027.toml", TOML_2027.replace('"2027-10-09",', '"2027-10-09" "x",'))
    assert err.line == 15


def test_unsupported_extension(tmp_path):
    err = error_for(tmp_path, "2027.txt", TOML_2027)
    assert "不支持的文件类型" in err.message and ".toml" in err.message


# --- directory, normalised files, install --------------------------------------------------

def test_write_year_file_round_trips(tmp_path):
    data = read_holiday_file(write(tmp_path, "src.csv", csv_text(*CSV_2027_ROWS)))[2027]
    target = write_year_file(data, tmp_path / "holidays")
    assert target == tmp_path / "holidays" / "2027.toml"
    text = target.read_text(encoding="utf-8")
    assert '{ date = "2027-02-05..2027-02-08", name = "春节" }' in text
    again = read_holiday_file(target)[2027]
    assert again == data


def test_load_year_files_reads_toml_and_csv_and_ignores_other_files(tmp_path):
    write(tmp_path, "2027.toml", TOML_2027)
    write(tmp_path, "2010.csv", csv_text("2010-01-01,holiday,元旦"))
    write(tmp_path, "README.txt", "not data")
    years = load_year_files(tmp_path)
    assert sorted(years) == [2010, 2027]
    assert years[2027].file == tmp_path / "2027.toml"


def test_load_year_files_refuses_a_year_in_two_files(tmp_path):
    write(tmp_path, "a.toml", TOML_2027)
    write(tmp_path, "b.csv", csv_text(*CSV_2027_ROWS))
    with pytest.raises(HolidayFileError) as info:
        load_year_files(tmp_path)
    assert "2027" in str(info.value) and "a.toml" in str(info.value) and "b.csv" in str(info.value)


def test_load_year_files_of_missing_directory_is_empty(tmp_path):
    assert load_year_files(tmp_path / "none") == {}
    assert load_year_files(None) == {}


def test_install_validates_then_writes_normalised_year_files(tmp_path):
    src = write(tmp_path, "notice.csv", csv_text(*CSV_2027_ROWS, "2010-01-01,holiday,元旦"))
    holiday_dir = tmp_path / "etc" / "holidays"
    assert install_holiday_file(src, holiday_dir) == [2010, 2027]
    assert sorted(p.name for p in holiday_dir.iterdir()) == ["2010.toml", "2027.toml"]
    assert load_year_files(holiday_dir)[2027].workdays == {date(2027, 2, 20): "春节"}
    # Installing a new version of a year replaces it.
    assert install_holiday_file(write(tmp_path, "new.toml", TOML_2027), holiday_dir) == [2027]
    assert load_year_files(holiday_dir)[2027].source == "示例：2027年部分节假日安排"


def test_install_of_an_invalid_file_writes_nothing(tmp_path):
    src = write(tmp_path, "bad.csv", csv_text(*CSV_2027_ROWS, "2027-13-01,holiday,x"))
    holiday_dir = tmp_path / "holidays"
    with pytest.raises(HolidayFileError):
        install_holiday_file(src, holiday_dir)
    assert not holiday_dir.exists() or not any(holiday_dir.iterdir())


def test_install_refuses_when_another_file_holds_the_year(tmp_path):
    holiday_dir = tmp_path / "holidays"
    holiday_dir.mkdir()
    write(holiday_dir, "manual.csv", csv_text(*CSV_2027_ROWS))
    with pytest.raises(HolidayFileError) as info:
        install_holiday_file(write(tmp_path, "new.toml", TOML_2027), holiday_dir)
    assert "manual.csv" in str(info.value)
    assert not (holiday_dir / "2027.toml").exists()


def test_year_data_equality_ignores_the_file_it_came_from():
    a = YearData(2027, {date(2027, 1, 1): "元旦"}, {}, "", None)
    assert a == YearData(2027, {date(2027, 1, 1): "元旦"}, {}, "", file=None)


def test_documented_examples_are_valid_and_agree(tmp_path):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "holidays.md").read_text(encoding="utf-8")
    toml = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    csv = re.search(r"```csv\n(.*?)```", doc, re.S).group(1)
    from_toml = read_holiday_file(write(tmp_path, "2027.toml", toml))[2027]
    from_csv = read_holiday_file(write(tmp_path, "2027.csv", csv))[2027]
    assert (from_toml.holidays, from_toml.workdays) == (from_csv.holidays, from_csv.workdays)
    assert from_toml.workdays == {date(2027, 2, 20): "春节", date(2027, 10, 9): "国庆节"}


def test_a_gbk_csv_from_chinese_excel_is_read_as_gb18030_and_said_so(tmp_path):
    # Issue 10 (11): Excel's plain "CSV (逗号分隔)" on a Chinese Windows is GBK.
    path = tmp_path / "h.csv"
    path.write_bytes(csv_text(*CSV_2027_ROWS).encode("gbk"))
    data = read_holiday_file(path)[2027]
    assert data.encoding == "GB18030"
    assert "春节" in set(data.holidays.values())
    installed = install_holiday_file(path, tmp_path / "holidays")
    assert list(installed) == [2027] and installed.encoding == "GB18030"


def test_utf8_csv_with_and_without_bom_is_named(tmp_path):
    plain = write(tmp_path, "a.csv", csv_text(*CSV_2027_ROWS))
    bom = write(tmp_path, "b.csv", "\ufeff" + csv_text(*CSV_2027_ROWS))
    assert read_holiday_file(plain)[2027].encoding == "UTF-8"
    assert read_holiday_file(bom)[2027].encoding == "UTF-8（带 BOM）"


def test_a_csv_in_neither_encoding_is_refused_with_its_line(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(csv_text(*CSV_2027_ROWS[:2]).encode("utf-8") + b"\n2027-02-05,\xff\x80,x\n")
    err = error_for_path(path)
    assert err.line == 5 and "既不是 UTF-8 也不是 GB18030" in str(err)   # header, 2 rows, blank


def error_for_path(path):
    with pytest.raises(HolidayFileError) as exc:
        read_holiday_file(path)
    return exc.value
