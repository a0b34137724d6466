-- tests/sql/stream_schema.sql — tables exercising every way a change must be routed.
CREATE SCHEMA s;
-- key inside the replica identity (the primary key)
CREATE TABLE s.accounts (id bigint PRIMARY KEY, region int, name text);
-- key outside the replica identity: an UPDATE of customer_id carries no old key
CREATE TABLE s.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, note text);
-- no primary key, REPLICA IDENTITY FULL
CREATE TABLE s.full_t (a int, b text);
ALTER TABLE s.full_t REPLICA IDENTITY FULL;
-- REPLICA IDENTITY USING INDEX, the key is the index column
CREATE TABLE s.idx_t (id bigint NOT NULL, code text NOT NULL, v text);
CREATE UNIQUE INDEX idx_t_code ON s.idx_t (code);
ALTER TABLE s.idx_t REPLICA IDENTITY USING INDEX idx_t_code;
-- TOASTed values: updates leave them unchanged ('u'), some updates move the row
CREATE TABLE s.docs (id bigint PRIMARY KEY, k bigint NOT NULL, title text, body text);
ALTER TABLE s.docs REPLICA IDENTITY DEFAULT;
-- truncated during the stream
CREATE TABLE s.scratch (id int PRIMARY KEY, v text);
-- replicated to every shard
CREATE TABLE s.countries (code text PRIMARY KEY, name text);

INSERT INTO s.accounts SELECT g, g % 7, 'acct ' || g FROM generate_series(1, 3000) g;
INSERT INTO s.orders SELECT g, g % 500, 'o' || g FROM generate_series(1, 3000) g;
INSERT INTO s.full_t SELECT g % 300, 'f' || g FROM generate_series(1, 1000) g;
INSERT INTO s.idx_t SELECT g, 'c' || g, 'v' FROM generate_series(1, 1000) g;
INSERT INTO s.docs SELECT g, g, 't' || g,
  (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 150) i)
  FROM generate_series(1, 200) g;
INSERT INTO s.scratch SELECT g, 'x' FROM generate_series(1, 100) g;
INSERT INTO s.countries VALUES ('DE', 'Germany'), ('FR', 'France');
CREATE PUBLICATION pub FOR TABLE s.accounts, s.orders, s.full_t, s.idx_t, s.docs, s.scratch, s.countries;
