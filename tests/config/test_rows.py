"""config.rows: a parent row and its dependants in one statement, and ids from sequence blocks.

The leads tables are the graph used here (a lead, its touchpoint, its consent records), on the
real Postgres: what is checked is what the database stored, read back through the ORM.
"""

import os
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.rows import IdBlocks, rows_insert_if_new
from leads.models import ConsentRecord, Lead, Touchpoint
from leads.services import consent_text_current

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=UTC)


@pytest.fixture
def ids():
    """Own blocks, so these tests neither use up nor depend on the capture path's blocks."""
    return {Lead: IdBlocks(Lead, block=5), Touchpoint: IdBlocks(Touchpoint, block=5)}


def _graph(
    ids,
    *,
    email: str,
    lead: dict | None = None,
    touch: dict | None = None,
    records: list[dict] | None = None,
):
    """An unsaved lead with its first touchpoint and consent records (record pks left to the
    table's default unless given)."""
    parent = Lead(
        pk=ids[Lead].take(),
        email=email,
        **{
            "name": "Grace Hopper",
            "submissions": 1,
            "created_at": NOW,
            "updated_at": NOW,
            **(lead or {}),
        },
    )
    touchpoint = Touchpoint(
        pk=ids[Touchpoint].take(),
        lead=parent,
        **{"created_at": NOW, "utm_source": "newsletter", "ip": "203.0.113.7", **(touch or {})},
    )
    parent.first_touch = parent.last_touch = touchpoint
    text = consent_text_current(purpose="terms")
    consent_records = [
        ConsentRecord(
            lead=parent,
            sequence=n,
            purpose="terms",
            decision="granted",
            method="form",
            consent_text=text,
            text_sha256=text.sha256,
            subject_digest="d" * 64,
            created_at=NOW,
            record_hash=f"{email}:{n}".ljust(64, "h")[:64],
            **values,
        )
        for n, values in enumerate(records if records is not None else [{}], start=1)
    ]
    return parent, touchpoint, consent_records


def _insert(parent, touchpoint, records) -> bool:
    return rows_insert_if_new(
        parent=parent,
        conflict_field="email",
        dependents=[(Touchpoint, [_row(touchpoint)]), (ConsentRecord, [_row(r) for r in records])],
    )


