"""Tuning of the Python runtime for a long-lived server process (gunicorn's workers)."""

import gc


def server_gc_tune() -> None:
    """Keep the cyclic garbage collector's full collections cheap.

    Almost every object a request creates is freed by reference counting when the request
    ends; the collector finds the rest, such as the cycles Django's request objects form
    (request <-> message storage, request <-> lazy user). Its young collections are small and
    quick. Its full collections, though, walk every object in the process: Django, the apps, the
    URLconf and the templates, hundreds of thousands of objects that live as long as it does.

    So, once at start-up: import every view (the URLconf), collect what start-up left behind,
    and freeze the rest into the permanent generation, which collections never walk again.
    The thresholds stay CPython's: raising the young one to tens of thousands made each young
    collection a pause of tens of milliseconds and cost more in all (measured on the lead form).
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    gc.collect()
    gc.freeze()
