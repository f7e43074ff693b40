from django.contrib import admin
from django.urls import include, path

from payments import views as payments_views

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("api/ping", views.api_ping, name="api-ping"),
    path("api/io", views.api_io, name="api-io"),
    path("api/wallet/status", views.api_wallet_status, name="api-wallet-status"),
    path("uploads/", payments_views.uploads, name="uploads"),
    path("admin/", admin.site.urls),
    # /metrics (django-prometheus); keep it off the public site at the proxy.
    path("", include("django_prometheus.urls")),
]
