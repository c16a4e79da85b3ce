"""click's own strings in Chinese ("Usage:", "Missing option", "Show this message and exit."...),
so that `ccal` help and errors are in one language.

click looks its strings up with `gettext.gettext` / `gettext.ngettext`, bound as `_` and
`ngettext` in each of its modules. `install()` binds those names, in click's modules only, to
a translation made from the catalogue below (a dict: no .mo file to find or build, nothing
read from disk; the process-wide gettext domain is left alone). A string not in the catalogue
stays English; type names used as metavars (file, path, integer) stay as click writes them,
because click pads help columns by characters, not display width; so the path messages leave
out click's English type word ({name}: "File", "Directory"). Placeholders ({name!r}, {message}...) are kept as click fills them.
"""

from __future__ import annotations

import gettext
import sys

CATALOGUE: dict[str, str] = {
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "(dynamic)": "（动态）",
    "Aborted!": "已中止！",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "Commands": "命令",
    "Confirm the action without prompting.": "不询问，直接确认。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "Do you want to continue?": "是否继续？",
    "Error: The two entered values do not match.": "错误：两次输入不一致。",
    "Error: invalid input": "错误：输入无效",
    "Error: {message}": "错误：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Missing argument": "缺少参数",
    "Missing command.": "缺少命令。",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing {param_type}": "缺少{param_type}",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带值。",
    "Options": "选项",
    "Positional arguments": "位置参数",
    "Press any key to continue...": "按任意键继续……",
    "Repeat for confirmation": "再输入一次以确认",
    "Show the version and exit.": "显示版本号后退出。",
    "Show this message and exit.": "显示本帮助后退出。",
    "Try '{command} {option}' for help.": "运行 '{command} {option}' 查看帮助。",
    "Usage:": "用法：",
    "default: {default}": "默认：{default}",
    "deprecated": "已弃用",
    "required": "必填",
    "env var: {var}": "环境变量：{var}",
    "unknown error": "未知错误",
    "{name} {filename!r} does not exist.": "{filename!r} 不存在。",
    "{name} {filename!r} is a directory.": "{filename!r} 是目录，这里需要文件。",
    "{name} {filename!r} is a file.": "{filename!r} 是文件，这里需要目录。",
    "{name} {filename!r} is not readable.": "{filename!r} 不可读。",
    "{name} {filename!r} is not writable.": "{filename!r} 不可写。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} 不是有效的布尔值，可用：{states}",
}

PLURALS: dict[str, str] = {
    "Did you mean {possibility}?": "您是否要输入 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（您是否要输入其中之一：{possibilities}？）",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 需要 {nargs} 个值。",
    "{value!r} is not {choice}.": "{value!r} 不是 {choice}。",
    "{value!r} is not one of {choices}.": "{value!r} 不是以下之一：{choices}。",
    "{value!r} does not match the format {format}.": "{value!r} 不符合格式 {format}。",
    "{value!r} does not match the formats {formats}.": "{value!r} 不符合以下任一格式：{formats}。",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个值，只给了 1 个。",
    "Takes {nargs} values but {len} were given.": "需要 {nargs} 个值，给了 {len} 个。",
}


class ChineseClick(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return CATALOGUE.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        chosen = singular if n == 1 else plural
        return PLURALS.get(chosen, chosen)


TRANSLATION = ChineseClick()
_CLICK_MODULES = ("click.core", "click.decorators", "click.exceptions", "click.formatting", "click.parser",
                  "click.types", "click.termui", "click.utils", "click.shell_completion")


def install() -> None:
    """Bind click's `_`/`ngettext` (where they are gettext's) to the Chinese catalogue."""
    for name in _CLICK_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        if getattr(module, "_", None) is gettext.gettext:
            module._ = TRANSLATION.gettext
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = TRANSLATION.ngettext
