"""The Celery application `myproject`: `celery -A myproject worker|beat|flower`.

Its configuration is Django's settings with the CELERY_ prefix (see
settings/prod.py: broker and result backend on Redis, the beat schedule).
"""
import os

from celery import Celery
from celery.signals import after_task_publish, beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings.prod")

app = Celery("myproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Beat's liveness signal for healthcheck.py: written when beat starts and
# each time it has handed a task to the broker, so a beat that cannot reach
# Redis goes stale.
BEAT_SENT_FILE = "/tmp/celerybeat-sent"
_in_beat = False


def _mark_beat(what):
    try:
        with open(BEAT_SENT_FILE, "w") as handle:
            handle.write(what)
    except OSError:
        pass


@beat_init.connect
def _beat_started(sender=None, **kwargs):
    global _in_beat
    _in_beat = True
    _mark_beat("started")


@after_task_publish.connect
def _beat_sent(sender=None, **kwargs):
    if _in_beat:
        _mark_beat(sender or "sent")
