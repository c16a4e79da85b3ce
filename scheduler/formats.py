"""The output formats every list command takes, in a module of its own: `ccal --help` needs
the names, not the renderers of scheduler.tables (csv, json and the rest load with a command)."""

FORMATS = ("table", "json", "csv")
