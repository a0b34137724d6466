-- state.sql — pgreshard's state on a destination shard (DESIGN.md invariant 7).
--
-- Every shard has the schema: each shard's chunk ledger and schema markers
-- commit in the same transaction as the data or DDL they record.  The step
-- journal, the object ledger and the plan-wide records (runs, chunk plan, DDL
-- script) live on shard 0.  Rows are keyed by plan name, so several plans may
-- share a destination.  Idempotent: run at every apply.
CREATE SCHEMA IF NOT EXISTS pgreshard;

CREATE TABLE IF NOT EXISTS pgreshard.runs (
    plan_name     text PRIMARY KEY,
    nshards       int NOT NULL,
    nsources      int NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    holder_host   text,
    holder_pid    int,
    holder_since  timestamptz,
    cutover_requested boolean NOT NULL DEFAULT false  -- `pgreshard cutover` (manual mode)
);
-- The saved plan (its id) whose `apply SAVED` started this run, if any: its own
-- progress is then not a change to the destination (planner/saved/fingerprint.h).
ALTER TABLE pgreshard.runs ADD COLUMN IF NOT EXISTS saved_plan_id text;

CREATE TABLE IF NOT EXISTS pgreshard.steps (
    plan_name     text NOT NULL,
    step          text NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'done', 'failed')),
    started_at    timestamptz,
    finished_at   timestamptz,
    attempts      int NOT NULL DEFAULT 0,
    last_error    text,
    PRIMARY KEY (plan_name, step)
);

-- Objects pgreshard creates, written before they are created (invariant 8).
CREATE TABLE IF NOT EXISTS pgreshard.ledger (
    plan_name     text NOT NULL,
    kind          text NOT NULL,          -- slot | publication | origin | schema
    name          text NOT NULL,
    server        text NOT NULL,          -- "source 0", "shard 2"
    created_at    timestamptz NOT NULL DEFAULT now(),
    dropped_at    timestamptz,
    lsn           pg_lsn,                 -- a slot's consistent point
    PRIMARY KEY (plan_name, kind, name, server)
);

-- The chunk plan: fixed once per plan and source, so reruns split the same way.
CREATE TABLE IF NOT EXISTS pgreshard.chunk_plan (
    plan_name     text NOT NULL,
    source        int NOT NULL,
    table_index   int NOT NULL,
    chunk         int NOT NULL,
    lo            bigint,                 -- NULL: unbounded
    hi            bigint,                 -- NULL: unbounded (exclusive upper bound)
    est_rows      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_name, source, table_index, chunk)
);
-- Chunks of any key (runner/copy/copy_chunks.c).  chunk_by: 'key' (a range
-- of key_cols, bounds as text[] of the columns' text forms, compared by the
-- server as key_types under key_colls), 'ctid' (a block range, lo_key/hi_key
-- one '(block,0)' each), 'whole' (the table).  NULL: a row written before
-- these columns, bounded by lo/hi on the integer primary key.
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS chunk_by text;
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS key_cols text[];
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS key_types text[];
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS key_colls text[];
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS lo_key text[];   -- NULL: unbounded
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS hi_key text[];   -- NULL: unbounded (exclusive)
-- A chunk of a partitioned table reads one leaf partition (ONLY it): its
-- name and partition constraint (the stream places a change's row in it).
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS leaf_schema text;
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS leaf_name text;
ALTER TABLE pgreshard.chunk_plan ADD COLUMN IF NOT EXISTS leaf_cond text;

-- A chunk done on THIS shard: committed with the chunk's rows (invariant 2).
CREATE TABLE IF NOT EXISTS pgreshard.chunks_done (
    plan_name     text NOT NULL,
    source        int NOT NULL,
    table_index   int NOT NULL,
    chunk         int NOT NULL,
    rows          bigint NOT NULL,
    bytes         bigint NOT NULL,
    snapshot_lsn  pg_lsn NOT NULL,
    done_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, source, table_index, chunk)
);

