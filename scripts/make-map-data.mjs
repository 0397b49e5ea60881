// The transfer map's data (run through scripts/make-map-data, which fetches the coordinates first): reads
// the 52 languages from src/task/languages.rs and Glottolog's coordinates (a JSON file, argument 1), projects
// them and Natural Earth's 1:110m land with d3-geo's Natural Earth projection onto a frame around the
// points, moves apart points that would overlap (each keeps a line to where it belongs), writes the outline
// as an SVG path to src/app/transfer_map_outline.txt and prints src/app/transfer_map_data.rs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { geoNaturalEarth1, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(repo, 'scripts/node_modules', name), 'utf8'));
const coordinates = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const land110 = readJson('world-atlas/land-110m.json');
const atlasVersion = readJson('world-atlas/package.json').version;

/** The SVG's width; its height follows from the frame. Points' radius and the gap kept between them. */
const WIDTH = 960;
const RADIUS = 8;
const GAP = 1.5;
const MARGIN = 28;

/**
 * Where a FLORES-200 code's point comes from: its ISO 639-3 part, except for the two that name a
 * macrolanguage Glottolog gives no point: `zho` (Chinese) takes Mandarin (`cmn`, Glottolog mand1415, near
 * Beijing), as SIB-200's zho_Hans text is Mandarin in simplified characters; `est` (Estonian) takes
 * Standard Estonian (`ekk`, esto1258). The others are individual languages in Glottolog (`arb`: Standard
 * Arabic, stan1318; `swh`: Swahili, swah1253; `npi`: Nepali, nepa1254; `quy`: Ayacucho Quechua), except
 * `aka` (Akan, a macrolanguage Glottolog places in southern Ghana) and `twi` (Twi, a dialect of Akan there),
 * which share that point and are moved apart like any overlapping pair.
 */
const ISO_FOR = { zho: 'cmn', est: 'ekk' };

const source = fs.readFileSync(path.join(repo, 'src/task/languages.rs'), 'utf8');
const languages = [...source.matchAll(/lang\("((\w{3})_\w{4})", "([^"]+)"/g)].map(([, code, iso, name]) => {
  const glottolog = coordinates[ISO_FOR[iso] ?? iso];
  if (!glottolog) throw new Error(`no coordinates for ${code} (${name})`);
  const [glottologName, glottocode, latitude, longitude] = glottolog;
  return { code, name, iso: ISO_FOR[iso] ?? iso, glottologName, glottocode, latitude, longitude };
});
if (languages.length !== 52) throw new Error(`read ${languages.length} languages from languages.rs, not 52`);

// Natural Earth projection centred on 30°E, fitted so that every point lies inside the frame's margin.
const points = { type: 'MultiPoint', coordinates: languages.map((l) => [l.longitude, l.latitude]) };
const projection = geoNaturalEarth1().rotate([-30, 0]).fitWidth(WIDTH - 2 * MARGIN, points);
const [[x0, y0], [x1, y1]] = geoPath(projection).bounds(points);
// A little more room above and below than beside: the outline reads better with some sea around it.
const height = Math.ceil(y1 - y0 + 2 * MARGIN + 40);
const [tx, ty] = projection.translate();
projection.translate([tx - x0 + MARGIN, ty - y0 + MARGIN + 20]).clipExtent([[0, 0], [WIDTH, height]]);

const outline = geoPath(projection).digits(1)(feature(land110, land110.objects.land));

// Points at their place, then pushed apart pairwise until none overlap (a fixed number of rounds, in the
// languages' order, so the output is the same every time), each pulled gently back towards its place.
const placed = languages.map((l) => {
  const [x, y] = projection([l.longitude, l.latitude]);
  return { ...l, homeX: x, homeY: y, x, y };
});
const apart = 2 * RADIUS + GAP;
for (let round = 0; round < 400; round += 1) {
  for (let i = 0; i < placed.length; i += 1) {
    for (let j = i + 1; j < placed.length; j += 1) {
      const a = placed[i];
      const b = placed[j];
      let dx = b.x - a.x;
      let dy = b.y - a.y;
      let d = Math.hypot(dx, dy);
      if (d >= apart) continue;
      // Points on the same spot part along a direction fixed by their order.
      if (d < 1e-6) [dx, dy, d] = [Math.cos(i + j), Math.sin(i + j), 1];
      const push = (apart - d) / 2;
      a.x -= (dx / d) * push;
      a.y -= (dy / d) * push;
      b.x += (dx / d) * push;
      b.y += (dy / d) * push;
    }
  }
  for (const p of placed) {
    p.x += (p.homeX - p.x) * 0.02;
    p.y += (p.homeY - p.y) * 0.02;
  }
}
let overlaps = 0;
for (let i = 0; i < placed.length; i += 1) {
  for (let j = i + 1; j < placed.length; j += 1) {
    if (Math.hypot(placed[i].x - placed[j].x, placed[i].y - placed[j].y) < 2 * RADIUS) overlaps += 1;
  }
}
if (overlaps) throw new Error(`${overlaps} pairs of points still overlap`);

// The path, wrapped at whitespace-free command boundaries into lines of at most 120 characters (SVG reads a
// newline as a separator).
const lines = [];
let line = '';
for (const command of outline.match(/[MLZ][^MLZ]*/g)) {
  if (line.length + command.length > 120) {
    lines.push(line);
    line = '';
  }
  line += command;
}
lines.push(line);
fs.writeFileSync(path.join(repo, 'src/app/transfer_map_outline.txt'), `${lines.join('\n')}\n`);

const round = (v) => Math.round(v * 10) / 10;
const f = (v) => (Number.isInteger(round(v)) ? `${round(v)}.0` : `${round(v)}`);
const rows = placed.map((p) =>
  `    // ${p.glottologName} (${p.iso}, ${p.glottocode}): ${p.latitude}, ${p.longitude}\n`
  + `    MapPoint { code: "${p.code}", x: ${f(p.x)}, y: ${f(p.y)}, home_x: ${f(p.homeX)}, home_y: ${f(p.homeY)} },`);
process.stdout.write(`//! GENERATED by \`scripts/make-map-data\` (scripts/make-map-data.mjs): do not edit by hand; run it again.
//!
//! The transfer map's frame and one point per evaluation language, in SVG user units. Coordinates:
//! Glottolog's (CC BY 4.0), as compiled in the PyPI package qwanqwa 1.2.1 (its data: CC BY-SA 4.0, so
//! this table of points is under CC BY-SA 4.0 too); outline (\`transfer_map_outline.txt\`): Natural Earth
//! 1:110m land (public domain, via the npm package world-atlas ${atlasVersion}, ISC); projection: Natural Earth,
//! centred on 30°E. \`x\`, \`y\` is where a point is drawn, \`home_x\`, \`home_y\` where the language is spoken
//! (they differ where points were moved apart so that none overlaps).

/// One language's point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapPoint {
    /// FLORES-200 code, as in \`task::languages\`.
    pub code: &'static str,
    pub x: f64,
    pub y: f64,
    pub home_x: f64,
    pub home_y: f64,
}

pub const WIDTH: f64 = ${f(WIDTH)};
pub const HEIGHT: f64 = ${f(height)};
/// A point's radius.
pub const RADIUS: f64 = ${f(RADIUS)};
/// Natural Earth's land, projected and clipped to the frame: an SVG path.
pub const OUTLINE: &str = include_str!("transfer_map_outline.txt");

pub const POINTS: [MapPoint; ${placed.length}] = [
${rows.join('\n')}
];
`);
