-- Finding a lead (the console's search box, ListLeads' `query`) and who acted on it.
--
-- Exact lookups (email, phone, platform lead id) go through one GIN index over a lead's search keys;
-- "name or company contains" through a GIN index over the suffixes of the words in its name and
-- company columns (a word containing "cme" has a suffix starting with "cme", so a prefix query on the
-- suffixes finds it). pg_trgm would do the second, but the embedded server (the pgserver wheel) ships
-- without it; these need nothing beyond core PostgreSQL 15.

-- Who acted: "user:<report user id>" (the console, on a signed-in person's behalf), "key:<prefix>"
-- (an API key), '' (the system itself). The console shows the person's name.
ALTER TABLE lead_events ADD COLUMN actor text NOT NULL DEFAULT '';

-- Both functions are PL/pgSQL loops over the fields: they run for every stored or changed lead, and
-- measured on 50,000 leads they cost about half of the same work as SQL set expressions. Their COST
-- tells the planner that running them row by row is dear: a search must read its GIN index, never walk
-- the account's leads newest first evaluating the function on each (a phone search did, at 1M leads).

-- A lead's exact-match keys, lower-cased: each value of a column whose name says email, the digits of
-- each value of a column whose name says phone or mobile (6 digits or more), and the platform lead id.
-- Fields that are not a JSON object read as none (an index expression must never fail an insert).
CREATE FUNCTION lead_search_keys(fields jsonb, platform_lead_id text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 10000 AS $$
DECLARE
    c text;
    v text;
    digits text;
    keys text[] := ARRAY[lower(platform_lead_id)];
BEGIN
    IF jsonb_typeof(fields) IS DISTINCT FROM 'object' THEN
        RETURN keys;
    END IF;
    FOR c, v IN SELECT * FROM jsonb_each_text(fields) LOOP
        IF v LIKE '%@%' AND length(v) <= 320 AND c ~* 'e-?mail' THEN
            keys := keys || lower(btrim(v));
        ELSIF c ~* '(phone|mobile)' THEN
            digits := regexp_replace(left(v, 64), '[^0-9]', '', 'g');
            IF length(digits) >= 6 THEN
                keys := keys || digits;
            END IF;
        END IF;
    END LOOP;
    RETURN keys;
END
$$;

-- Every suffix of 3 or more characters of every word (3 to 40 letters or digits) of the values of the
-- name and company columns (each cut to 200 characters: the suffixes grow with the square of a word's
-- length), lower-cased, as lexemes. A word containing "cme" has a suffix starting with "cme", so the
-- prefix query 'cme':* finds "Acme".
CREATE FUNCTION lead_search_words(fields jsonb) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 10000 AS $$
DECLARE
    c text;
    v text;
    w text;
    suffixes text[] := '{}';
BEGIN
    IF jsonb_typeof(fields) IS DISTINCT FROM 'object' THEN
        RETURN ''::tsvector;
    END IF;
    FOR c, v IN SELECT * FROM jsonb_each_text(fields) LOOP
        IF c ~* '(name|company|organi[sz]ation)' THEN
            FOREACH w IN ARRAY regexp_split_to_array(lower(left(v, 200)), '[^[:alnum:]]+') LOOP
                IF length(w) BETWEEN 3 AND 40 THEN
                    FOR i IN 1 .. length(w) - 2 LOOP
                        suffixes := suffixes || substr(w, i);
                    END LOOP;
                END IF;
            END LOOP;
        END IF;
    END LOOP;
    RETURN array_to_tsvector(suffixes);
END
$$;

CREATE INDEX leads_search_keys ON leads USING gin (lead_search_keys(fields, platform_lead_id));
CREATE INDEX leads_search_words ON leads USING gin (lead_search_words(fields));
