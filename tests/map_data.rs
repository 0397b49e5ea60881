//! The transfer map's generated data (`scripts/make-map-data`) and its colour scale, checked natively: the
//! app (`src/app`) builds for wasm only, so its two plain files are included here.
#[path = "../src/app/map_scale.rs"]
mod map_scale;
#[path = "../src/app/transfer_map_data.rs"]
mod transfer_map_data;

use map_scale::{colour, scale_position};
use polyprompt::task::languages::LANGUAGES;
use transfer_map_data::{HEIGHT, OUTLINE, POINTS, RADIUS, WIDTH};

#[test]
fn every_language_has_one_point_on_the_map_and_none_overlap() {
    assert_eq!(POINTS.len(), LANGUAGES.len());
    for language in &LANGUAGES {
        assert_eq!(POINTS.iter().filter(|p| p.code == language.code).count(), 1, "{}", language.code);
    }
    for p in &POINTS {
        for (x, y) in [(p.x, p.y), (p.home_x, p.home_y)] {
            assert!((0.0..=WIDTH).contains(&x) && (0.0..=HEIGHT).contains(&y), "{} is off the map", p.code);
        }
        // Moved apart from its neighbours by a few radii at most.
        assert!((p.x - p.home_x).hypot(p.y - p.home_y) < 4.0 * RADIUS, "{} moved far from its place", p.code);
    }
    for (i, a) in POINTS.iter().enumerate() {
        for b in &POINTS[i + 1..] {
            assert!((a.x - b.x).hypot(a.y - b.y) >= 2.0 * RADIUS, "{} and {} overlap", a.code, b.code);
        }
    }
}

#[test]
fn points_sit_where_the_languages_are_spoken() {
    let at = |code: &str| POINTS.iter().find(|p| p.code == code).map(|p| (p.home_x, p.home_y)).unwrap();
    let (english, japanese, quechua, zulu, finnish) =
        (at("eng_Latn"), at("jpn_Jpan"), at("quy_Latn"), at("zul_Latn"), at("fin_Latn"));
    // West to east, and north to south (y grows downwards).
    assert!(quechua.0 < english.0 && english.0 < japanese.0);
    assert!(finnish.1 < english.1 && english.1 < zulu.1);
}

#[test]
fn the_outline_is_a_small_svg_path_inside_the_frame() {
    assert!(OUTLINE.starts_with('M') && OUTLINE.len() < 60_000, "{} bytes", OUTLINE.len());
    let numbers: Vec<f64> =
        OUTLINE.split(|c: char| "MLZ,\n".contains(c)).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    for xy in numbers.chunks(2) {
        assert!((0.0..=WIDTH).contains(&xy[0]) && (0.0..=HEIGHT).contains(&xy[1]), "{xy:?}");
    }
}

#[test]
fn the_scale_runs_from_chance_to_best_and_darkest_to_lightest() {
    assert_eq!(scale_position(0.1, 0.25, 0.75), 0.0);
    assert_eq!(scale_position(0.5, 0.25, 0.75), 0.5);
    assert_eq!(scale_position(0.75, 0.25, 0.75), 1.0);
    assert_eq!(scale_position(0.5, 0.5, 0.5), 0.0);
    assert_eq!((colour(0.0), colour(1.0)), ("#440154".to_string(), "#fde725".to_string()));
    let lightness = |hex: &str| {
        let c = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
        0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
    };
    let steps: Vec<f64> = (0..=20).map(|i| lightness(&colour(f64::from(i) / 20.0))).collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
}
