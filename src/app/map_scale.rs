//! The transfer map's colour scale, from chance to the best accuracy. Plain functions of numbers (no crate
//! paths): `tests/map_data.rs` includes this file to test it natively, as `app` builds for wasm only.

/// The colour scale, low to high (viridis: its lightness rises all the way, and it reads in grey and with
/// the common colour-vision deficiencies). `style/main.css`'s `.map-scale` draws the same stops.
pub const SCALE: [(u8, u8, u8); 6] =
    [(68, 1, 84), (65, 68, 135), (42, 120, 142), (34, 168, 132), (122, 209, 81), (253, 231, 37)];

/// Where `accuracy` falls on the scale: 0 at chance (and below), 1 at `best`.
pub fn scale_position(accuracy: f64, chance: f64, best: f64) -> f64 {
    if best <= chance {
        return if accuracy > chance { 1.0 } else { 0.0 };
    }
    ((accuracy - chance) / (best - chance)).clamp(0.0, 1.0)
}

/// The scale's colour at `t` in [0, 1], as `#rrggbb`.
pub fn colour(t: f64) -> String {
    let t = t.clamp(0.0, 1.0) * (SCALE.len() - 1) as f64;
    let i = (t.floor() as usize).min(SCALE.len() - 2);
    let f = t - i as f64;
    let (a, b) = (SCALE[i], SCALE[i + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}
