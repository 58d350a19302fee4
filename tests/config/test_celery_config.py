"""Celery must deliver at least once; these are the settings that make it so."""

from config.celery import app


def test_tasks_are_acked_late_and_requeued_when_the_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_only_json_crosses_the_broker():
    assert app.conf.task_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]


def test_tasks_have_time_limits_below_the_visibility_timeout():
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit < visibility


def test_every_periodic_task_is_registered():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
