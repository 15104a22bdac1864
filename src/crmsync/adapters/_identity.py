"""The identities crmsync gives the records it creates, so that no create is made twice.

Each is a name-based UUID (RFC 4122 version 5) of what the record is made
from, the same on every attempt and in every later round. Kept apart from
`crmsync.adapters.requests`, which writes them into requests, because the
readers (`crmsync.adapters.resolve_links`) need them too.
"""

from __future__ import annotations

import uuid

from crmsync.records import Domain

__all__ = ["crm_id_for", "event_transaction_id"]

# Fixed for ever: changing it would give every record a new derived id, and a
# create whose answer was lost before the change would be made a second time.
_IDENTITY = uuid.UUID("9f3c54b2-6a1e-5d0b-8c47-2e51d0a3f6b9")


def crm_id_for(domain: Domain, key: str) -> str:
    """The primary key of the Dataverse row crmsync creates from Outlook record `key`.

    A name-based UUID (RFC 4122 version 5) over the domain and the Outlook
    key: the same on every attempt and in every later round, so a create the
    service committed but whose answer was lost is never made twice.
    Dataverse takes a primary key in the body of a `POST` and refuses one
    that exists with 412 (`0x80040237`, "A record with matching key values
    already exists").

    Args:
        domain: the record's domain (contact, appointment, task or attachment).
        key: the key of the record the row is created from.
    """
    return str(uuid.uuid5(_IDENTITY, f"crm:{domain.value}:{key}"))


def event_transaction_id(key: str) -> str:
    """The Graph `transactionId` of the event crmsync creates from CRM appointment `key`.

    Graph keeps an event's `transactionId` "to avoid redundant POST
    operations in case of client retries to create the same event"; derived
    like `crm_id_for`, so every attempt of one create carries the same one.
    """
    return str(uuid.uuid5(_IDENTITY, f"outlook:{Domain.APPOINTMENT.value}:{key}"))
