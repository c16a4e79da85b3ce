"""`[web]` settings and the web secret.

The secret signs session cookies and derives the personal-link tokens. It comes from the
environment variable CCAL_WEB_SECRET, else from the secret file (`[web] secret_file`, else
`[notify] secret_file`, variable CCAL_WEB_SECRET in it), else from `<data_dir>/web.secret`,
which is created with a random value (mode 600) on first use. Never from the TOML itself.
"""

from __future__ import annotations

import os
import secrets as _secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from notifiers.secrets import SecretError, load_secret_file

if TYPE_CHECKING:
    from scheduler.config import Config

SECRET_ENV = "CCAL_WEB_SECRET"
KNOWN = ("listen", "base_url", "link_days", "max_upload_mb", "stale_after_minutes", "secret_file",
         "metrics_token_env")


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = "http://127.0.0.1:8080"
    link_days: int = 365
    max_upload_mb: int = 20
    stale_after_minutes: int = 30
    secret_file: Path | None = None
    metrics_token_env: str = "CCAL_METRICS_TOKEN"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def web_settings(config: "Config") -> WebSettings:
    """[web] of the config; errors name file, line and field."""
    raw: Mapping = config.web or {}
    for key in raw:
        if key not in KNOWN:
            raise config.error(f"web.{key}", f"未知设置（可用：{'、'.join(KNOWN)}）")
        if key in ("secret", "token", "password"):
            raise config.error(f"web.{key}", "密钥不能写在配置文件里（请用环境变量或密钥文件）")
    listen = raw.get("listen", "127.0.0.1:8080")
    if not isinstance(listen, str) or ":" not in listen:
        raise config.error("web.listen", f'应为 "HOST:PORT" 格式，实际为 {listen!r}')
    host, _, port_text = listen.rpartition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise config.error("web.listen", f"端口无效：{listen!r}")
    host = host.strip("[]") or "127.0.0.1"
    base = raw.get("base_url") or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port_text}"
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise config.error("web.base_url", f"应为 http(s) 网址，实际为 {base!r}")
    ints = {}
    for name, default, low in (("link_days", 365, 1), ("max_upload_mb", 20, 1),
                               ("stale_after_minutes", 30, 1)):
        value = raw.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise config.error(f"web.{name}", f"应为不小于 {low} 的整数，实际为 {value!r}")
        ints[name] = value
    secret_file = raw.get("secret_file") or (config.notify or {}).get("secret_file")
    if secret_file is not None:
        secret_file = Path(secret_file).expanduser()
        if not secret_file.is_absolute() and config.path is not None:
            secret_file = config.path.parent / secret_file
    return WebSettings(host=host, port=int(port_text), base_url=base.rstrip("/"),
                       secret_file=secret_file,
                       metrics_token_env=str(raw.get("metrics_token_env", "CCAL_METRICS_TOKEN")),
                       **ints)


def web_secret(config: "Config", environ: Mapping[str, str] | None = None) -> bytes:
    """The web secret (see the module docstring)."""
    env = os.environ if environ is None else environ
    value = env.get(SECRET_ENV)
    if value:
        return value.encode()
    settings = web_settings(config)
    if settings.secret_file is not None and settings.secret_file.exists():
        values = load_secret_file(settings.secret_file)
        if values.get(SECRET_ENV):
            return values[SECRET_ENV].encode()
    path = config.general.data_dir / "web.secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = _secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:          # another process made it meanwhile
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as f:
        f.write(fresh + "\n")
    return fresh.encode()


__all__ = ["SECRET_ENV", "SecretError", "WebSettings", "web_secret", "web_settings"]
