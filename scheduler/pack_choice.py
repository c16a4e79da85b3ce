"""Which rule packs a college runs: chosen, never assumed.

A real college runs its own rules, not three other colleges'. The choice is `[packs] enabled`
in the config file; `ccal init --packs NAME` writes it there. When the config makes no choice:
- `ccal init --demo` runs the demo on every bundled pack;
- a database that already tracks obligations (the demo, or one created before the choice
  existed) keeps the bundled packs it tracks (has occurrences of);
- otherwise no pack is enabled, and the commands that need rules say how to choose.
Packs in `[packs] extra_dirs` are always loaded: listing a directory is a choice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.config import Config

NO_PACK_MESSAGE = ("未启用任何规则包：请用 ccal init --packs 规则包名 选择本校执行的规则包"
                   "（或在配置文件 [packs] enabled 中设置）；ccal packs list 列出可选的规则包")


def existing_engine(config: "Config"):
    """The configured database opened as every command but `init` opens it (read-only when it
    cannot be written), or None when it is missing or has no schema."""
    from scheduler.db import DatabaseError, open_db

    try:
        return open_db(config, create=False)
    except DatabaseError:
        return None


def tracked_packs(config: "Config", engine=None) -> tuple[str, ...]:
    """Bundled packs with at least one occurrence in the configured database (none when the
    database is missing or has no schema: then nothing is tracked). `engine`: the database
    already opened by `existing_engine` (left open); else it is opened and closed here."""
    from sqlalchemy import text

    from obligations.packs import bundled_pack_names, load_packs

    own = engine is None
    if own:
        engine = existing_engine(config)
        if engine is None:
            return ()
    try:
        with engine.connect() as conn:
            keys = {k for (k,) in conn.execute(text("SELECT DISTINCT obligation_key FROM occurrence"))}
    finally:
        if own:
            engine.dispose()
    if not keys:
        return ()
    names = bundled_pack_names()
    return tuple(p.name for p in load_packs(names) if any(ob.key in keys for ob in p.obligations))


def with_packs(config: "Config", enabled: tuple[str, ...]) -> "Config":
    return dataclasses.replace(config, packs=dataclasses.replace(config.packs, enabled=tuple(enabled)))


def user_config_path() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(xdg).expanduser() / "ccal" / "ccal.toml"


def record_choice(config: "Config", names: tuple[str, ...]) -> Path:
    """Write `[packs] enabled = [...]` into the config file in use (the user config file
    ~/.config/ccal/ccal.toml when none is). A different choice already written there is
    refused: it is changed by editing the file, not overwritten."""
    line = f"enabled = {json.dumps(list(names), ensure_ascii=False)}"
    if config.packs.chosen:
        if tuple(config.packs.enabled) == tuple(names):
            return config.path
        raise config.error("packs.enabled", f"已选择规则包 {', '.join(config.packs.enabled)}；"
                           "如需更改请编辑配置文件中的 [packs] enabled")
    path = config.path or user_config_path()
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    header = re.search(r"(?m)^\[packs\][ \t]*(#.*)?$", text)
    if header:
        at = header.end()
        text = text[:at] + "\n" + line + text[at:]
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") \
            + f"[packs]\n{line}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
