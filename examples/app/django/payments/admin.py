from django.contrib import admin

from .models import Document, Payment


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("reference", "amount", "currency", "status", "created_at", "processed_at")
    list_filter = ("status", "currency")
    readonly_fields = ("reference", "created_at", "processed_at")


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "file", "uploaded_at")
