// Charts are Vega-Lite specs compiled and rendered to SVG in Node (no browser, no canvas):
// the page embeds the SVG text, so opening it needs neither scripts nor a network.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

export async function renderSvg(spec: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
