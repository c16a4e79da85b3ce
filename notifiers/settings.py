"""Channels from the `[notify]` table of the config file (and templates from `[templates]`).

```toml
[notify]
secret_file = "/etc/ccal/secrets.env"   # optional; TOML (*.toml) or KEY=value lines

[notify.email]
host = "smtp.example.edu.cn"
port = 587                              # default by security: 587 / 465 / 25
security = "starttls"                   # "starttls" | "tls" | "none"
username = "ccal@example.edu.cn"        # optional; login only when set
password_env = "CCAL_SMTP_PASSWORD"     # the variable holding the password (default shown)
from_addr = "ccal@example.edu.cn"
from_name = "党委宣传部"
reply_to = "xcb@example.edu.cn"         # optional; replies go to the propaganda office
concurrency = 4                         # connections per batch
timeout = 30                            # seconds
cafile = "/etc/ssl/campus-ca.pem"       # optional extra CA for an internal server

[notify.wecom_robot]
key_env = "CCAL_WECOM_ROBOT_KEY"        # the variable holding the webhook key
per_minute = 20

[notify.wecom_app]
corp_id = "ww0123456789abcdef"
agent_id = 1000002
secret_env = "CCAL_WECOM_APP_SECRET"

[notify.local]
dir = "outbox"                          # default <data_dir>/outbox

[templates]
dir = "templates"                       # optional; overrides bundled templates file by file
```

Routes returned by `build_channels`: `email`, `wecom_robot`, `wecom_app` for what is
configured. When none of email / WeCom is configured the local outbox stands in:
`email` writes `.eml` files, both WeCom routes write `.md` files, into one directory.
"""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import Callable, Mapping
from datetime import datetime
from email.headerregistry import Address
from pathlib import Path

import jinja2

from notifiers.base import EMAIL, WECOM_APP, WECOM_ROBOT, Channel
from notifiers.email import DEFAULT_PORTS, SECURITY_CHOICES, EmailChannel
from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import make_environment
from notifiers.secrets import SecretError, SecretStore, check_no_literal_secrets, load_secret_file
from notifiers.wecom import DEFAULT_BASE_URL
from notifiers.wecom_app import WeComAppChannel
from notifiers.wecom_robot import WeComRobotChannel

log = logging.getLogger(__name__)

