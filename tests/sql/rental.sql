-- rental.sql — a DVD-rental / e-commerce schema written for the tests: what a
-- real application database carries besides its tables.  last_update stamps
-- kept by BEFORE UPDATE triggers (clock_timestamp(), so a trigger fired again
-- on a shard shows), a tsvector column kept by a trigger, an ENABLE ALWAYS
-- trigger, enums, domains, a range and a composite type, arrays, an ICU
-- collation, an extension (btree_gist) for an exclusion constraint, a
-- deferrable unique constraint, views (one whose GROUP BY relies on a primary
-- key, which pg_dump writes as a stub and a body), a view over a table that
-- stays on the source, a materialized view with an index, functions returning
-- a moved table's row type, a SQL-body function, a procedure, an aggregate,
-- extended statistics, comments, owners and grants.  payment is range-partitioned
-- by month (a DEFAULT partition for the rest), as big tables are; an ENABLE
-- REPLICA trigger on it counts the rows applied in replica mode (never on the
-- source, on every row the copy and the stream write on a shard) with a
-- sequence of its own, which pgreshard does not create on the shards (a
-- counter no moved table uses: plan says so; the test makes it there).
--
-- Moved: store, film, inventory, promotion (replicated); customer, rental,
-- payment (by customer_id).  staff stays on the source.
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rental_owner') THEN CREATE ROLE rental_owner; END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rental_app') THEN CREATE ROLE rental_app; END IF;
END $$;

CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA rental AUTHORIZATION rental_owner;
SET search_path = rental, public;

CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE TYPE price_range AS RANGE (subtype = numeric);
CREATE TYPE full_name AS (first text, last text);
CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
COMMENT ON TYPE mpaa_rating IS 'film ratings';

CREATE FUNCTION stamp_last_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.last_update := clock_timestamp();
	RETURN NEW;
END $$;

CREATE FUNCTION film_fulltext() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.fulltext := to_tsvector('english', coalesce(NEW.title, '') || ' ' || coalesce(NEW.description, ''));
	RETURN NEW;
END $$;

CREATE FUNCTION lower_email() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.email := lower(NEW.email);
	RETURN NEW;
END $$;

