"""The three roles (groups), and database triggers that make the audit log append-only."""

from __future__ import annotations

from typing import Any

from django.db import migrations

ROLES = ("viewer", "analyst", "admin")
TABLE = "review_auditentry"


def add_roles(apps: Any, schema_editor: Any) -> None:
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


def append_only(apps: Any, schema_editor: Any) -> None:
    """UPDATE and DELETE on the audit log fail, whoever runs them (TRUNCATE, a table owner's tool, stays possible)."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
    elif vendor == "postgresql":
        schema_editor.execute(
            f"CREATE FUNCTION {TABLE}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse()"
        )
    else:
        raise RuntimeError(f"the review console supports SQLite and PostgreSQL, not {vendor}")


class Migration(migrations.Migration):
    dependencies = [("review", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [
        migrations.RunPython(add_roles, migrations.RunPython.noop),
        migrations.RunPython(append_only, migrations.RunPython.noop),
    ]
