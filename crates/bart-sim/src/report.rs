//! Text reports: a served page as a listener would read it, with every probability.

use bart_core::{Catalog, Impression};
use std::fmt::Write;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The page of `impression` as text: a header with the context, then one block per shelf
/// (title and conditional probability) with its cards (kind, title, artist, conditional
/// probability, slot propensity, model score).
pub fn render_page(catalog: &Catalog, impression: &Impression) -> String {
    let ctx = &impression.context;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Home page of listener {} ({}, {}, {} {:02}:00) - impression {}, policy {} ({}), model v{}, log-probability {:.2}",
        ctx.listener,
        catalog.region_name(ctx.region),
        ctx.platform.name(),
        WEEKDAYS[usize::from(ctx.weekday % 7)],
        ctx.hour,
        impression.id,
        impression.policy,
        impression.exploration,
        impression.model_version,
        impression.page.log_probability(),
    );
    for shelf in &impression.page.shelves {
        let _ = writeln!(
            out,
            "\n  {}. {}   (p = {:.3})",
            shelf.row + 1,
            shelf.explanation.title(catalog),
            shelf.probability
        );
        for card in &shelf.cards {
            let (kind, title, artist) = catalog.item(card.item).map_or(
                ("?", format!("item {}", card.item), String::new()),
                |item| {
                    (
                        item.kind.name(),
                        item.title.clone(),
                        catalog.artist_name(item.artist),
                    )
                },
            );
            let _ = writeln!(
                out,
                "     {:<8} {:<32} {:<22} p = {:.3}  slot p = {}  score {:.3}",
                kind,
                truncate(&title, 32),
                truncate(&artist, 22),
                card.probability,
                card.propensity
                    .map_or("-".to_string(), |p| format!("{p:.4}")),
                card.score
            );
        }
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
