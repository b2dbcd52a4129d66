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
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
