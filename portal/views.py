from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from registry.models import ModelVersion, RegisteredModel, UseCase


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@login_required
def home(request):
    context = {
        "use_case_count": UseCase.objects.count(),
        "model_count": RegisteredModel.objects.count(),
        "version_count": ModelVersion.objects.count(),
    }
    return render(request, "portal/home.html", context)