CREATE TABLE store (
	store_id integer PRIMARY KEY,
	name text NOT NULL,
	last_update timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE staff (
	staff_id integer PRIMARY KEY,
	store_id integer NOT NULL,
	name text NOT NULL
);

CREATE TABLE film (
	film_id serial PRIMARY KEY,
	title text COLLATE nocase NOT NULL,
	description text,
	release_year year,
	rating mpaa_rating DEFAULT 'G',
	special_features text[],
	rental_rate numeric(4,2) NOT NULL DEFAULT 4.99,
	fulltext tsvector NOT NULL DEFAULT ''::tsvector,
	last_update timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX film_fulltext_idx ON film USING gist (fulltext);
COMMENT ON TABLE film IS 'films in the catalogue';
COMMENT ON COLUMN film.fulltext IS 'kept by trigger film_fulltext';

CREATE TABLE inventory (
	inventory_id serial PRIMARY KEY,
	film_id integer NOT NULL REFERENCES film,
	store_id integer NOT NULL REFERENCES store,
	last_update timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE promotion (
	promo_id integer PRIMARY KEY,
	store_id integer NOT NULL REFERENCES store,
	during tstzrange NOT NULL,
	discount price_range,
	EXCLUDE USING gist (store_id WITH =, during WITH &&) DEFERRABLE
);

CREATE TABLE customer (
	customer_id serial PRIMARY KEY,
	store_id integer NOT NULL REFERENCES store,
	name full_name NOT NULL,
	email text,
	active boolean NOT NULL DEFAULT true,
	visits integer NOT NULL DEFAULT 0,
	tags text[] NOT NULL DEFAULT '{}',
	create_date date NOT NULL DEFAULT current_date,
	last_update timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT customer_email_key UNIQUE (email) DEFERRABLE INITIALLY DEFERRED
);
CREATE STATISTICS customer_store_active (dependencies) ON store_id, active FROM customer;

CREATE TABLE rental (
	rental_id bigserial,
	customer_id integer NOT NULL REFERENCES customer ON DELETE CASCADE,
	inventory_id integer NOT NULL REFERENCES inventory,
	rental_date timestamptz NOT NULL DEFAULT now(),
	return_date timestamptz,
	last_update timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (customer_id, rental_id)
);

CREATE TABLE payment (
	payment_id bigserial,
	customer_id integer NOT NULL REFERENCES customer ON DELETE CASCADE,
	rental_id bigint,
	amount numeric(6,2) NOT NULL CHECK (amount >= 0),
	payment_date timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (customer_id, payment_id, payment_date)
) PARTITION BY RANGE (payment_date);
DO $$ BEGIN
	FOR m IN 0..5 LOOP
		EXECUTE format('CREATE TABLE rental.payment_%s PARTITION OF rental.payment FOR VALUES FROM (%L) TO (%L)',
			to_char(date '2024-01-01' + m * interval '1 month', 'YYYY_MM'),
			date '2024-01-01' + m * interval '1 month', date '2024-01-01' + (m + 1) * interval '1 month');
	END LOOP;
END $$;
CREATE TABLE payment_default PARTITION OF payment DEFAULT;
CREATE INDEX payment_date_idx ON payment (payment_date);
CREATE SEQUENCE public.replica_applied;
CREATE FUNCTION count_replica_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM nextval('public.replica_applied');
	RETURN NEW;
END $$;
CREATE TRIGGER replica_applied AFTER INSERT ON payment FOR EACH ROW EXECUTE FUNCTION count_replica_apply();
ALTER TABLE payment ENABLE REPLICA TRIGGER replica_applied;

CREATE TRIGGER last_update BEFORE UPDATE ON store FOR EACH ROW EXECUTE FUNCTION stamp_last_update();
CREATE TRIGGER last_update BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION stamp_last_update();
CREATE TRIGGER last_update BEFORE UPDATE ON inventory FOR EACH ROW EXECUTE FUNCTION stamp_last_update();
CREATE TRIGGER last_update BEFORE UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION stamp_last_update();
CREATE TRIGGER last_update BEFORE UPDATE ON rental FOR EACH ROW EXECUTE FUNCTION stamp_last_update();
CREATE TRIGGER film_fulltext BEFORE INSERT OR UPDATE ON film FOR EACH ROW EXECUTE FUNCTION film_fulltext();
CREATE TRIGGER lower_email BEFORE INSERT OR UPDATE OF email ON customer FOR EACH ROW EXECUTE FUNCTION lower_email();
ALTER TABLE customer ENABLE ALWAYS TRIGGER lower_email;

CREATE VIEW customer_list AS
	SELECT c.customer_id, (c.name).first || ' ' || (c.name).last AS name, c.email, s.name AS store
	FROM customer c JOIN store s USING (store_id);
COMMENT ON VIEW customer_list IS 'customers with their store';
CREATE VIEW film_list AS
	SELECT f.film_id, f.title, f.rating, count(i.inventory_id) AS copies
	FROM film f LEFT JOIN inventory i USING (film_id)
	GROUP BY f.film_id;
CREATE VIEW staff_list AS SELECT s.staff_id, s.name, st.name AS store FROM staff s JOIN store st USING (store_id);
CREATE MATERIALIZED VIEW rentals_per_customer AS
	SELECT customer_id, count(*) AS rentals FROM rental GROUP BY customer_id;
CREATE UNIQUE INDEX rentals_per_customer_idx ON rentals_per_customer (customer_id);

CREATE FUNCTION customer_by_email(e text) RETURNS SETOF customer LANGUAGE sql STABLE
	AS $$ SELECT * FROM rental.customer WHERE email = lower(e) $$;
CREATE FUNCTION film_in_stock(f integer, s integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY SELECT inventory_id FROM rental.inventory WHERE film_id = f AND store_id = s;
END $$;
CREATE FUNCTION customer_rentals(c integer) RETURNS bigint LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT count(*) FROM rental.rental WHERE customer_id = c;
END;
CREATE PROCEDURE return_rental(c integer, r bigint) LANGUAGE sql
	AS $$ UPDATE rental.rental SET return_date = now() WHERE customer_id = c AND rental_id = r $$;
CREATE AGGREGATE concat_tags(text[]) (SFUNC = array_cat, STYPE = text[], INITCOND = '{}');
COMMENT ON FUNCTION customer_by_email(text) IS 'a customer row by email';

ALTER TYPE mpaa_rating OWNER TO rental_owner;
ALTER FUNCTION customer_by_email(text) OWNER TO rental_owner;
ALTER TABLE store OWNER TO rental_owner;
ALTER TABLE film OWNER TO rental_owner;
ALTER TABLE customer OWNER TO rental_owner;
ALTER TABLE rental OWNER TO rental_owner;
ALTER VIEW customer_list OWNER TO rental_owner;
ALTER MATERIALIZED VIEW rentals_per_customer OWNER TO rental_owner;
GRANT USAGE ON SCHEMA rental TO rental_app;
GRANT SELECT, INSERT, UPDATE ON customer, rental, payment TO rental_app;
GRANT SELECT ON customer_list, film_list TO rental_app;
GRANT SELECT (store_id, name) ON store TO rental_app;
GRANT EXECUTE ON FUNCTION customer_by_email(text) TO rental_app;

INSERT INTO store VALUES (1, 'Main St'), (2, 'Harbour');
INSERT INTO staff VALUES (1, 1, 'Mike'), (2, 2, 'Jon');
INSERT INTO film (title, description, release_year, rating, special_features, rental_rate)
	SELECT 'Film ' || g, 'A ' || (ARRAY['epic', 'quiet', 'odd', 'funny'])[g % 4 + 1] || ' story of ' || g,
	       1990 + g % 30, (ARRAY['G', 'PG', 'PG-13', 'R', 'NC-17'])[g % 5 + 1]::mpaa_rating,
	       (ARRAY['Trailers', 'Commentaries'])[1:g % 3], 0.99 + g % 5
	FROM generate_series(1, 200) g;
INSERT INTO inventory (film_id, store_id) SELECT g % 200 + 1, g % 2 + 1 FROM generate_series(1, 600) g;
INSERT INTO promotion VALUES
	(1, 1, tstzrange('2024-01-01', '2024-02-01'), numrange(1, 5)::text::price_range),
	(2, 1, tstzrange('2024-02-01', '2024-03-01'), NULL),
	(3, 2, tstzrange('2024-01-01', '2024-03-01'), '[0.5,2)');
INSERT INTO customer (store_id, name, email, tags)
	SELECT g % 2 + 1, ROW('First' || g, 'Last' || g)::full_name, 'Customer' || g || '@Example.com',
	       ARRAY['t' || g % 7]
	FROM generate_series(1, 1000) g;
INSERT INTO rental (customer_id, inventory_id, rental_date, return_date)
	SELECT g % 1000 + 1, g % 600 + 1, timestamptz '2024-01-01' + g * interval '1 hour',
	       CASE WHEN g % 3 = 0 THEN NULL ELSE timestamptz '2024-01-02' + g * interval '1 hour' END
	FROM generate_series(1, 4000) g;
INSERT INTO payment (customer_id, rental_id, amount, payment_date)
	SELECT customer_id, rental_id, 0.99 + rental_id % 7, rental_date FROM rental;
REFRESH MATERIALIZED VIEW rentals_per_customer;
RESET search_path;
CREATE PUBLICATION rental_pub FOR TABLE rental.store, rental.film, rental.inventory, rental.promotion,
	rental.customer, rental.rental, rental.payment;
