//! Pricing for client budgets (`usd_per_day`, `usd_per_month`): costs in whole nano-dollars.
//!
//! A request is priced from the tokens it used and the `input_price` / `output_price` (USD per
//! million tokens) of the deployment that served it, as [`crate::config::Price::cost`] does for
//! the metrics, then rounded to the nearest nano-dollar (10⁻⁹ USD). Integers make a client's
//! spend exactly the sum of its requests' prices, whatever the order they finish in.
//!
//! Before a deployment is chosen the real price is unknown, so admission reserves an upper
//! bound: the request's estimate (input tokens plus `max_tokens`) at the dearest input and
//! output prices of any deployment its tier could reach (fallback and context-fallback tiers,
//! transitively). See [`crate::clients`] for how reservations and real costs are counted.

use crate::config::{Config, Price};
use crate::ids::TierId;

/// Nano-dollars per US dollar.
pub const NANOS_PER_USD: f64 = 1e9;

/// The price of `input` and `output` tokens at `price`, in nano-dollars (rounded to the
/// nearest; saturating at `u64::MAX`).
pub fn nanos(price: &Price, input: u64, output: u64) -> u64 {
    to_nanos(price.cost(input, output))
}

/// A dollar amount in nano-dollars (rounded to the nearest; saturating, negatives are 0).
pub fn to_nanos(usd: f64) -> u64 {
    // `as` saturates, and maps NaN to 0.
    (usd * NANOS_PER_USD).round() as u64
}

/// Nano-dollars as dollars.
pub fn usd(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_USD
}

/// Per tier, the dearest input and output prices (each on its own) of any deployment a request
/// routed to that tier could be sent to: its tier, fallbacks and context fallbacks, followed
/// transitively (an over-approximation of the engine's chain, so an upper bound).
pub(crate) fn dearest_prices(config: &Config) -> Vec<Price> {
    (0..config.tiers.len())
        .map(|start| {
            let mut seen = vec![false; config.tiers.len()];
            let mut stack = vec![TierId::from_index(start)];
            let mut dearest = Price::default();
            while let Some(t) = stack.pop() {
                if std::mem::replace(&mut seen[t.index()], true) {
                    continue;
                }
                let tier = config.tier(t);
                for d in &tier.deployments {
                    let p = config.deployment(*d).price;
                    dearest.input_per_million = dearest.input_per_million.max(p.input_per_million);
                    dearest.output_per_million =
                        dearest.output_per_million.max(p.output_per_million);
                }
                stack.extend(tier.fallback.iter().copied());
                stack.extend(tier.context_fallback);
            }
            dearest
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_round_to_the_nearest_and_saturate() {
        let p = Price {
            input_per_million: 0.15,
            output_per_million: 0.6,
            cached_input_per_million: 0.075,
        };
        // 1000 × 0.15e-6 + 500 × 0.6e-6 = 0.00045 USD.
        assert_eq!(nanos(&p, 1000, 500), 450_000);
        assert_eq!(nanos(&p, 1, 0), 150);
        assert_eq!(to_nanos(1.0), 1_000_000_000);
        assert_eq!(to_nanos(f64::INFINITY), u64::MAX);
        assert_eq!(to_nanos(-1.0), 0);
        assert_eq!(usd(450_000), 0.00045);
    }

    #[test]
    fn the_dearest_price_follows_fallbacks_and_context_fallbacks() {
        let config = Config::from_toml(
            "[[tier]]\nname = \"a\"\nfallback = [\"b\"]\n[[tier]]\nname = \"b\"\n\
             context_fallback = \"c\"\n[[tier]]\nname = \"c\"\n[[tier]]\nname = \"d\"\n\
             [[deployment]]\nid = \"a1\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"a\"\n\
             input_price = 1.0\noutput_price = 2.0\n\
             [[deployment]]\nid = \"b1\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"b\"\n\
             input_price = 3.0\noutput_price = 1.0\n\
             [[deployment]]\nid = \"c1\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"c\"\n\
             input_price = 0.5\noutput_price = 9.0\n\
             [[deployment]]\nid = \"d1\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"d\"\n\
             input_price = 100.0\noutput_price = 100.0\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let d = dearest_prices(&config);
        let pair = |p: Price| (p.input_per_million, p.output_per_million);
        assert_eq!(pair(d[0]), (3.0, 9.0));
        assert_eq!(pair(d[1]), (3.0, 9.0));
        assert_eq!(pair(d[2]), (0.5, 9.0));
        assert_eq!(pair(d[3]), (100.0, 100.0));
    }
}
