--
-- PostgreSQL database dump
--

\restrict 7XBr9gPi1ubHRx8oQhIfySJAboSejW9L7qr4iqOaE6wW2gJMJjW0OpJQ0mgWoY5

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: Billing Dept; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA "Billing Dept";


--
-- Name: app; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA app;


--
-- Name: SCHEMA app; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON SCHEMA app IS 'application tables';


--
-- Name: archive; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA archive;


--
-- Name: shop; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA shop;


--
-- Name: ci; Type: COLLATION; Schema: app; Owner: -
--

CREATE COLLATION app.ci (provider = icu, deterministic = false, locale = 'und-u-ks-level2');


--
-- Name: citext; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;


--
-- Name: EXTENSION citext; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION citext IS 'data type for case-insensitive character strings';


--
-- Name: Currency Code; Type: DOMAIN; Schema: Billing Dept; Owner: -
--

CREATE DOMAIN "Billing Dept"."Currency Code" AS text COLLATE pg_catalog."C"
	CONSTRAINT "Currency Code_check" CHECK ((VALUE ~ '^[A-Z]{3}$'::text));


--
-- Name: floatrange; Type: TYPE; Schema: app; Owner: -
--

CREATE TYPE app.floatrange AS RANGE (
    subtype = double precision,
    multirange_type_name = app.floatmultirange
);


--
-- Name: money_pair; Type: TYPE; Schema: app; Owner: -
--

CREATE TYPE app.money_pair AS (
	amount numeric(14,4),
	currency character(3)
);


--
-- Name: mood; Type: TYPE; Schema: app; Owner: -
--

CREATE TYPE app.mood AS ENUM (
    'happy',
    'sad',
    'meh'
);


--
-- Name: TYPE mood; Type: COMMENT; Schema: app; Owner: -
--

COMMENT ON TYPE app.mood IS 'how a customer feels; it''s an enum';


--
-- Name: posint; Type: DOMAIN; Schema: app; Owner: -
--

CREATE DOMAIN app.posint AS integer
	CONSTRAINT posint_check CHECK ((VALUE > 0));


--
-- Name: abs_eq(integer, integer); Type: FUNCTION; Schema: app; Owner: -
--

