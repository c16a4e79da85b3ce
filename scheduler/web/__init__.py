"""The web: secretaries answer their reminders through a personal link, the propaganda
department reviews what arrives (docs/web.md).

`scheduler.web.settings` and `scheduler.links` need no web framework (the planner uses them to
put links into messages); the Starlette application is built by `scheduler.web.app.create_app`.
"""
