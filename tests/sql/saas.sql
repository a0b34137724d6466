-- saas.sql — a multi-tenant SaaS schema written for the tests, the way such
-- teams write them: every table carries tenant_id, GENERATED ALWAYS identity
-- keys, citext and hstore columns (contrib extensions), row-level security
-- policies isolating tenants (ENABLE and FORCE), an AFTER trigger writing an
-- audit table that is moved too, ON DELETE CASCADE children, a
-- security_barrier view, and an insert-only log without a replica identity
-- (already published, so the source refuses its UPDATE and DELETE anyway).
-- Moved: everything, by tenant_id.
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_app') THEN CREATE ROLE saas_app; END IF;
END $$;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE SCHEMA saas;
SET search_path = saas, public;

CREATE TYPE tier AS ENUM ('free', 'team', 'enterprise');

CREATE FUNCTION current_tenant() RETURNS integer LANGUAGE sql STABLE
	AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::integer $$;

CREATE TABLE tenants (
	tenant_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name citext NOT NULL UNIQUE,
	tier tier NOT NULL DEFAULT 'free',
	settings hstore NOT NULL DEFAULT ''
);

CREATE TABLE users (
	tenant_id integer NOT NULL REFERENCES tenants ON DELETE CASCADE,
	id bigint GENERATED ALWAYS AS IDENTITY,
	email citext NOT NULL,
	attrs hstore,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, email)
);

CREATE TABLE projects (
	tenant_id integer NOT NULL,
	id bigint GENERATED ALWAYS AS IDENTITY,
	owner_id bigint NOT NULL,
	name text NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, owner_id) REFERENCES users ON DELETE CASCADE
);

CREATE TABLE tasks (
	tenant_id integer NOT NULL,
	id bigint GENERATED ALWAYS AS IDENTITY,
	project_id bigint NOT NULL,
	title text NOT NULL,
	done boolean NOT NULL DEFAULT false,
	labels citext[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, project_id) REFERENCES projects ON DELETE CASCADE
);

CREATE TABLE audit_log (
	tenant_id integer NOT NULL,
	id bigint GENERATED ALWAYS AS IDENTITY,
	table_name text NOT NULL,
	op text NOT NULL,
	row_id bigint,
	at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (tenant_id, id)
);

CREATE TABLE page_views (
	tenant_id integer NOT NULL,
	path text NOT NULL,
	seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		INSERT INTO saas.audit_log (tenant_id, table_name, op, row_id) VALUES (OLD.tenant_id, TG_TABLE_NAME, TG_OP, OLD.id);
		RETURN OLD;
	END IF;
	INSERT INTO saas.audit_log (tenant_id, table_name, op, row_id) VALUES (NEW.tenant_id, TG_TABLE_NAME, TG_OP, NEW.id);
	RETURN NEW;
END $$;

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION audit();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON projects FOR EACH ROW EXECUTE FUNCTION audit();
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION audit();

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users TO saas_app USING (tenant_id = current_tenant());
CREATE POLICY tenant_isolation ON projects TO saas_app USING (tenant_id = current_tenant());
CREATE POLICY tenant_isolation ON tasks TO saas_app USING (tenant_id = current_tenant())
	WITH CHECK (tenant_id = current_tenant());
CREATE POLICY read_done ON tasks FOR SELECT USING (done);

CREATE VIEW tenant_stats WITH (security_barrier) AS
	SELECT t.tenant_id, t.name, count(u.id) AS users
	FROM tenants t LEFT JOIN users u USING (tenant_id)
	GROUP BY t.tenant_id;
COMMENT ON VIEW tenant_stats IS 'users per tenant';

GRANT USAGE ON SCHEMA saas TO saas_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, projects, tasks TO saas_app;
GRANT SELECT ON tenant_stats TO saas_app;

INSERT INTO tenants (name, tier, settings)
	SELECT 'Tenant ' || g, (ARRAY['free', 'team', 'enterprise'])[g % 3 + 1]::tier, hstore('region', 'eu-' || g % 4)
	FROM generate_series(1, 60) g;
INSERT INTO users (tenant_id, email, attrs)
	SELECT g % 60 + 1, 'User' || g || '@Example.COM', hstore(ARRAY['role', 'seat'], ARRAY['member', g::text])
	FROM generate_series(1, 600) g;
INSERT INTO projects (tenant_id, owner_id, name)
	SELECT tenant_id, id, 'Project of ' || id FROM users;
INSERT INTO projects (tenant_id, owner_id, name)
	SELECT tenant_id, id, 'Second of ' || id FROM users WHERE id % 2 = 0;
INSERT INTO tasks (tenant_id, project_id, title, labels)
	SELECT p.tenant_id, p.id, 'Task ' || g || ' of ' || p.id, ARRAY['Label' || g % 3]::citext[]
	FROM projects p CROSS JOIN generate_series(1, 4) g;
INSERT INTO page_views (tenant_id, path) SELECT g % 60 + 1, '/p/' || g FROM generate_series(1, 2000) g;
RESET search_path;
CREATE PUBLICATION saas_pub FOR TABLE saas.tenants, saas.users, saas.projects, saas.tasks, saas.audit_log,
	saas.page_views;