CREATE FUNCTION app.abs_eq(integer, integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $_$SELECT abs($1) = abs($2)$_$;


--
-- Name: norm(text); Type: FUNCTION; Schema: app; Owner: -
--

CREATE FUNCTION app.norm(t text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT lower(btrim(t)) $$;


--
-- Name: FUNCTION norm(t text); Type: COMMENT; Schema: app; Owner: -
--

COMMENT ON FUNCTION app.norm(t text) IS 'normalise a name';


--
-- Name: touch_updated_at(); Type: FUNCTION; Schema: app; Owner: -
--

CREATE FUNCTION app.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();   -- keep; a comment with a ; inside
    RETURN NEW;
END
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: old_orders; Type: TABLE; Schema: archive; Owner: -
--

CREATE TABLE archive.old_orders (
    id integer NOT NULL,
    customer_id bigint,
    closed_at date
);


--
-- Name: TABLE old_orders; Type: COMMENT; Schema: archive; Owner: -
--

COMMENT ON TABLE archive.old_orders IS 'not moved';


--
-- Name: count_old(); Type: FUNCTION; Schema: archive; Owner: -
--

CREATE FUNCTION archive.count_old() RETURNS bigint
    LANGUAGE sql STABLE
    BEGIN ATOMIC
 SELECT count(*) AS count
    FROM archive.old_orders;
END;


--
-- Name: FUNCTION count_old(); Type: COMMENT; Schema: archive; Owner: -
--

COMMENT ON FUNCTION archive.count_old() IS 'depends on an unmoved table';


--
-- Name: recent(); Type: FUNCTION; Schema: archive; Owner: -
--

CREATE FUNCTION archive.recent() RETURNS SETOF archive.old_orders
    LANGUAGE sql STABLE
    AS $$ SELECT * FROM archive.old_orders ORDER BY id DESC LIMIT 10 $$;


--
-- Name: textcat_all(text); Type: AGGREGATE; Schema: app; Owner: -
--

CREATE AGGREGATE app.textcat_all(text) (
    SFUNC = textcat,
    STYPE = text,
    INITCOND = ''
);


--
-- Name: =~=; Type: OPERATOR; Schema: app; Owner: -
--

CREATE OPERATOR app.=~= (
    FUNCTION = app.abs_eq,
    LEFTARG = integer,
    RIGHTARG = integer,
    COMMUTATOR = OPERATOR(app.=~=)
);


--
-- Name: invoice_no_seq; Type: SEQUENCE; Schema: shop; Owner: -
--

CREATE SEQUENCE shop.invoice_no_seq
    START WITH 1000
    INCREMENT BY 7
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: Invoices; Type: TABLE; Schema: Billing Dept; Owner: -
--

CREATE TABLE "Billing Dept"."Invoices" (
    "InvoiceId" uuid DEFAULT gen_random_uuid() NOT NULL,
    "CustomerRef" bigint,
    number bigint DEFAULT nextval('shop.invoice_no_seq'::regclass) NOT NULL,
    "Amount" app.money_pair,
    currency "Billing Dept"."Currency Code" DEFAULT 'EUR'::text,
    period app.floatrange,
    lines jsonb[],
    region smallint
);


--
-- Name: Order Items; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE app."Order Items" (
    tenant_id integer NOT NULL,
    id bigint NOT NULL,
    order_id bigint,
    customer_id bigint NOT NULL,
    price numeric(14,4),
    qty app.posint,
    total numeric GENERATED ALWAYS AS ((price * (qty)::numeric)) STORED,
    note text,
    "Line Note" text COLLATE pg_catalog."C",
    attrs jsonb,
    CONSTRAINT "Order Items qty sane" CHECK (((qty)::integer < 1000000)),
    CONSTRAINT "Order Items_price_check" CHECK ((price >= (0)::numeric))
);
ALTER TABLE ONLY app."Order Items" ALTER COLUMN note SET STATISTICS 500;


--
-- Name: TABLE "Order Items"; Type: COMMENT; Schema: app; Owner: -
--

COMMENT ON TABLE app."Order Items" IS 'lines of an order';


--
-- Name: COLUMN "Order Items"."Line Note"; Type: COMMENT; Schema: app; Owner: -
--

COMMENT ON COLUMN app."Order Items"."Line Note" IS 'free text';


--
-- Name: Order Items_id_seq; Type: SEQUENCE; Schema: app; Owner: -
--

ALTER TABLE app."Order Items" ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app."Order Items_id_seq"
    START WITH 10
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 5
);


--
-- Name: audit_log; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE app.audit_log (
    id bigint NOT NULL,
    old_order integer,
    at timestamp with time zone DEFAULT now()
);


--
-- Name: audit_log_id_seq; Type: SEQUENCE; Schema: app; Owner: -
--

ALTER TABLE app.audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: events; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE app.events (
    user_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    kind character varying(20),
    payload jsonb,
    CONSTRAINT events_kind_check CHECK (((kind)::text <> ''::text))
)
PARTITION BY RANGE (at);


--
-- Name: events_2024; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE app.events_2024 (
    user_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    kind character varying(20),
    payload jsonb,
    CONSTRAINT events_kind_check CHECK (((kind)::text <> ''::text))
);


--
-- Name: events_2025; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE app.events_2025 (
    user_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    kind character varying(20),
    payload jsonb,
    CONSTRAINT events_kind_check CHECK (((kind)::text <> ''::text))
);


--
-- Name: reviews; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE app.reviews (
    product_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    stars smallint,
    body text,
    CONSTRAINT reviews_stars_check CHECK (((stars >= 1) AND (stars <= 5)))
);


--
-- Name: monthly; Type: MATERIALIZED VIEW; Schema: archive; Owner: -
--

CREATE MATERIALIZED VIEW archive.monthly AS
 SELECT date_trunc('month'::text, (old_orders.closed_at)::timestamp with time zone) AS m,
    count(*) AS count
   FROM archive.old_orders
  GROUP BY (date_trunc('month'::text, (old_orders.closed_at)::timestamp with time zone))
  WITH NO DATA;


--
-- Name: old_orders_id_seq; Type: SEQUENCE; Schema: archive; Owner: -
--

CREATE SEQUENCE archive.old_orders_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: old_orders_id_seq; Type: SEQUENCE OWNED BY; Schema: archive; Owner: -
--

ALTER SEQUENCE archive.old_orders_id_seq OWNED BY archive.old_orders.id;


--
-- Name: customers; Type: TABLE; Schema: shop; Owner: -
--

CREATE TABLE shop.customers (
    id bigint NOT NULL,
    email public.citext,
    name text NOT NULL COLLATE app.ci,
    mood app.mood DEFAULT 'meh'::app.mood,
    tags text[] DEFAULT '{}'::text[],
    prefs jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone,
    CONSTRAINT customers_name_check CHECK (((name <> ''::text) AND (name !~ ','::text)))
);


--
-- Name: TABLE customers; Type: COMMENT; Schema: shop; Owner: -
--

COMMENT ON TABLE shop.customers IS 'people who buy; "quoted" text';


--
-- Name: COLUMN customers.prefs; Type: COMMENT; Schema: shop; Owner: -
--

COMMENT ON COLUMN shop.customers.prefs IS 'free-form settings';


--
-- Name: CONSTRAINT customers_name_check ON customers; Type: COMMENT; Schema: shop; Owner: -
--

COMMENT ON CONSTRAINT customers_name_check ON shop.customers IS 'names are not empty';


--
-- Name: orders; Type: TABLE; Schema: shop; Owner: -
--

CREATE TABLE shop.orders (
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    status app.mood,
    total numeric(12,2),
    placed_at timestamp with time zone DEFAULT now(),
    region_code smallint,
    CONSTRAINT orders_total_check CHECK ((total >= (0)::numeric))
);

ALTER TABLE ONLY shop.orders REPLICA IDENTITY FULL;


--
-- Name: customer_totals; Type: VIEW; Schema: shop; Owner: -
--

CREATE VIEW shop.customer_totals AS
 SELECT c.id,
    c.name,
    sum(o.total) AS total
   FROM (shop.customers c
     JOIN shop.orders o ON ((o.customer_id = c.id)))
  GROUP BY c.id, c.name;


--
-- Name: VIEW customer_totals; Type: COMMENT; Schema: shop; Owner: -
--

COMMENT ON VIEW shop.customer_totals IS 'a view';


--
-- Name: order_notes; Type: TABLE; Schema: shop; Owner: -
--

CREATE TABLE shop.order_notes (
    id integer NOT NULL,
    customer_id bigint,
    order_id bigint,
    body text
);


--
-- Name: order_notes_id_seq; Type: SEQUENCE; Schema: shop; Owner: -
--

ALTER TABLE shop.order_notes ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME shop.order_notes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: orders_id_seq; Type: SEQUENCE; Schema: shop; Owner: -
--

CREATE SEQUENCE shop.orders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: orders_id_seq; Type: SEQUENCE OWNED BY; Schema: shop; Owner: -
--

ALTER SEQUENCE shop.orders_id_seq OWNED BY shop.orders.id;


--
-- Name: regions; Type: TABLE; Schema: shop; Owner: -
--

CREATE TABLE shop.regions (
    code smallint NOT NULL,
    label text NOT NULL
);


--
-- Name: unused_seq; Type: SEQUENCE; Schema: shop; Owner: -
--

CREATE SEQUENCE shop.unused_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: events_2024; Type: TABLE ATTACH; Schema: app; Owner: -
--

ALTER TABLE ONLY app.events ATTACH PARTITION app.events_2024 FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');


--
-- Name: events_2025; Type: TABLE ATTACH; Schema: app; Owner: -
--

ALTER TABLE ONLY app.events ATTACH PARTITION app.events_2025 FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');


--
-- Name: old_orders id; Type: DEFAULT; Schema: archive; Owner: -
--

ALTER TABLE ONLY archive.old_orders ALTER COLUMN id SET DEFAULT nextval('archive.old_orders_id_seq'::regclass);


--
-- Name: orders id; Type: DEFAULT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.orders ALTER COLUMN id SET DEFAULT nextval('shop.orders_id_seq'::regclass);


--
-- Name: Invoices Invoices_number_currency_key; Type: CONSTRAINT; Schema: Billing Dept; Owner: -
--

ALTER TABLE ONLY "Billing Dept"."Invoices"
    ADD CONSTRAINT "Invoices_number_currency_key" UNIQUE NULLS NOT DISTINCT (number, currency);


--
-- Name: Invoices Invoices_period_excl; Type: CONSTRAINT; Schema: Billing Dept; Owner: -
--

ALTER TABLE ONLY "Billing Dept"."Invoices"
    ADD CONSTRAINT "Invoices_period_excl" EXCLUDE USING gist (period WITH &&);


--
-- Name: Invoices Invoices_pkey; Type: CONSTRAINT; Schema: Billing Dept; Owner: -
--

ALTER TABLE ONLY "Billing Dept"."Invoices"
    ADD CONSTRAINT "Invoices_pkey" PRIMARY KEY ("InvoiceId");


--
-- Name: Order Items Order Items_pkey; Type: CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app."Order Items"
    ADD CONSTRAINT "Order Items_pkey" PRIMARY KEY (tenant_id, id);


--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (user_id, at);


--
-- Name: events_2024 events_2024_pkey; Type: CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app.events_2024
    ADD CONSTRAINT events_2024_pkey PRIMARY KEY (user_id, at);


--
-- Name: events_2025 events_2025_pkey; Type: CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app.events_2025
    ADD CONSTRAINT events_2025_pkey PRIMARY KEY (user_id, at);


--
-- Name: reviews reviews_pkey; Type: CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app.reviews
    ADD CONSTRAINT reviews_pkey PRIMARY KEY (product_id, customer_id);


--
-- Name: old_orders old_orders_pkey; Type: CONSTRAINT; Schema: archive; Owner: -
--

ALTER TABLE ONLY archive.old_orders
    ADD CONSTRAINT old_orders_pkey PRIMARY KEY (id);


--
-- Name: customers customers_email_key; Type: CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.customers
    ADD CONSTRAINT customers_email_key UNIQUE (email);


--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);

