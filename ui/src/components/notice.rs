//! A one-line outcome message under a panel's controls: green on success, red on failure.

use leptos::prelude::*;

/// `Ok(text)` for a success, `Err(text)` for a failure (the gateway's message, verbatim).
pub type Note = Option<Result<String, String>>;

#[component]
pub fn Notice(id: &'static str, note: RwSignal<Note>) -> impl IntoView {
    let class = move || match note.get() {
        Some(Ok(_)) => "message success",
        Some(Err(_)) => "message error",
        None => "message",
    };
    let text = move || match note.get() {
        Some(Ok(t) | Err(t)) => t,
        None => String::new(),
    };
    view! {
        <p id=id class=class role="status" aria-live="polite">{text}</p>
    }
}
