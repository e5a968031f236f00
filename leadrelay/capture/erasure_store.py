"""SQL of a member's erasure request: a platform lead's personal data is erased wherever LeadRelay
captured it (several accounts may connect the same ad account), while the lead row and its trail
keep their shape so counts and audits still add up.

Erased: the answers (the raw submission), every field's value (the columns stay, empty), the
outcome's reason (it can quote a value), and the details of trail events that can carry values
(deliveries, feedback); kept: status, disposition code, dates, platform ids, the event types and
times, and the details LeadRelay writes without values (how it arrived, the verdict, what changed).
An `erased` event says so. Connection first, the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from leadrelay.db import Connection

# Trail events whose details never carry a lead's values (channel, verdict, column names).
VALUE_FREE_EVENTS = ("received", "validated", "imported", "reuploaded", "updated", "erased")


async def erase_platform_lead(
    con: Connection, platform: str, external_account_id: str, platform_lead_id: str, detail: str
) -> list[UUID]:
    """Erases the lead of every source of that Page / owner; returns the lead ids erased now (an
    already erased lead is not erased twice: see `erased_platform_leads`)."""
    rows = await con.fetch(
        """WITH erased AS (
             UPDATE leads l
                SET answers = '[]',
                    fields = coalesce(
                        (SELECT jsonb_object_agg(key, to_jsonb(''::text)) FROM jsonb_each(l.fields)), '{}'),
                    custom_reason = '', erased_at = now(), updated_at = now(),
                    -- Found by its platform lead id only (kept; search_keys[1], migration 0034).
                    search_keys = l.search_keys[1:1], search_words = '{}'
               FROM sources s
              WHERE s.source_id = l.source_id AND s.platform = $1 AND s.external_account_id = $2
                AND l.platform_lead_id = $3 AND l.erased_at IS NULL
          RETURNING l.lead_id, l.account_id),
           blanked AS (
             UPDATE lead_events e SET detail = ''
               FROM erased
              WHERE e.lead_id = erased.lead_id AND e.detail <> '' AND NOT (e.type = ANY($5::text[])))
           INSERT INTO lead_events (lead_id, account_id, type, detail)
           SELECT lead_id, account_id, 'erased', $4 FROM erased
           RETURNING lead_id""",
        platform,
        external_account_id,
        platform_lead_id,
        detail,
        list(VALUE_FREE_EVENTS),
    )
    return [r["lead_id"] for r in rows]


async def erased_leads(con: Connection, account_id: UUID, lead_ids: Sequence[UUID]) -> list[UUID]:
    """Which of these leads of the account are erased."""
    rows = await con.fetch(
        "SELECT lead_id FROM leads WHERE lead_id = ANY($1::uuid[]) AND account_id = $2 AND erased_at IS NOT NULL",
        list(lead_ids),
        account_id,
    )
    return [r[0] for r in rows]


async def erased_platform_leads(
    con: Connection, platform: str, external_account_id: str, platform_lead_id: str
) -> list[tuple[UUID, UUID]]:
    """(account_id, lead_id) of that platform lead's erased leads, now or before."""
    rows = await con.fetch(
        """SELECT l.account_id, l.lead_id FROM leads l JOIN sources s USING (source_id)
            WHERE s.platform = $1 AND s.external_account_id = $2 AND l.platform_lead_id = $3
              AND l.erased_at IS NOT NULL""",
        platform,
        external_account_id,
        platform_lead_id,
    )
    return [(r[0], r[1]) for r in rows]
