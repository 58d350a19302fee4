import pytest
from django.db import connection

from config.celery import app as celery_app
from devtools.embedded import free_port


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert response["X-Request-ID"]


def _use_broker(url: str) -> None:
    # The app keeps a connection pool for its broker URL; dropping it makes the next check use
    # a pool for `url` (as tests/leads/test_services_intake.py does).
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.django_db
def test_healthz_is_503_when_broker_is_down(client):
    original = celery_app.conf.broker_url
    _use_broker(f"redis://127.0.0.1:{free_port()}/0")
    try:
        response = client.get("/healthz")
    finally:
        _use_broker(original)

    assert response.status_code == 503
    assert response.json()["broker"] != "ok"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_notices_a_broker_that_went_away_after_it_was_checked(client):
    """The pooled connection is not trusted: a broker that dropped its connections (restarted,
    or a proxy timed them out) is asked again, and answers."""
    import redis

    assert client.get("/healthz").status_code == 200
    with redis.Redis.from_url(celery_app.conf.broker_url) as admin:
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 1

    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["broker"] == "ok"


@pytest.mark.django_db
def test_healthz_reuses_one_broker_connection(client):
    import redis

    with redis.Redis.from_url(celery_app.conf.broker_url) as admin:
        client.get("/healthz")
        before = admin.info("stats")["total_connections_received"]
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
        after = admin.info("stats")["total_connections_received"]
    assert after == before


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_database_is_down(client):
    original_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original_port

    assert response.status_code == 503
    assert response.json()["database"] == "OperationalError"
    assert response.json()["broker"] == "ok"


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
