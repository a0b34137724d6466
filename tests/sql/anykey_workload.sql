-- anykey_workload.sql — one round of writes to anykey_schema.sql's tables
-- (psql -v r=ROUND): inserts, updates, updates of the key (the row moves to
-- another chunk and usually another shard) and deletes.
INSERT INTO k.uu SELECT gen_random_uuid(), g, 'w' || :r FROM generate_series(1, 10) g;
UPDATE k.uu SET v = v || 'u' WHERE id IN (SELECT id FROM k.uu ORDER BY md5(id::text || :r) LIMIT 10);
UPDATE k.uu SET id = gen_random_uuid() WHERE id IN (SELECT id FROM k.uu ORDER BY md5(id::text || :r || 'k') LIMIT 3);
DELETE FROM k.uu WHERE id IN (SELECT id FROM k.uu ORDER BY md5(id::text || :r || 'd') LIMIT 3);

INSERT INTO k."Slugs" SELECT (ARRAY['a', 'B', 'é', 'Z'])[1 + g % 4] || md5(:r || '-' || g), g, 'w' FROM generate_series(1, 10) g;
UPDATE k."Slugs" SET v = v || 'u' WHERE "Slug" IN (SELECT "Slug" FROM k."Slugs" ORDER BY md5("Slug" || :r) LIMIT 10);
UPDATE k."Slugs" SET "Slug" = 'b' || md5("Slug") WHERE "Slug" IN (SELECT "Slug" FROM k."Slugs" ORDER BY md5("Slug" || :r || 'k') LIMIT 3);
DELETE FROM k."Slugs" WHERE "Slug" IN (SELECT "Slug" FROM k."Slugs" ORDER BY md5("Slug" || :r || 'd') LIMIT 3);

INSERT INTO k.cslug SELECT (ARRAY['a', 'B', 'é', 'Z'])[1 + g % 4] || md5(:r || '-' || g), g, 'w' FROM generate_series(1, 10) g;
UPDATE k.cslug SET v = v || 'u' WHERE slug IN (SELECT slug FROM k.cslug ORDER BY md5(slug || :r) LIMIT 10);
UPDATE k.cslug SET slug = 'Ä' || md5(slug) WHERE slug IN (SELECT slug FROM k.cslug ORDER BY md5(slug || :r || 'k') LIMIT 3);
DELETE FROM k.cslug WHERE slug IN (SELECT slug FROM k.cslug ORDER BY md5(slug || :r || 'd') LIMIT 3);

INSERT INTO k.comp SELECT g % 7, 'n' || md5(:r || '-' || g), g, 'w' FROM generate_series(1, 10) g;
UPDATE k.comp SET v = v || 'u' WHERE (tenant, name) IN (SELECT tenant, name FROM k.comp ORDER BY md5(name || :r) LIMIT 10);
UPDATE k.comp SET tenant = tenant + 1, name = 'm' || md5(name) WHERE (tenant, name) IN (SELECT tenant, name FROM k.comp ORDER BY md5(name || :r || 'k') LIMIT 3);
DELETE FROM k.comp WHERE (tenant, name) IN (SELECT tenant, name FROM k.comp ORDER BY md5(name || :r || 'd') LIMIT 3);

INSERT INTO k.uniq SELECT 'É' || md5(:r || '-' || g), g, 'w' FROM generate_series(1, 10) g;
UPDATE k.uniq SET v = v || 'u' WHERE code IN (SELECT code FROM k.uniq ORDER BY md5(code || :r) LIMIT 10);
UPDATE k.uniq SET code = 'c' || md5(code) WHERE code IN (SELECT code FROM k.uniq ORDER BY md5(code || :r || 'k') LIMIT 3);
DELETE FROM k.uniq WHERE code IN (SELECT code FROM k.uniq ORDER BY md5(code || :r || 'd') LIMIT 3);

INSERT INTO k.nokey SELECT nextval('k.nokey_seq'), 'w' || :r FROM generate_series(1, 10);
UPDATE k.nokey SET b = b || 'u' WHERE a IN (SELECT a FROM k.nokey ORDER BY md5(a::text || :r) LIMIT 10);
UPDATE k.nokey SET a = nextval('k.nokey_seq') WHERE a IN (SELECT a FROM k.nokey ORDER BY md5(a::text || :r || 'k') LIMIT 3);
DELETE FROM k.nokey WHERE a IN (SELECT a FROM k.nokey ORDER BY md5(a::text || :r || 'd') LIMIT 3);

INSERT INTO k.skew SELECT 2000000000000 + :r::bigint * 100 + g, 'w' FROM generate_series(1, 5) g;
UPDATE k.skew SET v = v || 'u' WHERE id IN (SELECT id FROM k.skew ORDER BY md5(id::text || :r) LIMIT 5);
UPDATE k.skew SET id = -id WHERE id IN (SELECT id FROM k.skew WHERE id > 0 ORDER BY md5(id::text || :r || 'k') LIMIT 2);
DELETE FROM k.skew WHERE id IN (SELECT id FROM k.skew ORDER BY md5(id::text || :r || 'd') LIMIT 2);
