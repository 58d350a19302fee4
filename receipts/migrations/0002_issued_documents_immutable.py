"""Issued receipts and credit notes are immutable in the database itself, as consent records are
(leads 0002): whoever asks (the admin, a shell, a buggy service), Postgres refuses

- any DELETE of a receipt, credit note, their history or a number counter;
- any change to an issued document except its delivery and render bookkeeping (the columns
  named in the trigger's arguments), and, while it is still `issued`, the one move to `stored`
  with its PDF path, digest, size and time; once stored, the PDF is final too;
- a counter that moves other than one up (a number is never reused or skipped);
- any change to the history rows.

TRUNCATE is not covered: it needs table ownership, which only migrations and the test harness
have.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION receipts_refuse_document_change() RETURNS trigger AS $$
DECLARE
    -- Columns the trigger's arguments name may change at any time; the PDF columns only with
    -- the move from issued to stored.
    mutable text[] := TG_ARGV;
    pdf_columns text[] := ARRAY['status', 'pdf_path', 'pdf_sha256', 'pdf_size', 'stored_at'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% % is an issued document: DELETE refused', TG_TABLE_NAME, OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(OLD) - mutable - pdf_columns) IS DISTINCT FROM (to_jsonb(NEW) - mutable - pdf_columns) THEN
        RAISE EXCEPTION '% % is an issued document: its number and snapshot never change',
            TG_TABLE_NAME, OLD.number USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(OLD) - mutable) IS DISTINCT FROM (to_jsonb(NEW) - mutable)
        AND NOT (OLD.status = 'issued' AND NEW.status = 'stored') THEN
        RAISE EXCEPTION '% %: the PDF is stored once, with the move from issued to stored',
            TG_TABLE_NAME, OLD.number USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER receipts_receipt_immutable
    BEFORE UPDATE OR DELETE ON receipts_receipt
    FOR EACH ROW EXECUTE FUNCTION receipts_refuse_document_change(
        'render_attempts', 'last_error', 'delivered_by_id');

CREATE TRIGGER receipts_creditnote_immutable
    BEFORE UPDATE OR DELETE ON receipts_creditnote
    FOR EACH ROW EXECUTE FUNCTION receipts_refuse_document_change(
        'render_attempts', 'last_error', 'delivered_by_id');

CREATE OR REPLACE FUNCTION receipts_counter_one_up() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.series <> OLD.series OR NEW.year <> OLD.year
        OR NEW.last_number <> OLD.last_number + 1 THEN
        RAISE EXCEPTION 'document counter %-% only moves one up: % refused',
            OLD.series, OLD.year, TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER receipts_documentcounter_one_up
    BEFORE UPDATE OR DELETE ON receipts_documentcounter
    FOR EACH ROW EXECUTE FUNCTION receipts_counter_one_up();

CREATE OR REPLACE FUNCTION receipts_refuse_history_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER receipts_receiptevent_append_only
    BEFORE UPDATE OR DELETE ON receipts_receiptevent
    FOR EACH ROW EXECUTE FUNCTION receipts_refuse_history_change();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS receipts_receipt_immutable ON receipts_receipt;
DROP TRIGGER IF EXISTS receipts_creditnote_immutable ON receipts_creditnote;
DROP TRIGGER IF EXISTS receipts_documentcounter_one_up ON receipts_documentcounter;
DROP TRIGGER IF EXISTS receipts_receiptevent_append_only ON receipts_receiptevent;
DROP FUNCTION IF EXISTS receipts_refuse_document_change();
DROP FUNCTION IF EXISTS receipts_counter_one_up();
DROP FUNCTION IF EXISTS receipts_refuse_history_change();
"""


class Migration(migrations.Migration):
    dependencies = [("receipts", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
