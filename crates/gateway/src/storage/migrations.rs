//! Schema migrations, applied in order at startup. Never edit a released migration; add one.

use rusqlite_migration::{Migrations, M};

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE providers (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL UNIQUE,
            base_url   TEXT NOT NULL,
            format     TEXT NOT NULL,
            models     TEXT NOT NULL DEFAULT '[]',   -- JSON array of model ids
            key_ref    TEXT,                         -- keychain entry name; never the key itself
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        );",
        ),
        // Where the key goes (null = the format's usual header) and which catalog entry it came from.
        M::up(
            "ALTER TABLE providers ADD COLUMN auth TEXT;
         ALTER TABLE providers ADD COLUMN catalog_id TEXT;",
        ),
        // Model aliases: `claude-*` → `ant/claude-sonnet-4`; `*` any run, `?` one character.
        M::up(
            "CREATE TABLE aliases (
                pattern    TEXT PRIMARY KEY,
                target     TEXT NOT NULL,
                created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
            );",
        ),
        // Routing: several accounts per provider, combos, settings, client keys, usage, and the
        // runtime state worth keeping across restarts (quota windows, long cooldowns).
        M::up(
            "CREATE TABLE accounts (
                id         INTEGER PRIMARY KEY,
                provider   TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
                label      TEXT NOT NULL,
                key_ref    TEXT,                         -- keychain entry name; never the key itself
                enabled    INTEGER NOT NULL DEFAULT 1,
                priority   INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
                UNIQUE (provider, label)
            );
            INSERT INTO accounts (provider, label, key_ref) SELECT name, 'default', key_ref FROM providers;
            ALTER TABLE providers ADD COLUMN account_strategy TEXT NOT NULL DEFAULT 'fill-first';
            CREATE TABLE combos (
                name       TEXT PRIMARY KEY,
                strategy   TEXT NOT NULL DEFAULT 'priority',
                targets    TEXT NOT NULL,                -- JSON array of targets
                config     TEXT NOT NULL DEFAULT '{}',   -- JSON overrides of routing defaults
                created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
            );
            CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- JSON values
            CREATE TABLE api_keys (
                id          INTEGER PRIMARY KEY,
                label       TEXT NOT NULL,
                prefix      TEXT NOT NULL,               -- first characters, to recognise a key
                hash        TEXT NOT NULL UNIQUE,        -- sha256 hex; the key itself is shown once
                daily_usd   REAL,
                weekly_usd  REAL,
                monthly_usd REAL,
                created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
                revoked_at  TEXT
            );
            CREATE TABLE usage (
                id            INTEGER PRIMARY KEY,
                ts_ms         INTEGER NOT NULL,
                key_id        INTEGER,
                combo         TEXT,
                provider      TEXT,
                account       TEXT,
                model         TEXT,
                requested     TEXT NOT NULL,
                client_format TEXT NOT NULL,
                stream        INTEGER NOT NULL,
                status        INTEGER NOT NULL,
                outcome       TEXT NOT NULL,
                attempts      INTEGER NOT NULL,
                fallback      TEXT,
                latency_ms    INTEGER NOT NULL,
                ttft_ms       INTEGER,
                input_tokens  INTEGER,
                output_tokens INTEGER,
                cache_read    INTEGER,
                cache_write   INTEGER,
                reasoning     INTEGER,
                cost_usd      REAL
            );
            CREATE INDEX usage_ts ON usage (ts_ms);
            CREATE INDEX usage_key_ts ON usage (key_id, ts_ms);
            CREATE TABLE prices (
                model       TEXT PRIMARY KEY,            -- model id or `*` pattern
                input       REAL NOT NULL,               -- USD per 1M tokens
                output      REAL NOT NULL,
                cache_read  REAL,
                cache_write REAL
            );
            CREATE TABLE runtime_state (
                key   TEXT PRIMARY KEY,                  -- quota:<provider>/<account>, cooldown:…
                value TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            );",
        ),
        // Most requests carry no client key: indexing their rows by key cost every insert
        // another B-tree update (about a fifth of the row's write) for nothing.
        M::up(
            "DROP INDEX usage_key_ts;
            CREATE INDEX usage_key_ts ON usage (key_id, ts_ms) WHERE key_id IS NOT NULL;",
        ),
        // `user:password@` of a base URL lives in the keychain under this entry, never here.
        M::up("ALTER TABLE providers ADD COLUMN url_auth_ref TEXT;"),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }

    #[test]
    fn a_key_budget_query_uses_the_partial_key_index() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_latest(&mut c).unwrap();
        let plan: String = c
            .query_row(
                "EXPLAIN QUERY PLAN SELECT COALESCE(SUM(cost_usd), 0.0) FROM usage
                 WHERE key_id = ?1 AND ts_ms >= ?2",
                rusqlite::params![1, 0],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("usage_key_ts"), "{plan}");
    }
}
