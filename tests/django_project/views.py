"""Ordinary views of the test project, to show the token wiring leaves them alone."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def hello(request: HttpRequest) -> HttpResponse:
    name = request.user.get_username() if request.user.is_authenticated else "anonymous"
    return HttpResponse(f"hello {name}", content_type="text/plain")


def echo(request: HttpRequest) -> HttpResponse:
    """A CSRF-protected POST view."""
    if request.method != "POST":
        return HttpResponse(status=405)
    return HttpResponse(
        b"posted " + request.POST.get("value", "").encode(), content_type="text/plain"
    )
