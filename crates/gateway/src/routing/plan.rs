//! From the model string a client sent to the ordered list of `provider/model` targets to try
//! (docs/routing.md §2): the active-combo alias, a combo name, aliases (one level), a model id some
//! provider lists verbatim, `provider/model`, a bare id exactly one provider lists. Combos are
//! expanded depth-first, each level ordered by its own strategy.

use super::Router;
use crate::storage::{Alias, Combo, ComboConfig, ComboTarget, Provider};
use crate::usage::prices::Prices;
use std::sync::Arc;

/// One `provider/model` to try, optionally pinned to an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Index into [`Plan::providers`].
    pub provider: usize,
    pub model: String,
    pub account: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub providers: Arc<Vec<Provider>>,
    /// The combo the request was routed through, if any.
    pub combo: Option<String>,
    pub targets: Vec<Target>,
    /// The (top-level) combo's overrides of the routing defaults.
    pub config: ComboConfig,
    /// The model string ended in `[1m]`: the client wants the 1M-token context (Claude's
    /// context beta; Kiro has no such variant).
    pub extended_context: bool,
}

/// The `[1m]` suffix (docs/routing.md §2 step 2): the model string without it, and whether it was
/// there.
pub fn split_context_suffix(model: &str) -> (&str, bool) {
    let n = model.len();
    if n > 4 && model.is_char_boundary(n - 4) && model[n - 4..].eq_ignore_ascii_case("[1m]") {
        (&model[..n - 4], true)
    } else {
        (model, false)
    }
}

impl Plan {
    pub fn provider(&self, t: &Target) -> &Provider {
        &self.providers[t.provider]
    }
}

fn bad(msg: impl Into<String>) -> PlanError {
    PlanError::invalid("invalid_request", msg)
}

/// Why a model string cannot be routed. The HTTP side (`crate::error`) gives each kind its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub kind: PlanErrorKind,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanErrorKind {
    /// The request names something that does not exist (a model, a combo).
    NotFound,
    /// The model string itself is wrong (characters, length, ambiguity).
    Invalid,
    /// It exists, but nothing can serve it now.
    Unavailable,
}

