//! Combo validation (names, targets that exist, a DAG of at most 3 levels, ≤ 64 expanded
//! targets) and expansion of a combo into the ordered list of `provider/model` targets to try.

use crate::storage::{Combo, ComboTarget, Provider};

pub const MAX_DEPTH: usize = 3;
pub const MAX_TARGETS: usize = 64;

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
}

/// Checks a combo against the others (which may include an older version of itself).
pub fn validate(combo: &Combo, others: &[Combo], providers: &[Provider]) -> Result<(), String> {
    if !valid_name(&combo.name) {
        return Err(format!(
            "combo name {:?} is not valid: use 1-100 letters, digits, '_', '.', '/' or '-'",
            combo.name
        ));
    }
    if providers.iter().any(|p| p.name == combo.name) {
        return Err(format!(
            "combo name {:?} is already a provider's name; pick another",
            combo.name
        ));
    }
    if combo.targets.is_empty() {
        return Err(format!("combo {:?} needs at least one target", combo.name));
    }
    for t in &combo.targets {
        match t {
            ComboTarget::Model {
                provider,
                model,
                account,
                weight,
            } => {
                let Some(p) = providers.iter().find(|p| &p.name == provider) else {
                    return Err(format!(
                        "target {provider}/{model}: there is no provider {provider:?}"
                    ));
                };
                if model.trim().is_empty() {
                    return Err(format!("target of provider {provider:?} has no model"));
                }
                if let Some(a) = account {
                    if !p.accounts.iter().any(|x| &x.label == a) {
                        return Err(format!(
                            "target {provider}/{model}: provider {provider:?} has no account {a:?}"
                        ));
                    }
                }
                if *weight > 100 {
                    return Err(format!("target {provider}/{model}: weight must be 0-100"));
                }
            }
            ComboTarget::Combo { name, weight } => {
                if name == &combo.name {
                    return Err(format!("combo {name:?} cannot contain itself"));
                }
                if !others.iter().any(|c| &c.name == name) {
                    return Err(format!("target combo:{name}: there is no combo {name:?}"));
                }
                if *weight > 100 {
                    return Err(format!("target combo:{name}: weight must be 0-100"));
                }
            }
        }
    }
    // Cycles and depth, with this combo replacing any stored version of itself.
    let mut all: Vec<Combo> = others
        .iter()
        .filter(|c| c.name != combo.name)
        .cloned()
        .collect();
    all.push(combo.clone());
    let n = count_targets(&combo.name, &all, &mut Vec::new())?;
    if n > MAX_TARGETS {
        return Err(format!(
            "combo {:?} expands to {n} targets; at most {MAX_TARGETS} are allowed",
            combo.name
        ));
    }
    // Combos that contain this one must stay valid too.
    for c in all.iter().filter(|c| c.name != combo.name) {
        count_targets(&c.name, &all, &mut Vec::new())?;
    }
    Ok(())
}

fn count_targets(name: &str, all: &[Combo], path: &mut Vec<String>) -> Result<usize, String> {
    if path.iter().any(|p| p == name) {
        path.push(name.to_string());
        return Err(format!("combos form a cycle: {}", path.join(" → ")));
    }
    if path.len() >= MAX_DEPTH {
        path.push(name.to_string());
        return Err(format!(
            "combos nest deeper than {MAX_DEPTH} levels: {}",
            path.join(" → ")
        ));
    }
    let Some(c) = all.iter().find(|c| c.name == name) else {
        return Ok(0);
    };
    path.push(name.to_string());
    let mut n = 0;
    for t in &c.targets {
        n += match t {
            ComboTarget::Model { .. } => 1,
            ComboTarget::Combo { name, .. } => count_targets(name, all, path)?,
        };
    }
    path.pop();
    Ok(n)
}

/// Combos that list `name` as a target (a combo in use cannot be deleted).
pub fn used_by<'a>(name: &str, all: &'a [Combo]) -> Vec<&'a str> {
    all.iter()
        .filter(|c| {
            c.targets
                .iter()
                .any(|t| matches!(t, ComboTarget::Combo { name: n, .. } if n == name))
        })
        .map(|c| c.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ComboConfig;

    fn provider(name: &str) -> Provider {
        Provider {
            name: name.into(),
            base_url: "http://127.0.0.1:1/v1".into(),
            format: crate::formats::Format::Chat,
            models: vec![],
            key_ref: None,
            created_at: String::new(),
            auth: None,
            catalog_id: None,
            account_strategy: Default::default(),
            url_auth_ref: None,
            accounts: vec![],
        }
    }

    fn combo(name: &str, targets: Vec<ComboTarget>) -> Combo {
        Combo {
            name: name.into(),
            strategy: Default::default(),
            targets,
            config: ComboConfig::default(),
            created_at: String::new(),
        }
    }

    fn m(p: &str, model: &str) -> ComboTarget {
        ComboTarget::Model {
            provider: p.into(),
            model: model.into(),
            account: None,
            weight: 1,
        }
    }

    fn c(name: &str) -> ComboTarget {
        ComboTarget::Combo {
            name: name.into(),
            weight: 1,
        }
    }

    #[test]
    fn rejects_cycles_depth_unknown_targets() {
        let ps = [provider("acme")];
        let a = combo("a", vec![m("acme", "x")]);
        assert!(validate(&a, &[], &ps).is_ok());
        let e = validate(&combo("b", vec![m("nope", "x")]), &[], &ps).unwrap_err();
        assert!(e.contains("no provider \"nope\""), "{e}");
        let e = validate(&combo("b", vec![c("zzz")]), std::slice::from_ref(&a), &ps).unwrap_err();
        assert!(e.contains("no combo"), "{e}");
        // a → b, then b → a is a cycle.
        let a2 = combo("a", vec![c("b")]);
        let b = combo("b", vec![m("acme", "x")]);
        assert!(validate(&a2, std::slice::from_ref(&b), &ps).is_ok());
        let b2 = combo("b", vec![c("a")]);
        let e = validate(&b2, &[a2.clone(), b.clone()], &ps).unwrap_err();
        assert!(e.contains("cycle"), "{e}");
        // Four levels: d → c → b → a.
        let l1 = combo("l1", vec![m("acme", "x")]);
        let l2 = combo("l2", vec![c("l1")]);
        let l3 = combo("l3", vec![c("l2")]);
        let l4 = combo("l4", vec![c("l3")]);
        let others = [l1, l2, l3];
        assert!(validate(&others[2], &others[..2], &ps).is_ok());
        let e = validate(&l4, &others, &ps).unwrap_err();
        assert!(e.contains("deeper than 3"), "{e}");
        let e = validate(&combo("acme", vec![m("acme", "x")]), &[], &ps).unwrap_err();
        assert!(e.contains("provider's name"), "{e}");
    }

    #[test]
    fn expansion_is_capped() {
        let ps = [provider("acme")];
        let big = combo(
            "big",
            (0..40).map(|i| m("acme", &format!("m{i}"))).collect(),
        );
        let twice = combo("twice", vec![c("big"), c("big")]);
        let e = validate(&twice, std::slice::from_ref(&big), &ps).unwrap_err();
        assert!(e.contains("80 targets"), "{e}");
        assert_eq!(used_by("big", &[big, twice]), ["twice"]);
    }
}
