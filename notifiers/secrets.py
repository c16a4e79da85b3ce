"""Channel secrets: where they come from and how they are kept out of text.

An SMTP password, a robot webhook key or an application secret comes from an
environment variable, or from a separate secret file named in config
(`[notify] secret_file`), never from the main config file itself: the config is
shared, copied and committed, the secret file is not. Every error string a
channel produces goes through a `Scrubber` so a secret (or an access token
fetched with it) never reaches a log, an exception text or `Delivery.error`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

MASK = "***"

# Fields that would hold a secret literally; config must name a variable instead.
LITERAL_SECRET_FIELDS = {
    "password": "password_env",
    "passwd": "password_env",
    "key": "key_env",
    "webhook_key": "key_env",
    "secret": "secret_env",
    "corp_secret": "secret_env",
    "corpsecret": "secret_env",
    "access_token": "secret_env",
    "token": "secret_env",
}

# Query parameters that carry credentials in WeCom URLs (and the odd proxy error page).
_CREDENTIAL_PARAM = re.compile(
    r"(?i)\b(key|access_token|corpsecret|secret|password|token)=([^&\s\"'<>\]\)]+)"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Shorter secrets are only masked as whole words, so "HTTP 500" survives a password "5".
_SUBSTRING_MIN = 6


class SecretError(ValueError):
    """A secret is missing, or sits where it must not. Never carries the value."""

    def __init__(self, file: Path | str | None, field: str, message: str, line: int | None = None):
        self.file = str(file) if file is not None else "<config>"
        self.field = field
        self.line = line
        self.message = message
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {field}: {message}")


class Secret:
    """A secret string that does not print itself."""

    __slots__ = ("name", "_value")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name!r})"

    __str__ = __repr__


class Scrubber:
    """Masks known secret values and credential query parameters in text."""

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        self._values: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: Secret | str | None) -> None:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            self._values.add(value)

    def scrub(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if len(value) >= _SUBSTRING_MIN:
                text = text.replace(value, MASK)
            else:
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", MASK, text)
        return _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)


def load_secret_file(path: Path) -> dict[str, str]:
    """Read a secret file: TOML (`*.toml`, top-level string values) or `KEY=value`
    lines (`#` comments, optional `export ` and quotes). Errors name file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SecretError(path, "secret_file", f"无法读取密钥文件（{exc.strerror}）") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SecretError(path, "secret_file", "不是 UTF-8 文本（请将文件另存为 UTF-8 编码）") from None
    if path.suffix.lower() == ".toml":
        return _parse_toml_secrets(path, text)
    return _parse_env_secrets(path, text)


def _parse_toml_secrets(path: Path, text: str) -> dict[str, str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message carries line/column, not the offending value.
        raise SecretError(path, "secret_file", f"TOML 语法错误：{exc}") from None
    values: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(value, str):
            raise SecretError(path, name, "应为字符串（写在文件顶层，格式为 `NAME = \"value\"`）")
        values[name] = value
    return values


def _parse_env_secrets(path: Path, text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export "):].lstrip()
        name, sep, value = stripped.partition("=")
        name = name.strip()
        if not sep or not _ENV_NAME.match(name):
            raise SecretError(path, "secret_file", "应为 NAME=value 格式", line=lineno)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values


class SecretStore:
    """Looks secrets up by variable name: the environment first, then the secret file."""

    def __init__(
        self,
        environ: Mapping[str, str],
        file_values: Mapping[str, str] | None = None,
        file_path: Path | None = None,
    ) -> None:
        self._environ = environ
        self._file_values = dict(file_values or {})
        self._file_path = file_path

    def get(self, var: str, *, field: str, config_path: Path | str | None) -> Secret:
        value = self._environ.get(var) or self._file_values.get(var)
        if not value:
            where = f"环境变量和密钥文件 {self._file_path} 中都没有设置" if self._file_path else (
                "环境变量中没有设置（也可以用 [notify] secret_file 指定密钥文件）")
            raise SecretError(config_path, field, f"密钥 {var} 在{where}")
        return Secret(var, value)


def check_no_literal_secrets(table: Mapping, table_name: str, config_path: Path | str | None) -> None:
    """Refuse `password = "..."` and the like in the main config; the value is never echoed."""
    for field, replacement in LITERAL_SECRET_FIELDS.items():
        if field in table:
            raise SecretError(
                config_path,
                f"[{table_name}] {field}",
                f"密钥不能写在配置文件里；请设置 {replacement} = \"VARIABLE\"，"
                "并把密钥值放在该环境变量或 [notify] secret_file 指定的密钥文件中",
            )
