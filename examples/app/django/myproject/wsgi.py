"""WSGI entry point: gunicorn myproject.wsgi:application (sync, gthread)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings.prod")

application = get_wsgi_application()
