"""Restore the indexes 0006 and 0007 dropped from the capture tables, and add the details a
repeat submission brought that differ from the lead's (Lead.submitted_details).

Two stay out because a constraint's index already serves them (leads/models.py says so beside
each field): Lead.owner, led by the (owner, status) index, and ConsentRecord.lead, led by the
unique (lead, sequence) constraint.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0007_consent_record_hash_no_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="lead",
            name="lead_email_unique",
        ),
        migrations.AddField(
            model_name="lead",
            name="submitted_details",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.AlterField(
            model_name="consentrecord",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="consentrecord",
            name="consent_text",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="leads.consenttext",
            ),
        ),
        migrations.AlterField(
            model_name="consentrecord",
            name="record_hash",
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AlterField(
            model_name="lead",
            name="email",
            field=models.EmailField(max_length=254, unique=True),
        ),
        migrations.AlterField(
            model_name="lead",
            name="first_contacted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="lead",
            name="first_touch",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="leads.touchpoint",
            ),
        ),
        migrations.AlterField(
            model_name="lead",
            name="is_ready",
            field=models.BooleanField(db_index=True, default=False, verbose_name="payment ready"),
        ),
        migrations.AlterField(
            model_name="lead",
            name="last_touch",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="leads.touchpoint",
            ),
        ),
        migrations.AlterField(
            model_name="lead",
            name="sla_state",
            field=models.CharField(
                choices=[
                    ("none", "No SLA"),
                    ("pending", "Waiting for first contact"),
                    ("breached", "Breached"),
                    ("met", "Contacted in time"),
                    ("met_late", "Contacted late"),
                ],
                db_index=True,
                default="none",
                max_length=16,
                verbose_name="first response",
            ),
        ),
        migrations.AlterField(
            model_name="lead",
            name="status",
            field=models.CharField(
                choices=[
                    ("new", "New"),
                    ("contacted", "Contacted"),
                    ("qualified", "Qualified"),
                    ("unqualified", "Unqualified"),
                    ("spam", "Suspected spam"),
                    ("erased", "Erased on request"),
                ],
                db_index=True,
                default="new",
                max_length=16,
            ),
        ),
    ]
