"""Records that cross between Python and the JVM: their SQL columns come from their fields.

A record is a `NamedTuple` whose fields are annotated with `int`, `float`, `bool` or `str`
(optionally `| None`). `columns` turns it into the (name, SQL type) list that the Flink
job declares, so a renamed, retyped or reordered field changes the SQL with it, and
`from_row` reads a row by column name, never by position.

>>> from typing import NamedTuple
>>> class Hit(NamedTuple):
...     subject: str
...     views: int
...     share: float | None
>>> columns(Hit)
[('subject', 'STRING'), ('views', 'BIGINT'), ('share', 'DOUBLE')]
"""

from __future__ import annotations

import types
import typing
from typing import Any

SQL_TYPES = {int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", str: "STRING"}


def field_types(record: type) -> dict[str, type]:
    """Each field's Python type, without `| None`."""
    out = {}
    for name, hint in typing.get_type_hints(record).items():
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
        base = next((a for a in args if a is not type(None)), hint)
        if base not in SQL_TYPES:
            raise TypeError(f"{record.__name__}.{name}: {hint} has no SQL type")
        out[name] = base
    return out


def columns(record: type) -> list[tuple[str, str]]:
    """(name, SQL type) of each field, in field order."""
    return [(name, SQL_TYPES[t]) for name, t in field_types(record).items()]


def from_row(record: Any, row: Any) -> Any:
    """A record from a row with named fields (a Flink `Row`, a dict): each field is looked up by its name."""
    return record(*(row[name] for name in record._fields))


class RowReader:
    """Reads rows of one shape into `record`s: by name, checked on the first row, then by position.

    >>> from typing import NamedTuple
    >>> class Hit(NamedTuple):
    ...     subject: str
    ...     views: int
    >>> class Named(tuple):
    ...     _fields = ("subject", "views")
    >>> RowReader(Hit)(Named(("a1", 3)))
    Hit(subject='a1', views=3)
    """

    def __init__(self, record: Any) -> None:
        self.record = record
        self.checked = False

    def __call__(self, row: Any) -> Any:
        if not self.checked:
            names = tuple(getattr(row, "_fields", None) or row.as_dict())
            if names != self.record._fields:
                raise TypeError(f"row fields {names} are not those of {self.record.__name__} {self.record._fields}")
            self.checked = True
        return self.record._make(row)