def _values(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def _row(obj) -> dict:
    """An unsaved instance as a dependant row: every value by attribute name, and the pk
    only if it has one."""
    return {
        name: value
        for name, value in _values(obj).items()
        if not (name == obj._meta.pk.attname and value is None)
    }


def _row_counts() -> tuple[int, int, int]:
    return Lead.objects.count(), Touchpoint.objects.count(), ConsentRecord.objects.count()


# rows_insert_if_new ---------------------------------------------------------------------------


def test_the_parent_and_its_dependants_are_written_by_one_statement(ids):
    parent, touchpoint, records = _graph(ids, email="one@example.com", records=[{}, {}, {}])

    with CaptureQueriesContext(connection) as queries:
        assert _insert(parent, touchpoint, records) is True

    assert len(queries) == 1, [q["sql"] for q in queries]
    assert queries[0]["sql"].startswith('WITH parent AS (INSERT INTO "leads_lead"')
    lead = Lead.objects.get(email="one@example.com")
    assert lead.pk == parent.pk
    assert lead.first_touch_id == lead.last_touch_id == touchpoint.pk
    assert list(Touchpoint.objects.filter(lead=lead).values_list("pk", flat=True)) == [
        touchpoint.pk
    ]
    # Records without a pk got the table's own ids.
    stored = list(ConsentRecord.objects.filter(lead=lead).order_by("sequence"))
    assert [r.sequence for r in stored] == [1, 2, 3]
    assert all(r.pk is not None for r in stored)


def test_the_statement_is_prepared_once_per_connection_after_a_few_runs(ids):
    def prepared() -> list[tuple[int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT generic_plans + custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE %s",
                ["WITH parent AS (INSERT INTO%"],
            )
            return cursor.fetchall()

    runs = 8
    for n in range(runs):
        assert _insert(*_graph(ids, email=f"prepared-{n}@example.com", records=[{}, {}, {}]))

    # Parsed and planned once, then only bound and run (prepare_threshold in the settings).
    ((uses,),) = prepared()  # one statement, run from its prepared form since
    assert 0 < uses < runs
    assert Lead.objects.filter(email__startswith="prepared-").count() == runs


def test_a_prepared_statement_survives_a_migration_of_its_tables(ids):
    """Workers keep their prepared statement across a deploy's migration: Postgres plans it
    again when a table it writes changes."""
    for n in range(7):
        assert _insert(*_graph(ids, email=f"before-{n}@example.com", records=[{}, {}]))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # this test's own deferred FK checks
        cursor.execute("ALTER TABLE leads_touchpoint ADD COLUMN later_field integer")
        cursor.execute("ALTER TABLE leads_consentrecord ALTER COLUMN user_agent TYPE text")

    assert _insert(*_graph(ids, email="after@example.com", records=[{}, {}]))
    assert ConsentRecord.objects.filter(lead__email="after@example.com").count() == 2


def test_a_known_email_writes_nothing_at_all_not_even_the_dependants(ids):
    first = _graph(ids, email="taken@example.com", lead={"name": "First"})
    assert _insert(*first) is True
    before = _row_counts()

    parent, touchpoint, records = _graph(
        ids, email="taken@example.com", lead={"name": "Second"}, records=[{}, {}]
    )
    with CaptureQueriesContext(connection) as queries:
        assert _insert(parent, touchpoint, records) is False

    assert len(queries) == 1
    assert _row_counts() == before
    assert not Lead.objects.filter(pk=parent.pk).exists()
    assert not Touchpoint.objects.filter(pk=touchpoint.pk).exists()
    assert not ConsentRecord.objects.filter(lead_id=parent.pk).exists()
    assert Lead.objects.get(email="taken@example.com").name == "First"


def test_an_empty_group_of_dependants_is_skipped(ids):
    parent, touchpoint, _ = _graph(ids, email="no-consents@example.com")

    assert _insert(parent, touchpoint, []) is True

    assert Touchpoint.objects.filter(lead_id=parent.pk).count() == 1
    assert not ConsentRecord.objects.filter(lead_id=parent.pk).exists()


def test_a_column_a_row_leaves_out_gets_the_model_default_not_null(ids):
    parent, touchpoint, _ = _graph(ids, email="defaults@example.com")
    row = {"id": touchpoint.pk, "lead_id": parent.pk, "created_at": NOW}  # nothing else

    assert rows_insert_if_new(
        parent=parent, conflict_field="email", dependents=[(Touchpoint, [row])]
    )

    stored = Touchpoint.objects.get(pk=touchpoint.pk)
    fresh = Touchpoint(pk=touchpoint.pk, lead_id=parent.pk, created_at=NOW)
    assert _values(stored) == _values(fresh)
    assert (stored.utm_source, stored.risk_score, stored.risk_factors, stored.ip) == (
        "",
        0,
        [],
        None,
    )


def test_a_callable_default_is_called_for_each_row_not_once(ids):
    def created_at_when_left_out(email: str) -> datetime:
        parent, touchpoint, _ = _graph(ids, email=email)
        row = {"id": touchpoint.pk, "lead_id": parent.pk}  # no created_at
        assert rows_insert_if_new(
            parent=parent, conflict_field="email", dependents=[(Touchpoint, [row])]
        )
        return Touchpoint.objects.get(pk=touchpoint.pk).created_at

    first = created_at_when_left_out("first@example.com")
    time.sleep(0.002)
    between = datetime.now(UTC)
    second = created_at_when_left_out("second@example.com")

    assert first < between <= second <= datetime.now(UTC)  # timezone.now, for each row


def test_dependants_with_their_own_pks_keep_them(ids):
    record_ids = IdBlocks(ConsentRecord, block=2)
    parent, touchpoint, records = _graph(ids, email="own-pks@example.com", records=[{}, {}])
    for record in records:
        record.pk = record_ids.take()

    assert _insert(parent, touchpoint, records) is True

    assert set(ConsentRecord.objects.filter(lead_id=parent.pk).values_list("pk", flat=True)) == {
        r.pk for r in records
    }


def test_every_kind_of_value_comes_back_exactly_as_it_went_in(ids):
    berlin = ZoneInfo("Europe/Berlin")
    tricky = 'Zoë "Q" O\'Brien \\ back\\slash, tab\t, newline\n, \u2028 and 🚀'
    parent, touchpoint, records = _graph(
        ids,
        email="values@example.com",
        lead={
            "name": tricky,
            "company": "",  # empty, not NULL
            "phone": "",
            "country": "GB",
            "segment": "business",
            "consents": {"terms": "granted", "marketing_email": "pending"},
            "readiness_checklist": [["Consent given: Terms", True], ["Risk 0 ≤ 50", False]],
            "risk_factors": [],
            "submission_risk_factors": [
                {
                    "rule": "too_fast",
                    "points": 40,
                    "detail": tricky,
                    "nested": {"null": None, "float": 0.1, "big": 2**62, "list": [True, ""]},
                }
            ],
            "is_ready": True,
            "risk_score": -3,
            "consent_chain_length": 1,
            "consent_chain_head": "a" * 64,
            # Offsets other than UTC, microseconds, the morning the clocks go forward.
            "first_response_due_at": datetime(2026, 3, 29, 3, 30, 0, 123_456, tzinfo=berlin),
            "sla_next_check_at": datetime(
                2026, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))
            ),
            "intake_pending_since": NOW,
            "readiness_evaluated_at": NOW - timedelta(microseconds=1),
            "first_contacted_at": None,  # NULL
            "owner": None,
        },
        touch={
            "ip": "2001:db8::1",
            "utm_campaign": '{"looks": "like json"}',  # text, not parsed
            "referrer": 'https://news.example/?q=a%20b&x="y"',
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) ' ; DROP TABLE leads_lead; --",
            "risk_score": 0,
            "risk_factors": "[1, 2]",  # a JSON string that looks like JSON stays a string
        },
        records=[
            {"ip": None, "user_agent": "", "prev_hash": "", "source_url": tricky},
            {"ip": "::ffff:192.0.2.1", "user_agent": "ua", "prev_hash": "p" * 64},
        ],
    )

    assert _insert(parent, touchpoint, records) is True

    lead = Lead.objects.get(pk=parent.pk)
    assert _values(lead) == _values(parent)
    assert lead.first_response_due_at == datetime(2026, 3, 29, 1, 30, 0, 123_456, tzinfo=UTC)
    assert Lead.objects.filter(pk=parent.pk, first_contacted_at__isnull=True, company="").exists()
    assert lead.submission_risk_factors[0]["nested"]["big"] == 2**62

    stored_touch = Touchpoint.objects.get(pk=touchpoint.pk)
    assert _values(stored_touch) == _values(touchpoint)
    assert stored_touch.risk_factors == "[1, 2]"

    stored = list(ConsentRecord.objects.filter(lead=lead).order_by("sequence"))
    assert [{**_values(r), "id": None} for r in stored] == [_values(r) for r in records]
    assert ConsentRecord.objects.filter(lead=lead, ip__isnull=True, prev_hash="").count() == 1


