-- Quant job outputs (issue 7): related assets per run, sector snapshots, news.

-- One row per computation of related assets. A writer inserts its run and rows and deletes the
-- previous runs of the same reason in ONE transaction (jobs/writes.py), so readers see either the
-- old run or the new one, never a mix. `insufficient` lists symbols left out for too little data,
-- with their observation counts: reported, not silently dropped.
CREATE TABLE IF NOT EXISTS related_runs (
    run_id        uuid        PRIMARY KEY,
    reason        text        NOT NULL CHECK (reason IN ('correlation', 'news')),
    computed_at   timestamptz NOT NULL DEFAULT now(),
    "interval"    text,
    window_start  timestamptz,
    window_end    timestamptz,
    window_bars   integer,
    symbols       integer     NOT NULL DEFAULT 0,
    insufficient  jsonb       NOT NULL DEFAULT '[]'::jsonb,
    params        jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS related_runs_reason_idx ON related_runs (reason, computed_at DESC);

-- Top-k related symbols of each symbol in a run. correlation: score = Pearson r of returns,
-- p_value two-sided (t distribution), overlap = bars both symbols had. news: score = association
-- score, overlap = co-mentions, detail = shared keywords.
CREATE TABLE IF NOT EXISTS related_assets (
    run_id          uuid             NOT NULL REFERENCES related_runs (run_id) ON DELETE CASCADE,
    symbol          text             NOT NULL,
    related_symbol  text             NOT NULL,
    reason          text             NOT NULL,
    direction       text             NOT NULL CHECK (direction IN ('positive', 'negative')),
    rank            smallint         NOT NULL,
    score           double precision NOT NULL,
    p_value         double precision,
    overlap         integer,
    detail          jsonb,
    PRIMARY KEY (run_id, symbol, direction, rank)
);
CREATE INDEX IF NOT EXISTS related_assets_symbol_idx ON related_assets (symbol, reason);

-- Sector aggregates, one row per sector per 10 s cycle. Changes are percent vs previous close.
CREATE TABLE IF NOT EXISTS sector_snapshots (
    time                   timestamptz      NOT NULL,
    sector                 text             NOT NULL,
    symbols                integer          NOT NULL,
    priced                 integer          NOT NULL,
    equal_weighted_change  double precision,
    value_weighted_change  double precision,
    advancers              integer          NOT NULL,
    decliners              integer          NOT NULL,
    unchanged              integer          NOT NULL,
    top_gainers            jsonb            NOT NULL DEFAULT '[]'::jsonb,
    top_losers             jsonb            NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (sector, time)
);
CREATE INDEX IF NOT EXISTS sector_snapshots_time_idx ON sector_snapshots (time DESC);

-- News items from a pluggable source (JSON lines or RSS), with extracted keywords and the symbols
-- they mention (resolved against the symbol master by name and code).
CREATE TABLE IF NOT EXISTS news_items (
    id            text        PRIMARY KEY,
    source        text        NOT NULL,
    published_at  timestamptz NOT NULL,
    title         text        NOT NULL,
    body          text        NOT NULL DEFAULT '',
    link          text,
    keywords      text[]      NOT NULL DEFAULT '{}',
    symbols       text[]      NOT NULL DEFAULT '{}',
    ingested_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS news_items_published_idx ON news_items (published_at DESC);
CREATE INDEX IF NOT EXISTS news_items_symbols_idx ON news_items USING gin (symbols);
