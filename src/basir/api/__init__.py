"""The REST API (FastAPI): `basir.api.app.create_app(engine, settings)` builds one app.

Importing this package has no side effect; routes are declared in `api.routes` and bound to
an app only by `create_app`.
"""