-- A shared scan's slice part-way through a group of chunks on THIS shard
-- (runner/copy/copy_scan.c): the rounds of its block range committed here,
-- in the same transactions as their rows, and each chunk's rows and bytes
-- so far.  Valid only under the snapshot it names: a rerun under the same
-- snapshot (kept by a snapshot keeper) continues after rounds_done; any
-- other run deletes the group's rows here first.  The slice that commits
-- the last round records the group's chunks in chunks_done and deletes
-- these rows, in one transaction.
CREATE TABLE IF NOT EXISTS pgreshard.scan_progress (
    plan_name     text NOT NULL,
    source        int NOT NULL,
    table_index   int NOT NULL,
    first_chunk   int NOT NULL,
    slice         int NOT NULL,
    nchunks       int NOT NULL,
    nslices       int NOT NULL,
    nblocks       bigint NOT NULL,
    rounds        int NOT NULL,
    snapshot_lsn  pg_lsn NOT NULL,
    rounds_done   int NOT NULL,
    rows          bigint[] NOT NULL,
    bytes         bigint[] NOT NULL,
    PRIMARY KEY (plan_name, source, table_index, first_chunk, slice)
);

-- A source's copy snapshot held by a keeper process (shard 0), so that a
-- rerun after the runner died continues under it: the exported name, its
-- consistent point, and a lease the running apply renews; the keeper ends
-- its transaction once the row is gone or the lease has passed
-- (runner/prepare/snapshot_keeper.c).  Written before the keeper starts.
CREATE TABLE IF NOT EXISTS pgreshard.snapshot_keepers (
    plan_name     text NOT NULL,
    source        int NOT NULL,
    token         text NOT NULL,
    snapshot      text,
    snapshot_lsn  pg_lsn,
    snapshot_xids text,           -- pg_current_snapshot() under it: the same snapshot, not a name reused
    keeper_pid    int,
    host          text,
    wanted_until  timestamptz NOT NULL,
    PRIMARY KEY (plan_name, source)
);

-- The DDL script taken from the source at schema-pre (shard 0), replayed by
-- schema-post, so both use the same statements even after a rerun.
CREATE TABLE IF NOT EXISTS pgreshard.ddl (
    plan_name     text NOT NULL,
    stmt          int NOT NULL,
    phase         text NOT NULL CHECK (phase IN ('pre', 'post')),
    table_index   int NOT NULL,           -- the moved table it belongs to, or -1
    what          text NOT NULL,
    sql           text NOT NULL,
    PRIMARY KEY (plan_name, stmt)
);

-- A DDL statement applied on THIS shard, committed with the DDL itself.
CREATE TABLE IF NOT EXISTS pgreshard.ddl_done (
    plan_name     text NOT NULL,
    stmt          int NOT NULL,
    done_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, stmt)
);

-- Stream progress on THIS shard: the commit LSN of the last source transaction
-- whose changes this shard has applied, committed with those changes
-- (invariant 3).  One row per source.
CREATE TABLE IF NOT EXISTS pgreshard.apply_progress (
    plan_name     text NOT NULL,
    source        int NOT NULL,
    lsn           pg_lsn NOT NULL,
    commit_ts     timestamptz,            -- the source commit time of that transaction
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, source)
);

-- Cutover attempts (shard 0): how long writes were held, where the fence was.
CREATE TABLE IF NOT EXISTS pgreshard.cutovers (
    plan_name     text NOT NULL,
    attempt       int NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    outcome       text NOT NULL DEFAULT 'running'
                  CHECK (outcome IN ('running', 'done', 'aborted')),
    freeze_ms     bigint,                 -- writes held on the source, in milliseconds
    fence_lsn     pg_lsn,                 -- per source, the largest
    reason        text,                   -- why it aborted
    PRIMARY KEY (plan_name, attempt)
);

-- Verify results (shard 0): the last comparison, per table and shard.
CREATE TABLE IF NOT EXISTS pgreshard.verify_results (
    plan_name     text NOT NULL,
    verified_at   timestamptz NOT NULL DEFAULT now(),
    table_index   int NOT NULL,
    shard         int NOT NULL,
    source_rows   bigint NOT NULL,
    shard_rows    bigint NOT NULL,
    differences   int NOT NULL,
    PRIMARY KEY (plan_name, table_index, shard)
);