impl PlanError {
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: PlanErrorKind::NotFound,
            code,
            message: message.into(),
        }
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: PlanErrorKind::Invalid,
            code,
            message: message.into(),
        }
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: PlanErrorKind::Unavailable,
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Router {
    /// Resolves `requested` (or the `X-Switchyard-Combo` header) into a plan.
    pub fn plan(
        &self,
        providers: Arc<Vec<Provider>>,
        aliases: &[Alias],
        prices: &Prices,
        requested: &str,
        header_combo: Option<&str>,
    ) -> Result<Plan, PlanError> {
        self.plan_with(providers, aliases, prices, requested, header_combo, false)
    }

    /// The plan a request would get now, without advancing round-robin cursors (dry runs).
    pub fn plan_peek(
        &self,
        providers: Arc<Vec<Provider>>,
        aliases: &[Alias],
        prices: &Prices,
        requested: &str,
    ) -> Result<Plan, PlanError> {
        self.plan_with(providers, aliases, prices, requested, None, true)
    }

    fn plan_with(
        &self,
        providers: Arc<Vec<Provider>>,
        aliases: &[Alias],
        prices: &Prices,
        requested: &str,
        header_combo: Option<&str>,
        peek: bool,
    ) -> Result<Plan, PlanError> {
        check_name(requested)?;
        let (requested, extended_context) = split_context_suffix(requested);
        let combos = self.combos();
        let fallback = self.global_fallback();
        let Some(name) = self.combo_meant(&combos, aliases, requested, header_combo)? else {
            let (p, model) = resolve_model(&providers, aliases, requested)?;
            let idx = providers
                .iter()
                .position(|x| x.name == p.name)
                .expect("resolved from this list");
            let mut targets = vec![Target {
                provider: idx,
                model,
                account: None,
            }];
            let expand = |c: &Combo, out: &mut Vec<Target>| {
                self.expand(c, &combos, &providers, prices, 0, out, peek)
            };
            append_fallback(&combos, fallback.as_deref(), None, &mut targets, expand);
            return Ok(Plan {
                combo: None,
                targets,
                config: ComboConfig::default(),
                providers: providers.clone(),
                extended_context,
            });
        };
        let combo = combos
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .ok_or_else(|| {
                PlanError::not_found("model_not_found", format!("no combo named {name:?}"))
            })?;
        let mut targets = Vec::new();
        self.expand(&combo, &combos, &providers, prices, 0, &mut targets, peek);
        let expand = |c: &Combo, out: &mut Vec<Target>| {
            self.expand(c, &combos, &providers, prices, 0, out, peek)
        };
        append_fallback(
            &combos,
            fallback.as_deref(),
            Some(&name),
            &mut targets,
            expand,
        );
        if targets.is_empty() {
            return Err(PlanError::unavailable(
                "no_available_account",
                format!("combo {name:?} has no target whose provider still exists"),
            ));
        }
        Ok(Plan {
            providers,
            combo: Some(name),
            targets,
            config: combo.config.clone(),
            extended_context,
        })
    }

    /// The combo a request means, if any: the one `X-Switchyard-Combo` names, the active one
    /// behind the active alias, one named like the model, or one an alias points at.
    fn combo_meant(
        &self,
        combos: &[Combo],
        aliases: &[Alias],
        requested: &str,
        header_combo: Option<&str>,
    ) -> Result<Option<String>, PlanError> {
        if let Some(h) = header_combo {
            if !combos.iter().any(|c| c.name == h) {
                return Err(PlanError::not_found(
                    "model_not_found",
                    format!("X-Switchyard-Combo names {h:?}, which is not a combo"),
                ));
            }
            return Ok(Some(h.to_string()));
        }
        if requested == self.active_alias() {
            return match self.active() {
                Some(a) => Ok(Some(a)),
                None => Err(PlanError::not_found(
                    "model_not_found",
                    format!(
                        "{requested:?} means the active combo, and no combo is active yet: create one and activate it (dashboard, tray, or PUT /api/combos/active)"
                    ),
                )),
            };
        }
        if combos.iter().any(|c| c.name == requested) {
            return Ok(Some(requested.to_string()));
        }
        let target = crate::storage::aliases::apply(aliases, requested);
        Ok(combos.iter().any(|c| c.name == target).then_some(target))
    }

    #[allow(clippy::too_many_arguments)]
    fn expand(
        &self,
        combo: &Combo,
        all: &[Combo],
        providers: &[Provider],
        prices: &Prices,
        depth: usize,
        out: &mut Vec<Target>,
        peek: bool,
    ) {
        if depth >= super::combos::MAX_DEPTH || out.len() >= super::combos::MAX_TARGETS {
            return;
        }
        let facts: Vec<_> = combo
            .targets
            .iter()
            .map(|t| match t {
                ComboTarget::Model {
                    provider,
                    model,
                    weight,
                    ..
                } => match providers.iter().find(|p| &p.name == provider) {
                    Some(p) => {
                        let price = prices.lookup(provider, model).map(|p| p.input + p.output);
                        self.target_facts(p, model, *weight, price)
                    }
                    None => super::strategy::TargetFacts {
                        weight: *weight,
                        health: 0.0,
                        recent_requests: 0,
                        price_per_mtok: None,
                        quota: None,
                    },
                },
                ComboTarget::Combo { weight, .. } => super::strategy::TargetFacts {
                    weight: *weight,
                    health: 1.0,
                    recent_requests: 0,
                    price_per_mtok: None,
                    quota: None,
                },
            })
            .collect();
        for i in self.order_combo(combo, &facts, peek) {
            match &combo.targets[i] {
                ComboTarget::Model {
                    provider,
                    model,
                    account,
                    ..
                } => {
                    if let Some(idx) = providers.iter().position(|p| &p.name == provider) {
                        let t = Target {
                            provider: idx,
                            model: model.clone(),
                            account: account.clone(),
                        };
                        if !out.contains(&t) && out.len() < super::combos::MAX_TARGETS {
                            out.push(t);
                        }
                    }
                }
                ComboTarget::Combo { name, .. } => {
                    if let Some(c) = all.iter().find(|c| &c.name == name) {
                        self.expand(c, all, providers, prices, depth + 1, out, peek);
                    }
                }
            }
        }
    }
}

