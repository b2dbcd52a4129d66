//! Closed sets of names, each with one spelling table.

use std::fmt;

/// A name that is not one of a vocabulary's words (the message lists the accepted ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub what: &'static str,
    pub got: String,
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}; expected one of: {}",
            self.what,
            self.got,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}

/// Declares an enum whose variants are spelled exactly once: `Variant = "name" | "alias"…`.
/// It gets `ALL`, `NAMES`, `as_str`, `parse`, `FromStr`, `Display`, serde, and (with the
/// `rusqlite` feature) `ToSql`/`FromSql`, all from that table.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal {
        $($(#[$vmeta:meta])* $variant:ident = $word:literal $(| $alias:literal)*),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every canonical name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($word),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            /// The variant a name (or one of its accepted aliases) stands for.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($word $(| $alias)* => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                Self::parse(s).ok_or_else(|| UnknownName {
                    what: $what,
                    got: s.to_string(),
                    expected: Self::NAMES,
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "rusqlite")]
        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        #[cfg(feature = "rusqlite")]
        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                s.parse().map_err(|e: UnknownName| rusqlite::types::FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

vocabulary! {
    /// A wire protocol spoken by a client or an upstream (names as the management API spells them).
    Format, "format" {
        /// OpenAI Chat Completions (`/chat/completions`).
        Chat = "openai",
        /// Anthropic Messages (`/messages`).
        Messages = "anthropic",
        /// OpenAI Responses (`/responses`).
        Responses = "responses",
        /// Google Gemini (`/models/{model}:generateContent`).
        Gemini = "gemini",
        /// Kiro / AWS CodeWhisperer (`/generateAssistantResponse`): upstream only, no client
        /// speaks it. Client-side functions given it answer as Chat.
        Kiro = "kiro",
    }
}

impl Format {
    /// What people see in the dashboard.
    pub const fn label(self) -> &'static str {
        match self {
            Format::Chat => "OpenAI-compatible (Chat Completions)",
            Format::Messages => "Anthropic Messages",
            Format::Responses => "OpenAI Responses",
            Format::Gemini => "Google Gemini",
            Format::Kiro => "Kiro (AWS event stream)",
        }
    }

    /// Path under the provider's base URL (Gemini puts the model in it).
    pub fn upstream_path(self, model: &str, stream: bool) -> String {
        match self {
            Format::Gemini if stream => format!("/models/{model}:streamGenerateContent?alt=sse"),
            Format::Gemini => format!("/models/{model}:generateContent"),
            Format::Chat => "/chat/completions".into(),
            Format::Messages => "/messages".into(),
            Format::Responses => "/responses".into(),
            Format::Kiro => "/generateAssistantResponse".into(),
        }
    }

    /// The auth style a provider of this format uses unless it says otherwise.
    pub const fn default_auth(self) -> AuthStyle {
        match self {
            Format::Messages => AuthStyle::XApiKey,
            Format::Gemini => AuthStyle::XGoogApiKey,
            Format::Chat | Format::Responses | Format::Kiro => AuthStyle::Bearer,
        }
    }
}

vocabulary! {
    /// Where a provider wants its key on a request.
    AuthStyle, "auth style" {
        /// `Authorization: Bearer <key>`
        Bearer = "bearer",
        /// `x-api-key: <key>`
        XApiKey = "x-api-key",
        /// `x-goog-api-key: <key>`
        XGoogApiKey = "x-goog-api-key",
        /// `?key=<key>`
        QueryKey = "query-key",
        /// No key at all (local servers).
        None = "none",
    }
}

vocabulary! {
    /// How a combo orders its targets (docs/routing.md §4).
    #[derive(Default)]
    ComboStrategy, "strategy" {
        #[default]
        Priority = "priority" | "fill-first",
        RoundRobin = "round-robin",
        Weighted = "weighted",
        Random = "random",
        StrictRandom = "strict-random",
        P2c = "p2c",
        LeastUsed = "least-used",
        CostOptimized = "cost-optimized",
        QuotaAware = "quota-aware",
    }
}

vocabulary! {
    /// How one of a provider's accounts is chosen (docs/routing.md §5).
    #[derive(Default)]
    AccountStrategy, "account strategy" {
        #[default]
        FillFirst = "fill-first",
        RoundRobin = "round-robin",
        P2c = "p2c",
        Random = "random",
        /// Least recently used.
        LeastUsed = "least-used",
    }
}

vocabulary! {
    /// How a client request ended, as the usage log records it.
    /// A row nobody finished is one whose client went away.
    #[derive(Default)]
    Outcome, "outcome" {
        /// An upstream answered and the answer reached the client.
        Ok = "ok",
        /// No target could answer; the client got one clear error.
        Error = "error",
        /// Refused before any upstream call (pause, client key, budget, bad request).
        Rejected = "rejected",
        /// Served from the response cache.
        CacheHit = "cache_hit",
        /// A repeated idempotency key: the first answer replayed.
        IdempotentReplay = "idempotent_replay",
        /// The upstream stream broke after the client had received part of it.
        StreamError = "stream_error",
        /// The client went away before the answer was complete.
        #[default]
        ClientClosed = "client_closed",
    }
}

impl Outcome {
    /// Whether the client got what it asked for (usage reports count the others as errors).
    pub const fn served(self) -> bool {
        matches!(
            self,
            Outcome::Ok | Outcome::CacheHit | Outcome::IdempotentReplay
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_serde_and_parse() {
        fn check<T>(all: &[T])
        where
            T: Copy + PartialEq + fmt::Debug + serde::Serialize + for<'a> serde::Deserialize<'a>,
            T: std::str::FromStr + fmt::Display,
        {
            for v in all {
                let json = format!("\"{v}\"");
                let back: T = serde_json_like(&json);
                assert_eq!(back, *v);
                assert!(v.to_string().parse::<T>().is_ok_and(|p| p == *v));
            }
        }
        // A tiny JSON string reader keeps this crate free of serde_json.
        fn serde_json_like<T: for<'a> serde::Deserialize<'a>>(s: &str) -> T {
            use serde::de::IntoDeserializer;
            let inner = s.trim_matches('"').to_string();
            let d: serde::de::value::StringDeserializer<serde::de::value::Error> =
                inner.into_deserializer();
            T::deserialize(d).unwrap()
        }
        check(Format::ALL);
        check(AuthStyle::ALL);
        check(ComboStrategy::ALL);
        check(AccountStrategy::ALL);
        check(Outcome::ALL);
    }

    #[test]
    fn aliases_parse_but_are_never_written() {
        assert_eq!(
            ComboStrategy::parse("fill-first"),
            Some(ComboStrategy::Priority)
        );
        assert_eq!(ComboStrategy::Priority.as_str(), "priority");
        assert!(!ComboStrategy::NAMES.contains(&"fill-first"));
    }

    #[test]
    fn an_unknown_name_lists_the_accepted_ones() {
        let e = "grpc".parse::<Format>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown format \"grpc\"; expected one of: openai, anthropic, responses, gemini, kiro"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut all: Vec<&str> = Format::NAMES.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), Format::ALL.len());
    }
}
