-- anykey_schema.sql — tables of every kind of chunk key (test_copy_any_key.sh):
-- uuid, text under a linguistic ICU collation, text under "C", a composite key
-- (integer, text under the database's C.UTF-8), a unique NOT NULL key without a
-- primary key (text under the C.utf8 collation), and a table with no key at all
-- (REPLICA IDENTITY FULL).  Both C.UTF-8 keys order as bytes on glibc 2.35 and
-- later: pgreshard records them as under "C" and compares them itself.
CREATE SCHEMA k;
CREATE TABLE k.uu (id uuid PRIMARY KEY, n int NOT NULL, v text);
CREATE TABLE k."Slugs" ("Slug" text COLLATE "en-US-x-icu" PRIMARY KEY, n int NOT NULL, v text);
CREATE TABLE k.cslug (slug varchar(64) COLLATE "C" PRIMARY KEY, n int NOT NULL, v text);
CREATE TABLE k.comp (tenant int, name text, n int NOT NULL, v text, PRIMARY KEY (tenant, name));
CREATE TABLE k.uniq (code text COLLATE "C.utf8" NOT NULL UNIQUE, n int NOT NULL, v text);
ALTER TABLE k.uniq REPLICA IDENTITY USING INDEX uniq_code_key;
CREATE TABLE k.nokey (a bigint NOT NULL, b text);
ALTER TABLE k.nokey REPLICA IDENTITY FULL;
CREATE SEQUENCE k.nokey_seq START 100000;
-- sparse, skewed ids (snowflake-like): most rows dense at the start, the rest
-- spread over a range a million times wider
CREATE TABLE k.skew (id bigint PRIMARY KEY, v text);

-- mixed case and accents so that ICU order differs from byte order
INSERT INTO k.uu SELECT gen_random_uuid(), g, 'v' || g FROM generate_series(1, 6000) g;
INSERT INTO k."Slugs" SELECT (ARRAY['a', 'B', 'é', 'Z', 'ä'])[1 + g % 5] || md5(g::text), g, 'v' || g
  FROM generate_series(1, 6000) g;
INSERT INTO k.cslug SELECT (ARRAY['a', 'B', 'é', 'Z', 'ä'])[1 + g % 5] || md5(g::text), g, 'v' || g
  FROM generate_series(1, 6000) g;
INSERT INTO k.comp SELECT g % 7, (ARRAY['x', 'Y', 'é'])[1 + g % 3] || md5(g::text), g, 'v' || g
  FROM generate_series(1, 6000) g;
INSERT INTO k.uniq SELECT (ARRAY['q', 'R', 'à'])[1 + g % 3] || md5(g::text), g, 'v' || g
  FROM generate_series(1, 6000) g;
INSERT INTO k.nokey SELECT g, 'b' || g FROM generate_series(1, 6000) g;
INSERT INTO k.skew SELECT g, 'v' || g FROM generate_series(1, 5000) g;
INSERT INTO k.skew SELECT 1000000000000 + g::bigint * 1000000000, 's' || g FROM generate_series(1, 1000) g;
ANALYZE;
CREATE PUBLICATION pub FOR TABLE k.uu, k."Slugs", k.cslug, k.comp, k.uniq, k.nokey, k.skew;
