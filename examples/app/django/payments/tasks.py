"""Celery tasks of the payments app (found by app.autodiscover_tasks())."""
import logging
import time

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)

BEAT_LAST_KEY = "myproject:beat:last"
BEAT_COUNT_KEY = "myproject:beat:count"


@shared_task
def add(x, y):
    """The round-trip probe: `manage celery_roundtrip` sends add(2, 3)."""
    return x + y


@shared_task(ignore_result=True)
def beat_heartbeat():
    """Scheduled by beat every CELERY_BEAT_HEARTBEAT_SECONDS: proves beat
    schedules and a worker runs what it schedules (`manage beat_status`)."""
    redis = get_redis_connection("default")
    pipe = redis.pipeline()
    pipe.set(BEAT_LAST_KEY, "%.3f" % time.time())
    pipe.incr(BEAT_COUNT_KEY)
    pipe.execute()


@shared_task(bind=True, max_retries=3, default_retry_delay=10)
def process_payment(self, payment_id):
    """Mark a pending payment processed. Idempotent: a payment that is no
    longer pending is left alone (tasks are acknowledged late)."""
    from .models import Payment

    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            logger.warning("process_payment: payment %s does not exist", payment_id)
            return "missing"
        if payment.status != Payment.Status.PENDING:
            return payment.status
        payment.status = Payment.Status.PROCESSED
        payment.processed_at = timezone.now()
        payment.save(update_fields=["status", "processed_at"])
    logger.info("process_payment: %s processed", payment.reference)
    return payment.status


@shared_task
def slow_add(x, y, seconds=5.0):
    """A task that takes a while, like a payout talking to a provider: a
    worker told to stop (SIGTERM, Celery's warm shutdown) finishes it first."""
    time.sleep(float(seconds))
    return x + y
