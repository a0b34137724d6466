-- tests/sql/realistic.sql — a schema with the shapes resharding must get right:
-- several schemas, quoted mixed-case names with spaces, enums, domains, jsonb,
-- arrays, numeric, bytea, TOAST-sized values, NULL keys, identity and generated
-- columns, a table without a primary key, a replicated table, multi-column keys.
CREATE SCHEMA app;
CREATE SCHEMA "Billing Dept";
CREATE TYPE app.mood AS ENUM ('happy', 'sad', 'meh');
CREATE DOMAIN app.posint AS integer CHECK (VALUE > 0);

CREATE TABLE app.users (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    mood app.mood,
    tags text[],
    settings jsonb,
    score app.posint
);
CREATE TABLE app."Order Items" (
    tenant_id integer NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    price numeric(14,4),
    qty integer,
    total numeric GENERATED ALWAYS AS (price * qty) STORED,
    note text,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE "Billing Dept"."Invoices" (
    "InvoiceId" uuid PRIMARY KEY,
    "CustomerRef" text,
    blob bytea,
    big text
);
CREATE TABLE app.events (
    user_id bigint,
    kind varchar(20),
    payload jsonb
);
ALTER TABLE app.events REPLICA IDENTITY FULL;
CREATE TABLE app.regions (code smallint PRIMARY KEY, label text);

INSERT INTO app.users
SELECT g, 'user ' || g || E'\ttab\\slash', (ARRAY['happy','sad','meh'])[1 + g % 3]::app.mood,
       ARRAY['t' || g % 5, 'x y'], jsonb_build_object('n', g, 's', 'é ü ✓'), 1 + g % 100
FROM generate_series(1, 3000) g;
INSERT INTO app."Order Items" (tenant_id, price, qty, note)
SELECT 1 + g % 50, g * 1.25, g % 7, CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' || g END
FROM generate_series(1, 4000) g;
INSERT INTO "Billing Dept"."Invoices"
SELECT md5(g::text)::uuid, CASE WHEN g % 13 = 0 THEN NULL ELSE 'C-' || g END,
       decode(md5(g::text), 'hex'),
       CASE WHEN g % 100 = 0 THEN repeat(md5(g::text), 400) ELSE 'small' END
FROM generate_series(1, 1500) g;
INSERT INTO app.events
SELECT CASE WHEN g % 17 = 0 THEN NULL ELSE g % 300 END, 'k' || g % 4, jsonb_build_object('g', g)
FROM generate_series(1, 2500) g;
INSERT INTO app.regions VALUES (1, 'north'), (2, 'south'), (3, 'east'), (4, 'west');

CREATE PUBLICATION pub FOR TABLE app.users, app."Order Items", "Billing Dept"."Invoices",
    app.events, app.regions;
ANALYZE;
