"""Splitting content under WeCom's UTF-8 byte limits."""

from notifiers.wecom import split_numbered, split_utf8, utf8_len


def test_short_content_is_one_part():
    assert split_utf8("第一行\n第二行", 4096) == ["第一行\n第二行"]


def test_parts_respect_the_byte_limit_and_break_between_lines():
    lines = [f"{i:02d} 意识形态工作专题会议" for i in range(40)]  # 3 + 8*3 = 27 bytes each
    parts = split_utf8("\n".join(lines), 100)
    assert all(utf8_len(p) <= 100 for p in parts)
    assert "\n".join(parts).split("\n") == lines
    assert [line for p in parts for line in p.split("\n")] == lines


def test_a_line_longer_than_the_limit_is_broken_between_characters_not_inside_one():
    line = "研" * 50  # 150 bytes
    parts = split_utf8(f"开头\n{line}\n结尾", 40)
    assert all(utf8_len(p) <= 40 for p in parts)
    assert "".join(parts).replace("\n", "") == f"开头{line}结尾"


def test_numbered_parts_carry_a_marker_and_still_fit():
    content = "\n".join("> 经济管理系党支部：半年书面汇报" for _ in range(100))
    parts = split_numbered(content, 300)
    n = len(parts)
    assert n > 1
    for k, part in enumerate(parts, start=1):
        assert utf8_len(part) <= 300
        assert part.endswith(f"（第 {k}/{n} 部分）")


def test_numbered_single_part_has_no_marker():
    assert split_numbered("短消息", 300) == ["短消息"]
