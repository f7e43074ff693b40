from django import forms
from django.conf import settings

from .models import Document


class DocumentForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = ["title", "file"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                "The file is larger than %d MiB." % (settings.UPLOAD_MAX_BYTES // (1024 * 1024)))
        return upload
