-- Lead search keys and words kept in columns, filled by the writer (leadrelay.capture.lead_search),
-- instead of 0022's PL/pgSQL index expressions: those ran for every stored or changed lead, inside
-- the statement, at 50-105 us each (a raw COPY of 1M leads went from 19-52 s to 106 s), and a
-- broad contains-search recomputed them for every match it rechecked.
--
-- search_keys: the lead's exact keys (lower-cased emails, phone digits), its lower-cased platform
-- lead id FIRST: it never changes, so a write that changes the fields keeps search_keys[1] and
-- appends the new fields' keys. search_words: the suffixes of its name and company words; the index
-- reads them as a tsvector (array_to_tsvector, a C function), so a prefix query 'cme':* finds
-- "Acme", and a recheck reads the stored column. An erased lead keeps its platform lead id's key
-- only (the id is kept; the values are gone).

DROP INDEX leads_search_keys, leads_search_words;

ALTER TABLE leads
    ADD COLUMN search_keys text[] NOT NULL DEFAULT '{}',
    ADD COLUMN search_words text[] NOT NULL DEFAULT '{}';

-- Once, the rows stored so far, by 0022's functions (the Python functions agree with them:
-- tests/leadrelay/capture/test_lead_search.py). Their keys may repeat one; harmless.
UPDATE leads
   SET search_keys = lead_search_keys(fields, platform_lead_id),
       search_words = tsvector_to_array(lead_search_words(fields));

DROP FUNCTION lead_search_keys(jsonb, text);
DROP FUNCTION lead_search_words(jsonb);

CREATE INDEX leads_search_keys ON leads USING gin (search_keys);
CREATE INDEX leads_search_words ON leads USING gin (array_to_tsvector(search_words));