/// The longest model string a request may name. Real ids are a few dozen bytes; without a bound
/// a 5 MB name was echoed in the 404 and stored in the usage log on every request.
pub const MAX_MODEL_BYTES: usize = 256;

/// A model string longer than [`MAX_MODEL_BYTES`], refused without echoing it.
pub fn check_length(requested: &str) -> Result<(), PlanError> {
    if requested.len() > MAX_MODEL_BYTES {
        return Err(PlanError::invalid(
            "model_too_long",
            format!(
                "the model name is {} bytes long; model names are at most {MAX_MODEL_BYTES} bytes",
                requested.len()
            ),
        ));
    }
    Ok(())
}

/// Appends the global fallback combo's targets (docs/routing.md §2), unless the plan is that
/// combo already; targets already in the plan are not repeated.
fn append_fallback(
    combos: &[Combo],
    fallback: Option<&str>,
    planned_combo: Option<&str>,
    targets: &mut Vec<Target>,
    expand: impl Fn(&Combo, &mut Vec<Target>),
) {
    let Some(f) = fallback.filter(|f| Some(*f) != planned_combo) else {
        return;
    };
    let Some(fc) = combos.iter().find(|c| c.name == f) else {
        return;
    };
    let mut extra = Vec::new();
    expand(fc, &mut extra);
    for t in extra {
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
}

fn check_name(requested: &str) -> Result<(), PlanError> {
    check_length(requested)?;
    // Model ids end up in upstream URL paths (Gemini): nothing that could change the path/query.
    let bad_char = |c: char| c.is_control() || matches!(c, '\\' | '?' | '#' | '%' | ' ');
    if requested.contains("..") || requested.chars().any(bad_char) {
        return Err(bad(format!(
            "model {requested:?} contains characters a model name cannot have"
        )));
    }
    Ok(())
}

/// What a model string means without combos: aliases first (exact, then the most specific
/// wildcard; one level), then a model id some provider lists verbatim (ids like
/// `meta-llama/Llama-3` contain `/`), then `provider/model` split at the first `/`, then a bare id
/// exactly one provider lists.
pub fn resolve_model<'a>(
    providers: &'a [Provider],
    aliases: &[Alias],
    requested: &str,
) -> Result<(&'a Provider, String), PlanError> {
    check_name(requested)?;
    let model = crate::storage::aliases::apply(aliases, requested);
    let model = model.as_str();
    let owners: Vec<&Provider> = providers
        .iter()
        .filter(|p| p.models.iter().any(|m| m == model))
        .collect();
    if let ([one], true) = (owners.as_slice(), model.contains('/')) {
        return Ok((one, model.to_string()));
    }
    if let Some((prefix, rest)) = model.split_once('/') {
        if let Some(p) = providers.iter().find(|p| p.name == prefix) {
            if rest.is_empty() {
                return Err(bad(format!(
                    "model {model:?} names provider {prefix:?} but no model after the '/'"
                )));
            }
            return Ok((p, rest.to_string()));
        }
    }
    match owners.as_slice() {
        [one] => Ok((one, model.to_string())),
        [] => {
            let known: Vec<String> = providers
                .iter()
                .flat_map(|p| p.models.iter().map(move |m| format!("{}/{}", p.name, m)))
                .take(20)
                .collect();
            let hint = if providers.is_empty() {
                "no providers are configured yet; add one in the dashboard".to_string()
            } else if known.is_empty() {
                format!(
                    "use \"<provider>/<model>\" with a provider among: {}",
                    providers
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!("available: {}", known.join(", "))
            };
            let via = if model != requested {
                format!(" (alias of {requested:?})")
            } else {
                String::new()
            };
            Err(PlanError::not_found(
                "model_not_found",
                format!("unknown model {model:?}{via}: {hint}"),
            ))
        }
        many => Err(PlanError::invalid(
            "ambiguous_model",
            format!(
                "model {model:?} is offered by several providers; choose one of: {}",
                many.iter()
                    .map(|p| format!("{}/{}", p.name, model))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
