"""Hash chaining shared by every append-only ledger (the audit log, the custody ledger).

A record's hash is ``sha256(canonical_json(fields) + prev_hash)``. Canonical JSON sorts keys, has no
spaces and keeps non-ASCII text as it is, so the same record always hashes the same on either engine.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder as json_encoder
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


class _RecordEncoder(DjangoJSONEncoder):
    """Canonical JSON's encoder, for a record whose datetimes are still datetimes (see ``record_hasher``)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


def record_hasher(field_names: Sequence[str]) -> Callable[[Sequence[Any], str], str]:
    """``link_hash`` for many records of one shape, each given as its values in ``field_names`` order.

    ``record_hasher(names)(values, prev)`` equals ``link_hash(dict(zip(names, values)), prev)`` whenever the
    values are scalars (column values: text, numbers, booleans, None, dates and times), with less work per
    record, for verifying long chains (about 1.6 times faster per record). Why the text is the same, byte
    for byte:

    - ``canonical_json`` calls ``json.dumps(d, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"),
      ensure_ascii=False)``, which is ``DjangoJSONEncoder(…).encode(d)``, which builds the C encoder
      ``json.encoder.c_make_encoder(markers, default, encode_basestring, None, ":", ",", True, False, True)``
      and joins what it returns. The same C encoder is built here once, not once per record.
    - It sorts the keys; here the dict is built in sorted key order instead (the same order: the keys are
      distinct strings and the encoder sorts by key), so the encoder is told not to sort.
    - ``canonical_json`` turns top-level datetimes into ``isoformat()`` before encoding; here the encoder
      meets them as values it cannot encode and asks ``default``, which returns the same ``isoformat()``
      string, encoded as any string is. Every other value takes the same path as in ``canonical_json``
      (``DjangoJSONEncoder.default`` for dates, decimals, UUIDs…). Only a datetime *inside* a list or dict
      value would differ (``canonical_json`` leaves it to ``DjangoJSONEncoder``), hence "scalars".
    - Circular-reference checking (``markers``) is off: it only raises for a container that holds itself,
      which scalars cannot be, and changes no output.

    Callers that must never report a false mismatch recompute a mismatching record with ``link_hash``
    (``evidence.services.verify_ledger`` does), so a divergence could only cost time, never a verdict.
    """
    names = tuple(field_names)
    if len(set(names)) != len(names) or not names:
        raise ValueError("record_hasher needs distinct field names")
    keys = tuple(sorted(names))
    positions = [names.index(key) for key in keys]
    pick = operator.itemgetter(*positions) if len(positions) > 1 else lambda values: (values[positions[0]],)
    encoder = _RecordEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
    if json_encoder.c_make_encoder is not None:
        # What ``encoder.encode`` builds on every call (json.encoder.JSONEncoder.iterencode), built once.
        chunks = json_encoder.c_make_encoder(
            None, encoder.default, json_encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def encode(record: dict) -> str:
            return "".join(chunks(record, 0))
    else:  # no C accelerator in this Python: the same text, a little slower
        encode = encoder.encode
    sha256 = hashlib.sha256

    def hash_record(values: Sequence[Any], prev_hash: str) -> str:
        return sha256((encode(dict(zip(keys, pick(values), strict=True))) + prev_hash).encode()).hexdigest()

    return hash_record


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
