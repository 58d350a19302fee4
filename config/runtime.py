"""Tuning of the Python runtime for a long-lived server process (gunicorn's workers)."""

import gc

# CPython's default is 700: a young collection after every 700 net new container objects, which
# a request that builds a few rows (the lead form) crosses several times.
GC_YOUNG_THRESHOLD = 50_000


def server_gc_tune() -> None:
    """Keep the cyclic garbage collector out of the request path.

    Almost every object a request creates is freed by reference counting when the request
    ends; the collector only finds the rare cycle. By default it runs very often, and its full
    collections walk every object in the process: Django, the apps, the URLconf and the
    templates, hundreds of thousands of objects that live as long as the process.

    So, once at start-up: import every view (the URLconf), collect what start-up left behind,
    and freeze the rest into the permanent generation, which collections never walk again;
    then let the youngest generation grow to GC_YOUNG_THRESHOLD before a collection. Cycles
    are still collected, just in larger, rarer batches.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
