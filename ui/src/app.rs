//! Page layout and the polling loop.

use leptos::prelude::*;

use crate::components::{
    AddProvider, ClientKeys, CodingTools, Combos, HowToUse, ProviderList, StatusPanel, Usage,
};
use crate::state::{Dashboard, POLL_INTERVAL};

#[component]
pub fn App() -> impl IntoView {
    let dashboard = Dashboard::default();
    dashboard.refresh();
    set_interval(move || dashboard.refresh(), POLL_INTERVAL);

    view! {
        <header class="topbar">
            <h1>"Switchyard"</h1>
            <span class="subtitle">"local AI gateway"</span>
        </header>
        <main>
            <StatusPanel dashboard=dashboard />
            <HowToUse dashboard=dashboard />
            <Combos dashboard=dashboard />
            <ProviderList dashboard=dashboard />
            <AddProvider dashboard=dashboard />
            <CodingTools />
            <ClientKeys />
            <Usage />
        </main>
    }
}
