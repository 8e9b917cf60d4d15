"""The WSGI application, loaded once per web process (gunicorn worker).

Before serving, the process loads its URLconf (and through it every view module) and then moves
everything loaded so far out of the garbage collector's sight (`gc.freeze()`). A Django process
holds about 200,000 tracked objects once loaded, and a full (generation 2) collection walks all of
them: 70–160 ms with the interpreter lock held, a few times per thousand requests, during which
the process answers nothing. That was the long tail of the API's latency (p99 of 90–300 ms
against a median of 5–30 ms, docs/benchmarks.md). Frozen objects are never collected (they
live as long as the process anyway: modules, classes, URL patterns, settings); what requests
allocate is collected as before.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()
get_resolver().reverse_dict  # noqa: B018 (builds the URL tables, importing every view, as the first request would)
gc.collect()
gc.freeze()
