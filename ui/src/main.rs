//! Switchyard dashboard: a client-side rendered Leptos app served by the gateway itself.

mod api;
mod app;
mod components;
mod state;

fn main() {
    leptos::mount::mount_to_body(app::App);
}
