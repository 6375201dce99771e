// The pieces every HTML report is made of: escaping, tables, chart figures and one stylesheet.
// Everything a report shows from a run's files goes through escapeHtml: a history is data, never markup.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function table(header: string[], rows: (string | number)[][], className = ''): string {
  const head = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((v) => `<td>${escapeHtml(String(v))}</td>`).join('')}</tr>`).join('\n');
  return `<table${className ? ` class="${className}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function figure(id: string, title: string, svg: string, dataTable: string): string {
  return `<figure class="chart" id="${id}" data-chart="${escapeHtml(title)}">
<figcaption>${escapeHtml(title)}</figcaption>
${svg}
<details><summary>Data behind this chart</summary>
${dataTable}
</details>
</figure>`;
}

/**
 * The reports' Content-Security-Policy: inline styles and the inline SVG only. A page built from
 * a history that someone crafted can then run nothing, even where markup slipped through.
 */
export const CSP_META = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">';

export const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h3 { margin-bottom: 0.3rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: left; }
th { background: #f3f3f3; }
figure.chart { margin: 1rem 0; } figcaption { font-weight: 600; margin-bottom: 0.3rem; }
figure.chart svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }
dl.evidence { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.2rem 0.9rem; background: #f7f7f7; padding: 0.6rem; font-family: ui-monospace, monospace; font-size: 0.8rem; }
dl.evidence dt { font-weight: 600; } dl.evidence dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; } dl.evidence dd.whole { grid-column: 1 / -1; }
.advice { border-left: 6px solid #999; padding: 0.2rem 0.8rem; margin: 0.8rem 0; background: #fafafa; }
.advice.unsafe { border-color: #c0392b; } .advice.masked { border-color: #e67e22; } .advice.safe { border-color: #27ae60; }
.verdict { text-transform: uppercase; } .fix { font-weight: 600; }
.note { color: #666; font-size: 0.85rem; }
.gate-verdict { border-left: 6px solid #999; padding: 0.2rem 0.8rem; margin: 0.8rem 0; background: #fafafa; }
.gate-verdict.pass { border-color: #27ae60; } .gate-verdict.fail { border-color: #c0392b; } .gate-verdict.masked { border-color: #e67e22; } .gate-verdict.undecided { border-color: #7f8c8d; }
`;
