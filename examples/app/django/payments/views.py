from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import DocumentForm
from .models import Document


@require_http_methods(["GET", "POST"])
def uploads(request):
    """A CSRF-protected form that stores a file under MEDIA_ROOT/uploads/."""
    if request.method == "POST":
        form = DocumentForm(request.POST, request.FILES)
        if form.is_valid():
            document = form.save()
            messages.success(request, "Stored %s" % document.file.name)
            return redirect("uploads")
    else:
        form = DocumentForm()
    return render(request, "payments/uploads.html", {
        "form": form,
        "documents": Document.objects.all()[:20],
        "version": settings.APP_VERSION,
    })
