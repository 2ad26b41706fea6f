"""A minimal Explo End User Group API behind Django REST Framework's own
SimpleRateThrottle, for groupsync's benchmarks (bench_drf_test.go).

Serve it with gunicorn (Debian: apt-get install python3-djangorestframework
gunicorn):

    EXPLO_DRF_TOKEN=secret EXPLO_DRF_RATE=180/3s \\
        gunicorn --chdir testdata/drf --threads 16 explo_drf:application

The throttle is DRF's, as Explo runs it: a log of the accepted requests of
each client IP, in DRF's default cache (local memory, one per process).
Only the rate's parsing is replaced, so that a window can be any number of
seconds ("180/3s" scales Explo's 180 a minute down in time) and so that the
rate can be changed while the server runs (EXPLO_DRF_RATE_FILE, read on
every request, as DRF parses the rate on every request).

Environment:
    EXPLO_DRF_TOKEN      the API token (required)
    EXPLO_DRF_RATE       the rate, like 180/m or 180/3s (default 180/m)
    EXPLO_DRF_RATE_FILE  a file holding the rate, read on every request
    EXPLO_DRF_DELAY      seconds each accepted call takes (default 0.005)
"""

import os
import re
import secrets
import threading
import time

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY=secrets.token_hex(16),
    INSTALLED_APPS=["rest_framework"],
    MIDDLEWARE=[],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "DEFAULT_THROTTLE_CLASSES": [],
        "DEFAULT_THROTTLE_RATES": {"explo": os.environ.get("EXPLO_DRF_RATE", "180/m")},
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import exceptions  # noqa: E402
from rest_framework.authentication import BaseAuthentication  # noqa: E402
from rest_framework.decorators import api_view, authentication_classes, throttle_classes  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.throttling import SimpleRateThrottle  # noqa: E402

TOKEN = os.environ["EXPLO_DRF_TOKEN"]
DELAY = float(os.environ.get("EXPLO_DRF_DELAY", "0.005"))
RATE_FILE = os.environ.get("EXPLO_DRF_RATE_FILE")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ExploThrottle(SimpleRateThrottle):
    """DRF's SimpleRateThrottle keyed by client IP, as Explo documents its
    limit ("per requesting IP"); the key is AnonRateThrottle's. Only
    parse_rate is ours."""

    scope = "explo"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def parse_rate(self, rate):
        if RATE_FILE:
            with open(RATE_FILE) as f:
                rate = f.read().strip()
        num, period = rate.split("/")
        count, unit = re.fullmatch(r"([0-9.]*)([smhd])[a-z]*", period).groups()
        return int(num), float(count or 1) * UNITS[unit]


class ExploUser:
    is_authenticated = True


class ExploTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        if request.META.get("HTTP_EXPLO_AUTHORIZATION") != "Token " + TOKEN:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return ExploUser(), None

    def authenticate_header(self, request):
        return "Token"


lock = threading.Lock()
groups = {}


def answer(g):
    return {
        "team_id": 3,
        "token": g["token"],
        "name": g["name"],
        "provided_id": g["provided_id"],
        "is_demo_group": g["is_demo_group"],
        "properties": g["properties"],
        "api_environment_tag": "Customer",
    }


def body(request):
    data = request.data
    if not isinstance(data, dict) or not isinstance(data.get("user_group_id"), str) or not isinstance(data.get("name"), str):
        return None
    return data


def explo(view):
    """The API's every endpoint: the token checked, then the throttle, then
    the body, and the time a call takes."""

    def call(request):
        data = body(request)
        if data is None:
            return Response({"success": 0, "message": "user_group_id and name are required"}, status=400)
        time.sleep(DELAY)
        return view(data)

    call.__name__ = view.__name__
    return api_view(["POST"])(authentication_classes([ExploTokenAuthentication])(throttle_classes([ExploThrottle])(call)))


@explo
def create_user_group(data):
    with lock:
        g = groups.get(data["user_group_id"])
        new = g is None
        if new:
            g = {
                "provided_id": data["user_group_id"],
                "name": data["name"],
                "is_demo_group": bool(data.get("is_demo_group", False)),
                "properties": data.get("properties") or {},
                "mapping": data.get("mapping") or {},
                "token": secrets.token_hex(24),
            }
            groups[g["provided_id"]] = g
    return Response({"success": 1, "new_user_group": new, "user_group": answer(g)})


@explo
def update_user_group(data):
    with lock:
        g = groups.get(data["user_group_id"])
        if g is None:
            return Response({"success": 0, "message": "no such user group"}, status=404)
        g["name"] = data["name"]
        for key in ("is_demo_group", "properties", "mapping"):
            if key in data:
                g[key] = data[key]
    return Response({"success": 1, "user_group": answer(g)})


@api_view(["GET"])
def health(request):
    with lock:
        return Response({"success": 1, "groups": len(groups), "pid": os.getpid()})


urlpatterns = [
    path("api/create_user_group/", create_user_group),
    path("api/update_user_group/", update_user_group),
    path("health/", health),
]

application = get_wsgi_application()
