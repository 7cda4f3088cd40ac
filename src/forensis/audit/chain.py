"""Hash chaining shared by every append-only ledger (the audit log, the custody ledger).

A record's hash is ``sha256(canonical_json(fields) + prev_hash)``. Canonical JSON sorts keys, has no
spaces and keeps non-ASCII text as it is, so the same record always hashes the same on either engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

GENESIS_HASH = "0" * 64


def json_safe(value: Any) -> Any:
    """The value as it will read back from a JSON column (dates and decimals become strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical_json(fields: Mapping[str, Any]) -> str:
    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    return json.dumps(
        {k: encode(v) for k, v in fields.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        cls=DjangoJSONEncoder,
    )


def link_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    return hashlib.sha256((canonical_json(fields) + prev_hash).encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_id: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


def verify_links(
    rows: Iterable[Mapping[str, Any]], hashed_fields: tuple[str, ...], start_hash: str = GENESIS_HASH
) -> ChainReport:
    """Walk rows in chain order; name the first whose link or content does not match.

    ``rows`` is consumed as a stream, so memory does not grow with the length of the chain.
    """
    expected_prev = start_hash
    checked = 0
    for row in rows:
        if row["prev_hash"] != expected_prev:
            return ChainReport(
                checked,
                row["id"],
                "its previous-hash does not match the event before it (an event was removed or inserted)",
            )
        recomputed = link_hash({name: row[name] for name in hashed_fields}, row["prev_hash"])
        if recomputed != row["hash"]:
            return ChainReport(checked, row["id"], "its content does not match its hash (it was changed)")
        expected_prev = row["hash"]
        checked += 1
    return ChainReport(checked)


def stream(queryset, fields: Iterable[str], chunk_size: int = 5000) -> Iterator[dict]:
    return queryset.order_by("id").values("id", "prev_hash", "hash", *fields).iterator(chunk_size=chunk_size)
