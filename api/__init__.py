"""The core: settings, database and extensions, auth (JWT, roles, WeChat login), accounts, errors, audit
log, working days, spreadsheets. It imports no feature package; the app factory is onecode.create_app()."""
