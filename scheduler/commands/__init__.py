"""The `ccal` commands, one module per concept; `cli.COMMANDS` says which command lives where.

These modules import only click, `cli` and `scheduler.tables` at load; each command imports
the database and network libraries it uses inside its function. `cli` itself loads neither
the command modules nor `scheduler.tables` (`ccal --help` stays fast).
"""
