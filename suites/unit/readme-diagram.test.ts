// README's picture of the data's path (a Mermaid flowchart, which GitHub renders): written in the
// subset of Mermaid's grammar it uses (checked line by line, so that a typo shows here and not
// as GitHub's "Unable to render"), and true to the code: each stage it draws is a folder of
// src/, joined in one path from the scenario to the outputs. Rendered once by eye in Chromium
// with Mermaid 11 (docs/architecture.md says so).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MARKER = '<!-- architecture-diagram -->';

function diagram(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  expect(at, `README.md has no ${MARKER}`).toBeGreaterThan(0);
  const block = /^```mermaid\n([\s\S]*?)^```$/m.exec(readme.slice(at));
  expect(block, 'a ```mermaid block after the marker').not.toBeNull();
  return block![1]!.split('\n').filter((line) => line.trim() !== '');
}

// A node: id, then ["label"] (a box) or [("label")] (a cylinder: stored data); labels hold no
// quote or bracket, <br/> breaks a line.
const NODE = String.raw`([a-z]+)(?:\["([^"\[\]()]+)"\]|\[\("([^"\[\]()]+)"\)\])?`;
const EDGE = new RegExp(`^\\s{2}${NODE} --> ${NODE}$`);

interface Parsed { edges: [string, string][]; labels: Map<string, string> }

function parse(lines: string[]): Parsed {
  expect(lines[0]).toBe('flowchart LR');
  const edges: [string, string][] = [];
  const labels = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const match = EDGE.exec(line);
    expect(match, `not an edge of the form id["label"] --> id["label"]: ${line}`).not.toBeNull();
    const [, from, fromBox, fromStore, to, toBox, toStore] = match!;
    for (const [id, label] of [[from!, fromBox ?? fromStore], [to!, toBox ?? toStore]] as const) {
      if (label === undefined) continue;
      expect(labels.has(id), `${id} is labelled twice`).toBe(false);
      labels.set(id, label);
    }
    edges.push([from!, to!]);
  }
  return { edges, labels };
}

describe('README\'s architecture diagram', () => {
  it('parses: a left-to-right flowchart of labelled nodes and arrows, each node labelled once', () => {
    const { edges, labels } = parse(diagram());
    const nodes = new Set(edges.flat());
    expect([...nodes].filter((node) => !labels.has(node))).toEqual([]);
    for (const [id, label] of labels) expect(label.startsWith(`${id}<br/>`), `${id}: its label starts with its name`).toBe(true);
  });

  it('the check itself: it refuses what Mermaid would not draw as meant', () => {
    for (const broken of [['flowchart LR', '  a["x] --> b["y"]'], ['flowchart LR', '  a["x"] -> b["y"]'], ['graph', '  a --> b'], ['flowchart LR', '  a["x"] --> b["y"]', '  a["z"] --> c["w"]']]) {
      expect(() => parse(broken)).toThrow();
    }
  });

  it('draws the code: each stage is a folder of src/, one path from the scenario reaches every output', () => {
    const { edges, labels } = parse(diagram());
    // The verdicts are the gate's and field mode's.
    const folders: Record<string, string[]> = { verdict: ['gate', 'field'] };
    for (const id of labels.keys()) {
      for (const folder of folders[id] ?? [id]) expect(fs.existsSync(path.join(ROOT, 'src', folder)), `src/${folder}/ (drawn as ${id})`).toBe(true);
    }
    const reached = new Set(['scenario']);
    for (let grew = true; grew;) {
      grew = false;
      for (const [from, to] of edges) if (reached.has(from) && !reached.has(to)) { reached.add(to); grew = true; }
    }
    expect([...labels.keys()].filter((id) => !reached.has(id))).toEqual([]);
    expect(new Set(edges.map(([from]) => from))).not.toContain('report');
  });
});