@pytest.mark.parametrize("size", [150, 151])
def test_a_value_longer_than_its_column_raises_instead_of_being_cut(ids, size):
    parent, touchpoint, records = _graph(
        ids, email=f"long-{size}@example.com", lead={"name": "é" * size}
    )

    if size == 150:  # at the limit (in characters, not bytes): stored whole
        assert _insert(parent, touchpoint, records) is True
        assert Lead.objects.get(pk=parent.pk).name == "é" * 150
        return
    before = _row_counts()
    with pytest.raises(DataError, match="too long"), transaction.atomic():
        _insert(parent, touchpoint, records)
    assert _row_counts() == before


@pytest.mark.parametrize(
    ("where", "overrides"),
    [
        ("touchpoint", {"touch": {"utm_source": "u" * 201}}),
        ("consent record", {"records": [{}, {"source_form": "f" * 65}]}),
    ],
)
def test_a_dependant_too_long_for_its_column_leaves_no_parent_behind(ids, where, overrides):
    parent, touchpoint, records = _graph(ids, email="half@example.com", **overrides)
    before = _row_counts()

    with pytest.raises(DataError, match="too long"), transaction.atomic():
        _insert(parent, touchpoint, records)

    assert _row_counts() == before, where
    assert not Lead.objects.filter(email="half@example.com").exists()