ALTER TABLE shop.customers CLUSTER ON customers_pkey;


--
-- Name: order_notes order_notes_pkey; Type: CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.order_notes
    ADD CONSTRAINT order_notes_pkey PRIMARY KEY (id);


--
-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (customer_id, id);


--
-- Name: regions regions_label_key; Type: CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.regions
    ADD CONSTRAINT regions_label_key UNIQUE (label);


--
-- Name: regions regions_pkey; Type: CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.regions
    ADD CONSTRAINT regions_pkey PRIMARY KEY (code);


--
-- Name: invoices_number_key; Type: INDEX; Schema: Billing Dept; Owner: -
--

CREATE UNIQUE INDEX invoices_number_key ON "Billing Dept"."Invoices" USING btree (number);

ALTER TABLE ONLY "Billing Dept"."Invoices" REPLICA IDENTITY USING INDEX invoices_number_key;


--
-- Name: Order Items note idx; Type: INDEX; Schema: app; Owner: -
--

CREATE INDEX "Order Items note idx" ON app."Order Items" USING btree (note) INCLUDE (qty);


--
-- Name: audit_log_at_idx; Type: INDEX; Schema: app; Owner: -
--

CREATE INDEX audit_log_at_idx ON app.audit_log USING btree (at);


--
-- Name: events_kind_idx; Type: INDEX; Schema: app; Owner: -
--