NOTIFY_KEYS = frozenset({"email", "wecom_robot", "wecom_app", "local", "secret_file"})
TABLE_KEYS = {
    "email": frozenset({"host", "port", "security", "username", "password_env", "from_addr", "from_name",
                        "reply_to", "concurrency", "timeout", "cafile", "validate_certs",
                        "local_hostname"}),
    "wecom_robot": frozenset({"base_url", "key_env", "per_minute", "max_wait", "timeout", "trust_env"}),
    "wecom_app": frozenset({"base_url", "corp_id", "secret_env", "agent_id", "timeout", "token_margin",
                            "duplicate_check_interval", "trust_env"}),
    "local": frozenset({"dir", "from_addr", "from_name", "reply_to"}),
}
DEFAULT_SECRET_VARS = {"email": "CCAL_SMTP_PASSWORD", "wecom_robot": "CCAL_WECOM_ROBOT_KEY",
                       "wecom_app": "CCAL_WECOM_APP_SECRET"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CREDENTIAL_IN_URL = re.compile(r"(?i)(key|access_token|corpsecret|secret)=")


class NotifyConfigError(ValueError):
    """A bad `[notify]` setting; names the file and the field, never a secret value.
    `dotted` ("notify.email.port") is the form `scheduler.config.Config.error()` takes
    to add the line number."""

    def __init__(self, file: Path | str | None, field: str, message: str, line: int | None = None):
        self.file = str(file) if file is not None else "<config>"
        self.field = field
        self.line = line
        self.message = message
        table = re.fullmatch(r"\[([^\]]+)\]\s*(\S*)", field)
        self.dotted = ".".join(p for p in table.groups() if p) if table else field
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {field}: {message}")


class _Table:
    """Typed reads from one `[notify.X]` table, with errors naming file and field."""

    def __init__(self, name: str, raw: object, config_path: Path | None) -> None:
        self.name = name
        self.config_path = config_path
        if not isinstance(raw, Mapping):
            raise self.error("", "应为表")
        self.raw = raw
        unknown = sorted(set(raw) - TABLE_KEYS[name])
        if unknown:
            raise self.error(unknown[0], f"未知设置（可用：{'、'.join(sorted(TABLE_KEYS[name]))}）")

    def error(self, field: str, message: str) -> NotifyConfigError:
        label = f"[notify.{self.name}] {field}".rstrip()
        return NotifyConfigError(self.config_path, label, message)

    def text(self, field: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw.get(field, default)
        if value is None:
            if required:
                raise self.error(field, "必须填写")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "应为非空字符串")
        return value.strip()

    def integer(self, field: str, default: int | None, *, low: int, high: int, required: bool = False) -> int | None:
        value = self.raw.get(field, default)
        if value is None:
            if required:
                raise self.error(field, "必须填写")
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, "应为整数")
        if not low <= value <= high:
            raise self.error(field, f"应在 {low} 到 {high} 之间")
        return value

    def number(self, field: str, default: float, *, low: float = 0.0, strict: bool = True) -> float:
        value = self.raw.get(field, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(field, "应为数字")
        if value < low or (strict and value == low):
            raise self.error(field, f"应{'大于' if strict else '不小于'} {low:g}")
        return float(value)

    def flag(self, field: str, default: bool) -> bool:
        value = self.raw.get(field, default)
        if not isinstance(value, bool):
            raise self.error(field, "应为 true 或 false")
        return value

    def env_name(self, field: str) -> str:
        name = self.text(field, DEFAULT_SECRET_VARS[self.name])
        if not _ENV_NAME.match(name):
            raise self.error(field, "应为环境变量名（只能用英文字母、数字和 _）")
        return name

    def base_url(self) -> str:
        url = self.text("base_url", DEFAULT_BASE_URL)
        if not url.startswith(("http://", "https://")):
            raise self.error("base_url", "应以 http:// 或 https:// 开头")
        if "?" in url or _CREDENTIAL_IN_URL.search(url):
            # Someone pasted the whole webhook URL: the key would sit in the config.
            raise self.error("base_url", "只填接口根地址（例如 https://qyapi.weixin.qq.com）；"
                                         "webhook 密钥请放在 key_env 指定的环境变量中")
        return url.rstrip("/")

    def path(self, field: str, default: Path | None = None) -> Path | None:
        value = self.text(field)
        if value is None:
            return default
        return _resolve(Path(value).expanduser(), self.config_path)


def _resolve(path: Path, config_path: Path | None) -> Path:
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    return path


def _secret_store(notify: Mapping, config_path: Path | None, environ: Mapping[str, str]) -> SecretStore:
    raw = notify.get("secret_file")
    if raw is None:
        return SecretStore(environ)
    if not isinstance(raw, str) or not raw.strip():
        raise NotifyConfigError(config_path, "[notify] secret_file", "应为文件路径")
    path = _resolve(Path(raw.strip()).expanduser(), config_path)
    if config_path is not None and path.resolve() == Path(config_path).resolve():
        raise NotifyConfigError(config_path, "[notify] secret_file", "应为单独的文件，不能是配置文件本身")
    try:
        values = load_secret_file(path)
    except SecretError as exc:
        if exc.line is None and exc.field == "secret_file":
            # The file as a whole (missing, unreadable): the config line that names it.
            raise NotifyConfigError(config_path, "[notify] secret_file", f"{path}: {exc.message}") from None
        raise NotifyConfigError(exc.file, exc.field, exc.message, exc.line) from None
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("secret file %s is readable by other users; chmod 600 it", path)
    except OSError:
        pass
    return SecretStore(environ, values, path)


LineOf = Callable[[str], "int | None"]


def _located(exc: NotifyConfigError, config_path: Path | None,
             line_of: LineOf | None) -> NotifyConfigError:
    """`exc` with the line of its field in the config file (`Config.line_of`), when the error
    is about the config file (not the secret file, which names its own lines)."""
    if exc.line is not None or line_of is None or config_path is None or exc.file != str(config_path):
        return exc
    line = line_of(exc.dotted)
    return exc if line is None else NotifyConfigError(exc.file, exc.field, exc.message, line)


def build_channels(notify: Mapping, *, config_path: Path | None, data_dir: Path,
                   environ: Mapping[str, str], line_of: LineOf | None = None,
                   clock: Callable[[], datetime] | None = None) -> dict[str, Channel]:
    """Channel instances by route name from the raw `[notify]` mapping. `line_of(dotted)`
    (`scheduler.config.Config.line_of`) puts the line of a bad setting into the error;
    `clock` (returning an aware datetime) is the service's clock, used for Date headers and
    the local outbox's file names, so a replay or `serve --now` writes the time it runs at."""
    try:
        return _build_channels(notify, config_path=config_path, data_dir=data_dir,
                               environ=environ, clock=clock)
    except NotifyConfigError as exc:
        raise _located(exc, config_path, line_of) from None


def _build_channels(notify: Mapping, *, config_path: Path | None, data_dir: Path,
                    environ: Mapping[str, str],
                    clock: Callable[[], datetime] | None) -> dict[str, Channel]:
    if not isinstance(notify, Mapping):
        raise NotifyConfigError(config_path, "[notify]", "应为表")
    unknown = sorted(set(notify) - NOTIFY_KEYS)
    if unknown:
        raise NotifyConfigError(config_path, f"[notify] {unknown[0]}",
                                f"未知设置（可用：{'、'.join(sorted(NOTIFY_KEYS))}）")
    try:
        for name in ("email", "wecom_robot", "wecom_app"):
            if isinstance(notify.get(name), Mapping):
                check_no_literal_secrets(notify[name], f"notify.{name}", config_path)
        store = _secret_store(notify, config_path, environ)
        channels: dict[str, Channel] = {}
        if "email" in notify:
            channels[EMAIL] = _email(_Table("email", notify["email"], config_path), store, clock)
        if "wecom_robot" in notify:
            channels[WECOM_ROBOT] = _robot(_Table("wecom_robot", notify["wecom_robot"], config_path), store)
        if "wecom_app" in notify:
            channels[WECOM_APP] = _app(_Table("wecom_app", notify["wecom_app"], config_path), store)
    except SecretError as exc:
        raise NotifyConfigError(exc.file, exc.field, exc.message, exc.line) from None
    local = _Table("local", notify.get("local", {}), config_path)
    if not channels:
        directory = local.path("dir", Path(data_dir) / "outbox")
        from_addr = _address(local, "from_addr", "ccal@localhost")
        from_name = local.text("from_name", "党委宣传部")
        reply_to = _address(local, "reply_to", optional=True)
        timing = {"clock": clock} if clock is not None else {}
        wecom_outbox = LocalOutbox(directory, kind="wecom", **timing)
        channels = {
            EMAIL: LocalOutbox(directory, kind="email", from_addr=from_addr, from_name=from_name,
                               reply_to=reply_to, **timing),
            WECOM_ROBOT: wecom_outbox,
            WECOM_APP: wecom_outbox,
        }
    return channels


def _address(t: _Table, field: str, default: str | None = None, *, optional: bool = False) -> str | None:
    value = t.text(field, default, required=default is None and not optional)
    if value is None:
        return None
    try:
        parsed = Address(addr_spec=value)
    except (ValueError, IndexError):
        parsed = None
    if parsed is None or not parsed.domain or not parsed.username:
        raise t.error(field, "应为电子邮件地址，例如 name@example.edu.cn")
    return value


def _email(t: _Table, store: SecretStore, clock: Callable[[], datetime] | None) -> EmailChannel:
    security = t.text("security", "starttls")
    if security not in SECURITY_CHOICES:
        raise t.error("security", f"应为以下之一：{'、'.join(repr(s) for s in SECURITY_CHOICES)}")
    username = t.text("username")
    password = None
    if username is not None:
        password = store.get(t.env_name("password_env"), field="[notify.email] password_env",
                             config_path=t.config_path)
    elif "password_env" in t.raw:
        raise t.error("password_env", "需要同时填写 username（只有设置了 username 才会登录）")
    cafile = t.path("cafile")
    if cafile is not None and not cafile.is_file():
        raise t.error("cafile", f"找不到文件：{cafile}")
    return EmailChannel(
        host=t.text("host", required=True),
        port=t.integer("port", DEFAULT_PORTS[security], low=1, high=65535),
        security=security,
        username=username,
        password=password,
        from_addr=_address(t, "from_addr"),
        from_name=t.text("from_name", "党委宣传部"),
        concurrency=t.integer("concurrency", 4, low=1, high=32),
        timeout=t.number("timeout", 30.0),
        cafile=cafile,
        validate_certs=t.flag("validate_certs", True),
        local_hostname=t.text("local_hostname"),
        reply_to=_address(t, "reply_to", optional=True),
        **({"clock": clock} if clock is not None else {}),
    )


def _robot(t: _Table, store: SecretStore) -> WeComRobotChannel:
    key = store.get(t.env_name("key_env"), field="[notify.wecom_robot] key_env", config_path=t.config_path)
    return WeComRobotChannel(
        key=key,
        base_url=t.base_url(),
        # WeCom allows 20 messages a minute per robot; more would only earn 45009s.
        per_minute=t.integer("per_minute", 20, low=1, high=20),
        # Longer waits would stall a pass: past this the robot says "retry later" with the wait,
        # and the service pauses the channel until a slot is free (docs/service.md, Faults).
        max_wait=t.number("max_wait", 5.0, strict=False),
        timeout=t.number("timeout", 10.0),
        trust_env=t.flag("trust_env", True),
    )


def _app(t: _Table, store: SecretStore) -> WeComAppChannel:
    secret = store.get(t.env_name("secret_env"), field="[notify.wecom_app] secret_env",
                       config_path=t.config_path)
    return WeComAppChannel(
        corp_id=t.text("corp_id", required=True),
        secret=secret,
        agent_id=t.integer("agent_id", None, low=0, high=2**31 - 1, required=True),
        base_url=t.base_url(),
        timeout=t.number("timeout", 10.0),
        token_margin=t.number("token_margin", 300.0, strict=False),
        # WeCom accepts a duplicate check interval of at most 4 hours; 0 turns it off.
        duplicate_check_interval=t.integer("duplicate_check_interval", 1800, low=0, high=14400) or None,
        trust_env=t.flag("trust_env", True),
    )


def template_environment(templates: Mapping | None, *, config_path: Path | None,
                         line_of: LineOf | None = None) -> jinja2.Environment:
    """The Jinja2 environment from the raw `[templates]` table: files in `dir` first,
    the bundled templates second, so a user overrides one file without copying all."""
    try:
        return _template_environment(templates, config_path=config_path)
    except NotifyConfigError as exc:
        raise _located(exc, config_path, line_of) from None


def _template_environment(templates: Mapping | None, *, config_path: Path | None) -> jinja2.Environment:
    templates = templates or {}
    if not isinstance(templates, Mapping):
        raise NotifyConfigError(config_path, "[templates]", "应为表")
    unknown = sorted(set(templates) - {"dir"})
    if unknown:
        raise NotifyConfigError(config_path, f"[templates] {unknown[0]}", "未知设置（可用：dir）")
    raw = templates.get("dir")
    if raw is None:
        return make_environment(None)
    if not isinstance(raw, str) or not raw.strip():
        raise NotifyConfigError(config_path, "[templates] dir", "应为目录路径")
    path = _resolve(Path(raw.strip()).expanduser(), config_path)
    if not path.is_dir():
        raise NotifyConfigError(config_path, "[templates] dir", f"找不到目录：{path}")
    return make_environment(path)
