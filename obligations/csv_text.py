"""Decoding CSV files as Chinese spreadsheets save them.

Excel's "CSV UTF-8" writes UTF-8 with a BOM; its plain "CSV (逗号分隔)" on a Chinese Windows
writes the ANSI code page, GBK. Every CSV ccal reads (organisation import, holiday files) is
decoded UTF-8 first (with or without BOM), then GB18030 (a superset of GBK and GB2312), and the
caller tells the user which was used. Pure: bytes in, text out.
"""

from __future__ import annotations

from dataclasses import dataclass

UTF8 = "UTF-8"
UTF8_BOM = "UTF-8（带 BOM）"
GB18030 = "GB18030"


@dataclass(frozen=True)
class DecodedCSV:
    text: str
    encoding: str      # UTF8, UTF8_BOM or GB18030: how the file was read, for the user


class CSVEncodingError(ValueError):
    """Neither UTF-8 nor GB18030; `line` is where UTF-8 decoding failed (1-based)."""

    def __init__(self, line: int):
        self.line = line
        super().__init__("既不是 UTF-8 也不是 GB18030（GBK）编码的文本，请在 Excel 中另存为“CSV UTF-8” "
                         "(neither UTF-8 nor GB18030 text)")


@dataclass(frozen=True)
class RowError:
    """A problem with one row (or the whole file, `line` None) of an imported CSV file, shown
    as `file:line: 字段 field：message` (organisation import, bulk submissions)."""
    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: 字段 {self.field}：{self.message}" if self.field else f"{where}: {self.message}"


def decode_csv(raw: bytes) -> DecodedCSV:
    """`raw` as text: UTF-8 (a leading BOM dropped), else GB18030."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return DecodedCSV(raw[3:].decode("utf-8"), UTF8_BOM)
        except UnicodeDecodeError as e:
            raise CSVEncodingError(raw[:e.start + 3].count(b"\n") + 1) from None
    try:
        return DecodedCSV(raw.decode("utf-8"), UTF8)
    except UnicodeDecodeError as e:
        utf8_error = e
    try:
        return DecodedCSV(raw.decode("gb18030"), GB18030)
    except UnicodeDecodeError:
        raise CSVEncodingError(raw[:utf8_error.start].count(b"\n") + 1) from None
