"""The pages a buyer sees when something is wrong are the site's own, in plain words."""

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_a_form_sent_from_a_stale_page_explains_what_to_do():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/start/", {"email": "stale@example.com", "name": "Stale"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Please send the form again" in html and "nothing was saved" in html
    assert "reload the page" in html
    assert "CSRF verification failed" not in html  # not Django's technical page
    assert "style=" not in html and "<style" not in html  # it renders under the CSP
    assert "Content-Security-Policy" in response


def test_an_unknown_page_is_the_sites_own_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_a_server_error_page_needs_nothing_that_could_fail():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