-- Rows the validate hook rejected while hooks.validate_mode is report
-- (shard 0): the first ones, per table and key; `status` shows them.
CREATE TABLE IF NOT EXISTS pgreshard.violations (
    plan_name     text NOT NULL,
    table_name    text NOT NULL,
    row_key       text NOT NULL,
    reason        text NOT NULL,
    step          text NOT NULL,          -- copy | stream
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, table_name, row_key)
);

-- The schema objects THIS shard had before pgreshard's schema sync first ran
-- here, recorded in the same transaction as the first DDL (schema-pre), so
-- that `cleanup --drop-data` drops exactly what pgreshard created.
CREATE TABLE IF NOT EXISTS pgreshard.objects_before (
    plan_name     text NOT NULL,
    catalog       text NOT NULL,          -- pg_class, pg_type, pg_proc, ...
    kind          text NOT NULL,          -- pg_identify_object's type
    identity      text NOT NULL,          -- pg_identify_object's identity (quoted)
    PRIMARY KEY (plan_name, catalog, identity)
);

-- The plan's shape when its move began (shard 0): every step's state is keyed
-- by table position and shard number, so a later apply must have the same
-- tables in the same order, with the same keys (plan_shape.c).
CREATE TABLE IF NOT EXISTS pgreshard.plan_tables (
    plan_name     text NOT NULL,
    table_index   int NOT NULL,
    table_name    text NOT NULL,          -- schema.table as SQL writes it
    key           text NOT NULL,          -- "(col, ...)", or "replicated"
    PRIMARY KEY (plan_name, table_index)
);

-- Tables compared by a verify that has not finished yet (shard 0), per shard:
-- a verify killed halfway is resumed by the next one, which skips them.  Each
-- table was compared exactly at its own snapshot LSN (the shards drained to
-- it); the stream applies every later change exactly once, so the result
-- still holds when the remaining tables are compared at a newer LSN.  Cleared
-- when a verify finishes (its result goes to verify_results) and, for the
-- tables it re-copies, by `pgreshard repair`.
CREATE TABLE IF NOT EXISTS pgreshard.verify_progress (
    plan_name     text NOT NULL,
    table_index   int NOT NULL,
    shard         int NOT NULL,
    source_rows   bigint NOT NULL,        -- rows of the source that belong on this shard
    shard_rows    bigint NOT NULL,        -- rows the shard holds
    differences   int NOT NULL,
    snapshot_lsn  pg_lsn NOT NULL,
    done_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, table_index, shard)
);

-- The same record per chunk (issue 16): a table split into key-range chunks
-- (chunk_plan, source 0's bounds) is verified chunk by chunk, and a verify
-- killed halfway resumes at the next chunk it has not compared; a table of one
-- chunk is chunk 0.  Same reasoning and lifetime as verify_progress above,
-- which it replaces (an older pgreshard's rows there are no longer read).
CREATE TABLE IF NOT EXISTS pgreshard.verify_chunks (
    plan_name     text NOT NULL,
    table_index   int NOT NULL,
    chunk         int NOT NULL,
    shard         int NOT NULL,
    source_rows   bigint NOT NULL,        -- rows of the source, in the chunk, that belong on this shard
    shard_rows    bigint NOT NULL,        -- rows of the chunk the shard holds
    differences   int NOT NULL,
    snapshot_lsn  pg_lsn NOT NULL,
    done_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, table_index, chunk, shard)
);

-- After the cutover (runner/cutover/reverse.c): what `pgreshard finish` or
-- `pgreshard rollback` asks the apply that streams the shards back to do
-- ('finish' | 'rollback', NULL: nothing), and where reverse replication is
-- (NULL: not begun, 'streaming', 'finished', 'rolled_back').
ALTER TABLE pgreshard.runs ADD COLUMN IF NOT EXISTS reverse_request text;
ALTER TABLE pgreshard.runs ADD COLUMN IF NOT EXISTS reverse_state text;

-- Rollback attempts (shard 0), the columns of pgreshard.cutovers: how long
-- writes were held on the shards, the largest shard fence.
CREATE TABLE IF NOT EXISTS pgreshard.rollbacks (LIKE pgreshard.cutovers INCLUDING ALL);
