-- Plain PostgreSQL (no TimescaleDB): the subset of TimescaleDB the candle schema relies on, with the
-- same names and meanings, so readers and refresh calls use one SQL text on both backends.
--   time_bucket(width, ts [, tz])        first(v, t) / last(v, t)
--   CALL refresh_continuous_aggregate(cagg, start, end)   (inscribed-window rule, same error)
--   real-time views = materialized rows below the watermark UNION ALL a live aggregate above it
-- Invalidation: statement-level triggers (transition tables; INSERT, UPDATE, DELETE apart, plus
-- TRUNCATE) log the touched time range of writes below the source's invalidation threshold.
-- Writers read the threshold under a shared advisory lock; the refresh moves it under the exclusive
-- one, in its own transaction, so a concurrent write is either logged or covered by the move.

-- ---- time_bucket: origin Monday 2000-01-03 (UTC for timestamptz, local wall clock with a tz) ----
CREATE OR REPLACE FUNCTION time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT date_bin(bucket_width, ts, timestamptz '2000-01-03 00:00:00+00') $$;

CREATE OR REPLACE FUNCTION time_bucket(bucket_width interval, ts timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT date_bin(bucket_width, ts, timestamp '2000-01-03 00:00:00') $$;

CREATE OR REPLACE FUNCTION time_bucket(bucket_width interval, ts timestamptz, timezone text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT date_bin(bucket_width, ts AT TIME ZONE timezone, timestamp '2000-01-03 00:00:00')
             AT TIME ZONE timezone $$;

-- ---- first / last (numeric values, ordered by a timestamptz) ----
DO $$ BEGIN
    CREATE TYPE _cagg_pick AS (v numeric, t timestamptz);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE OR REPLACE FUNCTION _cagg_first_sfunc(s _cagg_pick, v numeric, t timestamptz) RETURNS _cagg_pick
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF s IS NULL OR (t IS NOT NULL AND ((s).t IS NULL OR t < (s).t)) THEN
        RETURN ROW(v, t)::_cagg_pick;
    END IF;
    RETURN s;
END $$;

CREATE OR REPLACE FUNCTION _cagg_last_sfunc(s _cagg_pick, v numeric, t timestamptz) RETURNS _cagg_pick
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF s IS NULL OR (t IS NOT NULL AND ((s).t IS NULL OR t >= (s).t)) THEN
        RETURN ROW(v, t)::_cagg_pick;
    END IF;
    RETURN s;
END $$;

CREATE OR REPLACE FUNCTION _cagg_first_combine(a _cagg_pick, b _cagg_pick) RETURNS _cagg_pick
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a WHEN (b).t < (a).t THEN b ELSE a END $$;

CREATE OR REPLACE FUNCTION _cagg_last_combine(a _cagg_pick, b _cagg_pick) RETURNS _cagg_pick
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a WHEN (b).t >= (a).t THEN b ELSE a END $$;

CREATE OR REPLACE FUNCTION _cagg_pick_value(s _cagg_pick) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (s).v $$;

CREATE OR REPLACE AGGREGATE first(numeric, timestamptz) (
    SFUNC = _cagg_first_sfunc, STYPE = _cagg_pick, FINALFUNC = _cagg_pick_value,
    COMBINEFUNC = _cagg_first_combine, PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE last(numeric, timestamptz) (
    SFUNC = _cagg_last_sfunc, STYPE = _cagg_pick, FINALFUNC = _cagg_pick_value,
    COMBINEFUNC = _cagg_last_combine, PARALLEL = SAFE);

-- ---- catalog ----
CREATE TABLE IF NOT EXISTS _cagg_catalog (
    name              text PRIMARY KEY,        -- the user-facing (real-time) view
    level             integer NOT NULL,        -- refresh order, bottom-up
    mat_table         text NOT NULL UNIQUE,    -- materialized rows
    source_table      text NOT NULL,           -- whose writes invalidate this aggregate
    source_view       text NOT NULL,           -- what the live (real-time) part aggregates
    source_filter     text NOT NULL DEFAULT 'true',
    bucket_width      interval NOT NULL,
    bucket_tz         text,
    watermark         timestamptz NOT NULL DEFAULT '-infinity',  -- end of the highest materialized bucket
    start_offset      interval,                -- policy: refresh [now - start_offset, now - end_offset)
    end_offset        interval,
    schedule_interval interval,
    last_run_at       timestamptz,
    last_error        text
);

CREATE TABLE IF NOT EXISTS _cagg_threshold (
    source_table text PRIMARY KEY,
    threshold    timestamptz NOT NULL DEFAULT '-infinity'  -- writes at/above are not logged
);

CREATE TABLE IF NOT EXISTS _cagg_invalidation_log (
    id        bigserial PRIMARY KEY,
    cagg      text NOT NULL,
    range     tstzrange NOT NULL,
    logged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS _cagg_invalidation_log_cagg_idx ON _cagg_invalidation_log (cagg);

-- One row per re-materialized range: what a refresh deleted and re-inserted.
CREATE TABLE IF NOT EXISTS _cagg_materialization_log (
    id           bigserial PRIMARY KEY,
    cagg         text NOT NULL,
    range        tstzrange NOT NULL,
    deleted      integer NOT NULL,
    inserted     integer NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS _retention_policies (
    table_name        text PRIMARY KEY,
    drop_after        interval NOT NULL,
    schedule_interval interval NOT NULL DEFAULT '1 day',
    last_run_at       timestamptz
);

-- ---- helpers ----
CREATE OR REPLACE FUNCTION _cagg_lock_key(source text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtext('cagg-threshold:' || source) $$;

CREATE OR REPLACE FUNCTION cagg_watermark(cagg text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT watermark FROM _cagg_catalog WHERE name = cagg $$;

CREATE OR REPLACE FUNCTION _cagg_bucket(c _cagg_catalog, ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN c.bucket_tz IS NULL THEN time_bucket(c.bucket_width, ts)
                ELSE time_bucket(c.bucket_width, ts, c.bucket_tz) END $$;

CREATE OR REPLACE FUNCTION _cagg_bucket_end(c _cagg_catalog, bucket_start timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN c.bucket_tz IS NULL THEN bucket_start + c.bucket_width
                ELSE ((bucket_start AT TIME ZONE c.bucket_tz) + c.bucket_width) AT TIME ZONE c.bucket_tz END $$;

-- The aggregate query of one level over `from_rel`, restricted by `time_pred` (on source time).
CREATE OR REPLACE FUNCTION _cagg_select_sql(c _cagg_catalog, from_rel text, time_pred text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format(
        'SELECT symbol, %1$s AS time, first(open, time) AS open, max(high) AS high, min(low) AS low, '
        'last(close, time) AS close, sum(volume)::bigint AS volume, sum(value) AS value, '
        'sum(trades)::bigint AS trades FROM %2$I WHERE (%3$s) AND %4$s GROUP BY 1, 2',
        CASE WHEN c.bucket_tz IS NULL THEN format('time_bucket(%L::interval, time)', c.bucket_width)
             ELSE format('time_bucket(%L::interval, time, %L)', c.bucket_width, c.bucket_tz) END,
        from_rel, c.source_filter, time_pred) $$;

-- ---- invalidation triggers ----
-- Reads the source's threshold under the shared lock (held to commit) and logs [lo, hi] for every
-- aggregate fed by the source when the touched range reaches below the threshold.
CREATE OR REPLACE FUNCTION _cagg_log_below_threshold(source text, lo timestamptz, hi timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE th timestamptz;
BEGIN
    IF lo IS NULL OR current_setting('cagg.skip_invalidation', true) = 'on' THEN RETURN; END IF;
    PERFORM pg_advisory_xact_lock_shared(_cagg_lock_key(source));
    SELECT threshold INTO th FROM _cagg_threshold WHERE source_table = source;
    IF th IS NULL OR lo >= th THEN RETURN; END IF;
    INSERT INTO _cagg_invalidation_log (cagg, range)
    SELECT name, CASE WHEN hi < th THEN tstzrange(lo, hi, '[]') ELSE tstzrange(lo, th, '[)') END
    FROM _cagg_catalog WHERE source_table = source;
END $$;

CREATE OR REPLACE FUNCTION _cagg_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE lo timestamptz; hi timestamptz;
BEGIN
    SELECT min(time), max(time) INTO lo, hi FROM new_rows;
    PERFORM _cagg_log_below_threshold(TG_TABLE_NAME, lo, hi);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION _cagg_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE lo timestamptz; hi timestamptz;
BEGIN
    SELECT min(t), max(t) INTO lo, hi
    FROM (SELECT time AS t FROM old_rows UNION ALL SELECT time FROM new_rows) touched;
    PERFORM _cagg_log_below_threshold(TG_TABLE_NAME, lo, hi);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION _cagg_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE lo timestamptz; hi timestamptz;
BEGIN
    SELECT min(time), max(time) INTO lo, hi FROM old_rows;
    PERFORM _cagg_log_below_threshold(TG_TABLE_NAME, lo, hi);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION _cagg_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM _cagg_log_below_threshold(TG_TABLE_NAME, '-infinity', 'infinity');
    RETURN NULL;
END $$;

-- PostgreSQL forbids transition tables on multi-event triggers: one trigger per event.
CREATE OR REPLACE FUNCTION _cagg_attach_triggers(tbl text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION _cagg_on_insert()', tbl || '_cagg_ins', tbl);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows '
                   'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION _cagg_on_update()',
                   tbl || '_cagg_upd', tbl);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION _cagg_on_delete()', tbl || '_cagg_del', tbl);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION _cagg_on_truncate()', tbl || '_cagg_trunc', tbl);
END $$;

-- ---- creating an aggregate: catalog row, materialization table, triggers, real-time view ----
CREATE OR REPLACE FUNCTION _cagg_create(name text, level integer, source_table text, source_view text,
                                        source_filter text, bucket_width interval, bucket_tz text,
                                        start_offset interval, end_offset interval,
                                        schedule_interval interval) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE c _cagg_catalog; mat text := '_mat_' || name;
BEGIN
    INSERT INTO _cagg_catalog (name, level, mat_table, source_table, source_view, source_filter,
                               bucket_width, bucket_tz, start_offset, end_offset, schedule_interval)
    VALUES (name, level, mat, source_table, source_view, source_filter, bucket_width, bucket_tz,
            start_offset, end_offset, schedule_interval)
    ON CONFLICT ON CONSTRAINT _cagg_catalog_pkey DO NOTHING;
    SELECT * INTO c FROM _cagg_catalog k WHERE k.name = _cagg_create.name;
    INSERT INTO _cagg_threshold (source_table) VALUES (source_table) ON CONFLICT DO NOTHING;
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I (symbol text NOT NULL, time timestamptz NOT NULL, '
                   'open numeric, high numeric, low numeric, close numeric, volume bigint, '
                   'value numeric, trades bigint, PRIMARY KEY (symbol, time))', mat);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (time DESC)', mat || '_time_idx', mat);
    PERFORM _cagg_attach_triggers(source_table);
    EXECUTE format('CREATE OR REPLACE VIEW %I AS '
                   'SELECT symbol, time, open, high, low, close, volume, value, trades FROM %I '
                   'WHERE time < cagg_watermark(%L) UNION ALL %s',
                   name, mat, name, _cagg_select_sql(c, source_view, format('time >= cagg_watermark(%L)', name)));
END $$;

-- ---- refresh ----
-- Same contract as TimescaleDB's: only buckets fully inside [window_start, window_end) are
-- refreshed ("refresh window too small" otherwise); NULL start = from the first data, NULL end = the
-- bucket after the last data. Transaction 1 moves the threshold forward (logging the never-
-- materialized range for every aggregate on the source); transaction 2 takes the log entries inside
-- the window (the rest stays), expands them to buckets, and deletes + re-aggregates those ranges.
-- Like the original, it cannot run inside a transaction block.
CREATE OR REPLACE PROCEDURE refresh_continuous_aggregate(continuous_aggregate regclass,
                                                         window_start timestamptz,
                                                         window_end timestamptz,
                                                         force boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    c _cagg_catalog; rel text; w_start timestamptz; w_end timestamptz; first_t timestamptz;
    last_t timestamptz; old_th timestamptz; taken tstzmultirange; todo tstzmultirange;
    r tstzrange; n_del integer; n_ins integer; mat_max timestamptz;
BEGIN
    SELECT relname INTO rel FROM pg_class WHERE oid = continuous_aggregate;
    SELECT * INTO c FROM _cagg_catalog WHERE name = rel;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation "%" is not a continuous aggregate', rel USING ERRCODE = '42809';
    END IF;
    IF window_end IS NULL OR window_end = 'infinity' THEN
        EXECUTE format('SELECT max(time) FROM %I WHERE %s', c.source_table, c.source_filter) INTO last_t;
        w_end := CASE WHEN last_t IS NULL THEN NULL ELSE _cagg_bucket_end(c, _cagg_bucket(c, last_t)) END;
    ELSE
        w_end := _cagg_bucket(c, window_end);
    END IF;
    IF window_start IS NULL OR window_start = '-infinity' THEN
        EXECUTE format('SELECT least((SELECT min(time) FROM %I WHERE %s), (SELECT min(time) FROM %I))',
                       c.source_table, c.source_filter, c.mat_table) INTO first_t;
        w_start := _cagg_bucket(c, first_t);
    ELSE
        w_start := _cagg_bucket(c, window_start);
        IF w_start < window_start THEN w_start := _cagg_bucket_end(c, w_start); END IF;
    END IF;
    IF w_end IS NULL OR w_start IS NULL THEN
        RAISE NOTICE 'continuous aggregate "%" is already up-to-date', rel;
        RETURN;
    END IF;
    IF w_end <= w_start THEN
        RAISE EXCEPTION 'refresh window too small' USING ERRCODE = '22023',
            DETAIL = 'The refresh window must cover at least one bucket of data.',
            HINT = 'Align the refresh window with the bucket time zone or use at least two buckets.';
    END IF;
    COMMIT;

    -- 1: move the invalidation threshold forward; the hot range below it was never logged.
    PERFORM pg_advisory_xact_lock(_cagg_lock_key(c.source_table));
    SELECT threshold INTO old_th FROM _cagg_threshold WHERE source_table = c.source_table FOR UPDATE;
    IF w_end > old_th THEN
        UPDATE _cagg_threshold SET threshold = w_end WHERE source_table = c.source_table;
        INSERT INTO _cagg_invalidation_log (cagg, range)
        SELECT name, tstzrange(old_th, w_end, '[)') FROM _cagg_catalog WHERE source_table = c.source_table;
    END IF;
    COMMIT;

    -- 2: materialize the invalidated buckets inside the window (one refresh per aggregate at a time).
    PERFORM pg_advisory_xact_lock(hashtext('cagg-refresh:' || rel));
    WITH gone AS (
        DELETE FROM _cagg_invalidation_log
        WHERE cagg = rel AND range && tstzrange(w_start, w_end, '[)') RETURNING range)
    SELECT range_agg(range) INTO taken FROM gone;
    IF taken IS NOT NULL THEN
        INSERT INTO _cagg_invalidation_log (cagg, range)
        SELECT rel, piece FROM unnest(taken - tstzmultirange(tstzrange(w_start, w_end, '[)'))) piece;
        SELECT range_agg(tstzrange(_cagg_bucket(c, lower(piece)),
                                   _cagg_bucket_end(c, _cagg_bucket(c, CASE WHEN upper_inc(piece)
                                       THEN upper(piece) ELSE upper(piece) - interval '1 microsecond' END)),
                                   '[)'))
        INTO todo FROM unnest(taken * tstzmultirange(tstzrange(w_start, w_end, '[)'))) piece;
        FOR r IN SELECT unnest(coalesce(todo, '{}'::tstzmultirange)) LOOP
            EXECUTE format('DELETE FROM %I WHERE time >= $1 AND time < $2', c.mat_table)
                USING lower(r), upper(r);
            GET DIAGNOSTICS n_del = ROW_COUNT;
            EXECUTE format('INSERT INTO %I (symbol, time, open, high, low, close, volume, value, trades) %s',
                           c.mat_table, _cagg_select_sql(c, c.source_table, 'time >= $1 AND time < $2'))
                USING lower(r), upper(r);
            GET DIAGNOSTICS n_ins = ROW_COUNT;
            INSERT INTO _cagg_materialization_log (cagg, range, deleted, inserted)
            VALUES (rel, r, n_del, n_ins);
        END LOOP;
    END IF;
    EXECUTE format('SELECT max(time) FROM %I', c.mat_table) INTO mat_max;
    IF mat_max IS NOT NULL THEN
        UPDATE _cagg_catalog SET watermark = greatest(watermark, _cagg_bucket_end(c, mat_max))
        WHERE name = rel;
    END IF;
    COMMIT;
END $$;

-- ---- retention (scheduled by storage.policies): delete raw rows older than drop_after ----
-- Deletions here do not invalidate the aggregates (as with drop_chunks): aggregates outlive raw rows.
CREATE OR REPLACE FUNCTION run_retention_policies(at timestamptz DEFAULT now())
RETURNS TABLE (table_name text, deleted bigint) LANGUAGE plpgsql AS $$
DECLARE p _retention_policies; n bigint;
BEGIN
    PERFORM set_config('cagg.skip_invalidation', 'on', true);
    FOR p IN SELECT * FROM _retention_policies ORDER BY 1 LOOP
        EXECUTE format('DELETE FROM %I WHERE time < $1', p.table_name) USING at - p.drop_after;
        GET DIAGNOSTICS n = ROW_COUNT;
        UPDATE _retention_policies SET last_run_at = at WHERE _retention_policies.table_name = p.table_name;
        table_name := p.table_name; deleted := n;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('cagg.skip_invalidation', 'off', true);
END $$;