# IdBlocks -------------------------------------------------------------------------------------


def _touchpoint_sequence_next() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('leads_touchpoint', 'id'))")
        return cursor.fetchone()[0]


def test_ids_are_unique_across_many_threads_and_none_is_wasted():
    blocks = IdBlocks(Touchpoint, block=7)  # small: threads often meet an empty block
    before = _touchpoint_sequence_next()
    threads_n, takes = 8, 40
    barrier = threading.Barrier(threads_n)
    taken: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def take_many():
        try:
            barrier.wait()
            mine = [blocks.take() for _ in range(takes)]
            with lock:
                taken.extend(mine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=take_many) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(taken) == threads_n * takes
    assert len(set(taken)) == len(taken)
    # They came from the table's sequence, and one block was taken at a time: two threads
    # meeting an empty block did not both fetch one (and drop one of them).
    after = _touchpoint_sequence_next()
    assert before < min(taken) and max(taken) < after
    blocks_needed = -(-threads_n * takes // 7)
    assert after - before - 1 == blocks_needed * 7


def test_ids_from_a_block_never_clash_with_rows_the_orm_inserts_meanwhile():
    blocks = IdBlocks(Touchpoint, block=5)
    lead = Lead.objects.create(email="mixed@example.com", name="Mixed")
    from_block = [blocks.take()]  # four more are now held by this process
    by_orm = [Touchpoint.objects.create(lead=lead).pk for _ in range(10)]
    from_block += [blocks.take() for _ in range(4)]

    assert not set(from_block) & set(by_orm)
    Touchpoint.objects.bulk_create([Touchpoint(pk=pk, lead=lead) for pk in from_block])
    assert Touchpoint.objects.filter(lead=lead).count() == 15


def test_a_forked_child_takes_a_fresh_block_instead_of_its_parents(monkeypatch):
    blocks = IdBlocks(Touchpoint, block=10)
    parent_first = blocks.take()
    held_by_parent = set(blocks._ids)  # what the parent may still hand out after the fork
    assert len(held_by_parent) == 9

    child_pid = os.getpid() + 1
    with monkeypatch.context() as patch:
        patch.setattr(os, "getpid", lambda: child_pid)
        with CaptureQueriesContext(connection) as queries:
            child_first = blocks.take()
        child = [child_first] + [blocks.take() for _ in range(9)]

    assert len(queries) == 1 and "nextval" in queries[0]["sql"]
    assert not set(child) & (held_by_parent | {parent_first})
    assert len(set(child)) == 10


def test_model_new_gives_what_the_model_constructor_gives():
    from django.db.models.signals import post_init

    from config.rows import model_new

    values = {
        "id": 7,
        "email": "ada@example.com",
        "name": "Ada",
        "owner_id": None,
        "created_at": NOW,
    }
    made, expected = model_new(Lead, values), Lead(**values)
    for field in Lead._meta.concrete_fields:
        assert getattr(made, field.attname) == getattr(expected, field.attname), field.name
    assert made._state.adding and made._state.db is None
    # Defaults that are made per instance (a list, a dict) are not shared between instances.
    other = model_new(Lead, {**values, "id": 8})
    assert made.consents == {} and made.consents is not other.consents
    assert made.risk_factors == [] and made.risk_factors is not other.risk_factors

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.email)

    post_init.connect(receiver, sender=Lead)
    try:
        model_new(Lead, values)  # with a listener, through Model.__init__, which sends it
    finally:
        post_init.disconnect(receiver, sender=Lead)
    assert seen == ["ada@example.com"]
