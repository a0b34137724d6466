-- tests/sql/stream_workload.sql — one round of writes; :r is the round number.
BEGIN;
INSERT INTO s.accounts SELECT 100000 + :r * 100 + g, g, 'new' FROM generate_series(1, 20) g;
UPDATE s.accounts SET name = name || '+' WHERE id % 97 = :r % 97;
UPDATE s.accounts SET id = id + 1000000 WHERE id = 10 + :r;           -- key change, key in identity
DELETE FROM s.accounts WHERE id = 2000 + :r;
COMMIT;
UPDATE s.orders SET customer_id = customer_id + 1 WHERE id % 50 = :r % 50;   -- key outside identity
UPDATE s.orders SET note = 'n' || :r WHERE id % 31 = :r % 31;
DELETE FROM s.orders WHERE id = 1500 + :r;
INSERT INTO s.orders VALUES (50000 + :r, :r, NULL);
UPDATE s.full_t SET a = a + 1000 WHERE b = 'f' || :r;                  -- FULL, key change
DELETE FROM s.full_t WHERE b = 'f' || (500 + :r);
INSERT INTO s.full_t VALUES (:r, NULL);
UPDATE s.idx_t SET code = code || 'x' WHERE id = :r + 1;               -- USING INDEX, key change
UPDATE s.idx_t SET v = 'w' || :r WHERE id = :r + 300;
UPDATE s.docs SET title = 'T' || :r WHERE id % 10 = :r % 10;            -- body unchanged ('u')
UPDATE s.docs SET k = k + 7, title = 'moved' WHERE id = :r + 1;         -- moves, body unchanged
DELETE FROM s.docs WHERE id = 150 + :r;
UPDATE s.countries SET name = name || '.' WHERE code = 'DE';
INSERT INTO s.scratch VALUES (1000 + :r, 'y');
