//! Seeded property test: many generated existing files per tool (random unrelated keys, nesting,
//! order, comments, missing/empty/invalid files). After apply every key we do not own is unchanged
//! in value and order; a second apply writes nothing; restore gives back the exact bytes (or
//! removes the file); invalid files are refused and left untouched.
//!
//! `CLI_CONFIG_SEED=<n>` explores another seed; `CLI_CONFIG_CASES=<n>` changes the count per tool.

mod gen;
mod unowned;

use std::fs;
use std::path::{Path, PathBuf};

use switchyard_cli_config::*;

use gen::{env_file, json_file, toml_file, Existing, Rng};
use unowned::{env_unowned, json_unowned, toml_unowned};

fn files_of(home: &Path, tool: Tool) -> Vec<PathBuf> {
    status(&Home::at(home), tool).files
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

#[test]
fn generated_files_keep_everything_we_do_not_own() {
    let seed: u64 = std::env::var("CLI_CONFIG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_CAFE_F00D);
    let cases: usize = std::env::var("CLI_CONFIG_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(80);
    let mut rng = Rng(seed);
    let root = tempfile::tempdir().unwrap();
    let mut stats = [0usize; 3]; // applied, refused, already-identical
    for tool in Tool::ALL {
        for case in 0..cases {
            let home_dir = root.path().join(format!("{tool}-{case}"));
            let home = Home::at(&home_dir);
            let paths = files_of(&home_dir, tool);
            let existing: Vec<Existing> = paths
                .iter()
                .enumerate()
                .map(|(i, p)| match (tool, i) {
                    (Tool::Codex, _) => toml_file(&mut rng),
                    (Tool::GeminiCli, 0) => env_file(&mut rng),
                    _ => json_file(&mut rng, tool, i == 1 && p.ends_with("settings.json")),
                })
                .collect();
            for (p, e) in paths.iter().zip(&existing) {
                if let Some(text) = &e.text {
                    fs::create_dir_all(p.parent().unwrap()).unwrap();
                    fs::write(p, text).unwrap();
                }
            }
            let token = if rng.chance(20) {
                MANAGED_TOKEN.to_string()
            } else {
                format!("{}{:x}", tool.key_prefix(), rng.next())
            };
            let model = rng
                .chance(40)
                .then(|| rng.pick(&["switchyard", "work", "fast-combo"]).to_string());
            let target = Target {
                base_url: format!("http://127.0.0.1:{}", 20000 + rng.below(1000)),
                token,
                model,
            };
            let ctx = || {
                format!(
                    "seed {seed} {tool} case {case}: {:?}",
                    existing.iter().map(|e| &e.text).collect::<Vec<_>>()
                )
            };
            let dir = paths[0].parent().unwrap().to_path_buf();
            let before_listing = listing(&dir);
            let before: Vec<Option<String>> = paths.iter().map(|p| read(p)).collect();

            let result = apply(&home, tool, &target);
            if existing.iter().any(|e| e.invalid) {
                let err = result
                    .err()
                    .unwrap_or_else(|| panic!("invalid file accepted: {}", ctx()));
                assert!(
                    matches!(err, ConfigError::InvalidFile { .. }),
                    "{err} {}",
                    ctx()
                );
                for (p, b) in paths.iter().zip(&before) {
                    assert_eq!(&read(p), b, "refused file changed: {}", ctx());
                }
                assert_eq!(
                    listing(&dir),
                    before_listing,
                    "refusal left files behind: {}",
                    ctx()
                );
                stats[1] += 1;
                continue;
            }
            let applied = result.unwrap_or_else(|e| panic!("{e}: {}", ctx()));
            let after: Vec<Option<String>> = paths.iter().map(|p| read(p)).collect();
            let model = target.model.is_some();
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                match (tool, i) {
                    (Tool::Codex, _) => assert_eq!(
                        toml_unowned(b.as_deref(), model),
                        toml_unowned(a.as_deref(), model),
                        "{}\n--- after:\n{}",
                        ctx(),
                        a.as_deref().unwrap_or("")
                    ),
                    (Tool::GeminiCli, 0) => assert_eq!(
                        env_unowned(b.as_deref(), model),
                        env_unowned(a.as_deref(), model),
                        "{}",
                        ctx()
                    ),
                    _ => assert_eq!(
                        json_unowned(tool, b.as_deref(), model),
                        json_unowned(tool, a.as_deref(), model),
                        "{}",
                        ctx()
                    ),
                }
            }
            assert_eq!(
                status_for(&home, tool, &target.base_url).state,
                State::ConfiguredByUs,
                "{}",
                ctx()
            );

            // Idempotent: nothing to write, bytes identical, no new backup.
            let backups: Vec<usize> = paths.iter().map(|p| list_backups(p).len()).collect();
            let again = apply(&home, tool, &target).unwrap();
            assert!(
                again.plan.is_noop() && again.backups.is_empty(),
                "second apply wrote: {}",
                ctx()
            );
            assert_eq!(
                paths.iter().map(|p| read(p)).collect::<Vec<_>>(),
                after,
                "{}",
                ctx()
            );
            assert_eq!(
                paths
                    .iter()
                    .map(|p| list_backups(p).len())
                    .collect::<Vec<_>>(),
                backups
            );
            assert!(plan_apply(&home, tool, &target).unwrap().is_noop());

            // Restore: exact bytes back, or no file where there was none.
            if applied.plan.is_noop() {
                stats[2] += 1;
                assert!(matches!(
                    restore(&home, tool),
                    Err(ConfigError::NoOriginal { .. })
                ));
            } else {
                stats[0] += 1;
                restore(&home, tool).unwrap_or_else(|e| panic!("{e}: {}", ctx()));
            }
            for (p, b) in paths.iter().zip(&before) {
                assert_eq!(
                    fs::read(p).ok(),
                    b.as_ref().map(|s| s.clone().into_bytes()),
                    "restore: {}",
                    ctx()
                );
            }
            assert!(!status(&home, tool).has_original_snapshot, "{}", ctx());
        }
    }
    // The generator must exercise both paths substantially.
    assert!(stats[0] > cases * 3 && stats[1] > cases / 4, "{stats:?}");
}
