"""Entry point for gunicorn and `flask --app wsgi`."""

from onecode import create_app

app = create_app()
