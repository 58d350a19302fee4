"""Consent evidence is append-only in the database itself, not just in the admin.

UPDATE and DELETE on consent records and consent texts raise an error whoever asks (the admin,
a shell, a buggy service). TRUNCATE is not covered: it needs table ownership, which only
migrations and the test harness have.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION leads_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER leads_consentrecord_append_only
    BEFORE UPDATE OR DELETE ON leads_consentrecord
    FOR EACH ROW EXECUTE FUNCTION leads_refuse_change();

CREATE TRIGGER leads_consenttext_append_only
    BEFORE UPDATE OR DELETE ON leads_consenttext
    FOR EACH ROW EXECUTE FUNCTION leads_refuse_change();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS leads_consentrecord_append_only ON leads_consentrecord;
DROP TRIGGER IF EXISTS leads_consenttext_append_only ON leads_consenttext;
DROP FUNCTION IF EXISTS leads_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
