//! The dashboard's data tables: one scrolling wrapper, one header row, the rows as children.

use leptos::prelude::*;

/// A table `id` with `headers`; columns from `numeric_from` on are right-aligned numbers, and
/// `actions` adds a last, visually hidden "Actions" header for the rows' buttons.
#[component]
pub fn DataTable(
    id: &'static str,
    headers: &'static [&'static str],
    #[prop(default = usize::MAX)] numeric_from: usize,
    #[prop(optional)] actions: bool,
    children: Children,
) -> impl IntoView {
    let heads = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let class = (i >= numeric_from).then_some("num");
            view! { <th class=class>{*h}</th> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table id=id>
                <thead>
                    <tr>
                        {heads}
                        {actions.then(|| view! { <th><span class="visually-hidden">"Actions"</span></th> })}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