CREATE INDEX events_kind_idx ON ONLY app.events USING btree (kind);


--
-- Name: events_2024_kind_idx; Type: INDEX; Schema: app; Owner: -
--

CREATE INDEX events_2024_kind_idx ON app.events_2024 USING btree (kind);


--
-- Name: events_2025_kind_idx; Type: INDEX; Schema: app; Owner: -
--

CREATE INDEX events_2025_kind_idx ON app.events_2025 USING btree (kind);


--
-- Name: order_items_attrs_sku; Type: INDEX; Schema: app; Owner: -
--

CREATE UNIQUE INDEX order_items_attrs_sku ON app."Order Items" USING btree (((attrs ->> 'sku'::text))) WHERE (attrs ? 'sku'::text);


--
-- Name: monthly_m_idx; Type: INDEX; Schema: archive; Owner: -
--

CREATE INDEX monthly_m_idx ON archive.monthly USING btree (m);


--
-- Name: old_orders_closed_idx; Type: INDEX; Schema: archive; Owner: -
--

CREATE INDEX old_orders_closed_idx ON archive.old_orders USING btree (closed_at);


--
-- Name: customers_lower_name_idx; Type: INDEX; Schema: shop; Owner: -
--

CREATE INDEX customers_lower_name_idx ON shop.customers USING btree (lower(name));


--
-- Name: INDEX customers_lower_name_idx; Type: COMMENT; Schema: shop; Owner: -
--

COMMENT ON INDEX shop.customers_lower_name_idx IS 'case-insensitive lookups';


--
-- Name: customers_prefs_idx; Type: INDEX; Schema: shop; Owner: -
--

CREATE INDEX customers_prefs_idx ON shop.customers USING gin (prefs jsonb_path_ops);


--
-- Name: orders_open_idx; Type: INDEX; Schema: shop; Owner: -
--

CREATE INDEX orders_open_idx ON shop.orders USING btree (placed_at) WHERE (status <> 'sad'::app.mood);


--
-- Name: events_2024_kind_idx; Type: INDEX ATTACH; Schema: app; Owner: -
--

ALTER INDEX app.events_kind_idx ATTACH PARTITION app.events_2024_kind_idx;


--
-- Name: events_2024_pkey; Type: INDEX ATTACH; Schema: app; Owner: -
--

ALTER INDEX app.events_pkey ATTACH PARTITION app.events_2024_pkey;


--
-- Name: events_2025_kind_idx; Type: INDEX ATTACH; Schema: app; Owner: -
--

ALTER INDEX app.events_kind_idx ATTACH PARTITION app.events_2025_kind_idx;


--
-- Name: events_2025_pkey; Type: INDEX ATTACH; Schema: app; Owner: -
--

ALTER INDEX app.events_pkey ATTACH PARTITION app.events_2025_pkey;


--
-- Name: orders_stats; Type: STATISTICS; Schema: shop; Owner: -
--

CREATE STATISTICS shop.orders_stats (dependencies) ON customer_id, status FROM shop.orders;


--
-- Name: regions regions_no_delete; Type: RULE; Schema: shop; Owner: -
--

CREATE RULE regions_no_delete AS
    ON DELETE TO shop.regions DO INSTEAD NOTHING;


--
-- Name: audit_log audit_touch; Type: TRIGGER; Schema: app; Owner: -
--

CREATE TRIGGER audit_touch BEFORE UPDATE ON app.audit_log FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();


--
-- Name: customers customers_touch; Type: TRIGGER; Schema: shop; Owner: -
--

CREATE TRIGGER customers_touch BEFORE UPDATE ON shop.customers FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();


--
-- Name: Invoices Invoices_CustomerRef_fkey; Type: FK CONSTRAINT; Schema: Billing Dept; Owner: -
--

ALTER TABLE ONLY "Billing Dept"."Invoices"
    ADD CONSTRAINT "Invoices_CustomerRef_fkey" FOREIGN KEY ("CustomerRef") REFERENCES shop.customers(id);


--
-- Name: Invoices Invoices_region_fkey; Type: FK CONSTRAINT; Schema: Billing Dept; Owner: -
--

ALTER TABLE ONLY "Billing Dept"."Invoices"
    ADD CONSTRAINT "Invoices_region_fkey" FOREIGN KEY (region) REFERENCES shop.regions(code);


--
-- Name: Order Items Order Items order fk; Type: FK CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app."Order Items"
    ADD CONSTRAINT "Order Items order fk" FOREIGN KEY (customer_id, order_id) REFERENCES shop.orders(customer_id, id);


--
-- Name: audit_log audit_log_old_order_fkey; Type: FK CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app.audit_log
    ADD CONSTRAINT audit_log_old_order_fkey FOREIGN KEY (old_order) REFERENCES archive.old_orders(id);


--
-- Name: events events_user_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE app.events
    ADD CONSTRAINT events_user_id_fkey FOREIGN KEY (user_id) REFERENCES shop.customers(id);


--
-- Name: reviews reviews_customer_id_fkey; Type: FK CONSTRAINT; Schema: app; Owner: -
--

ALTER TABLE ONLY app.reviews
    ADD CONSTRAINT reviews_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES shop.customers(id);


--
-- Name: old_orders old_orders_customer_id_fkey; Type: FK CONSTRAINT; Schema: archive; Owner: -
--

ALTER TABLE ONLY archive.old_orders
    ADD CONSTRAINT old_orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES shop.customers(id);


--
-- Name: order_notes order_notes_customer_id_order_id_fkey; Type: FK CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.order_notes
    ADD CONSTRAINT order_notes_customer_id_order_id_fkey FOREIGN KEY (customer_id, order_id) REFERENCES shop.orders(customer_id, id);


--
-- Name: orders orders_customer_id_fkey; Type: FK CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.orders
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES shop.customers(id) ON DELETE CASCADE;


--
-- Name: orders orders_region_fk; Type: FK CONSTRAINT; Schema: shop; Owner: -
--

ALTER TABLE ONLY shop.orders
    ADD CONSTRAINT orders_region_fk FOREIGN KEY (region_code) REFERENCES shop.regions(code);


--
-- Name: Invoices; Type: ROW SECURITY; Schema: Billing Dept; Owner: -
--

ALTER TABLE "Billing Dept"."Invoices" ENABLE ROW LEVEL SECURITY;

--
-- Name: Invoices own invoices; Type: POLICY; Schema: Billing Dept; Owner: -
--

CREATE POLICY "own invoices" ON "Billing Dept"."Invoices" FOR SELECT USING (("CustomerRef" = (current_setting('app.customer'::text))::bigint));


--
-- PostgreSQL database dump complete
--

\unrestrict 7XBr9gPi1ubHRx8oQhIfySJAboSejW9L7qr4iqOaE6wW2gJMJjW0OpJQ0mgWoY5

