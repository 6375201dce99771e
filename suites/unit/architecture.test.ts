// The layout's rules, checked from the source itself: no import cycle in src/ (type-only imports
// count: a cycle of types is still two modules that cannot be understood one without the other),
// the shared words in src/vocabulary.ts, and no code outside src/proxy/ that compares proxy
// flavour names (what a flavour means lives in its plugin, src/proxy/<flavour>/), and no function
// over 80 lines (a longer one is several steps that deserve names).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { proxyFlavours } from '../../src/proxy/registry.js';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Each file's imports of other files in src/ (`import`, `import type`, `export ... from`). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, false);
    const local = importedFiles.map((ref) => ref.fileName).filter((name) => name.startsWith('.'))
      .map((name) => path.resolve(path.dirname(file), name.replace(/\.js$/, '.ts')))
      .filter((target) => target.startsWith(SRC) && fs.existsSync(target));
    graph.set(file, local);
  }
  return graph;
}

/** The cycles of a graph, one path per strongly connected component (Tarjan). */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(component);
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

const relative = (file: string) => path.relative(SRC, file);

describe('the layout of src/', () => {
  it('finds a cycle where there is one (the check itself)', () => {
    const graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(cyclesOf(graph).map((cycle) => cycle.sort())).toEqual([['a', 'b', 'c']]);
    expect(cyclesOf(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('has no import cycle, type-only imports included', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(100);
    expect(cyclesOf(graph).map((cycle) => cycle.map(relative).sort())).toEqual([]);
  });

  it('keeps the vocabulary free of every stage (it imports nothing of ours but the faults)', () => {
    const imports = importGraph().get(path.join(SRC, 'vocabulary.ts'))!.map(relative);
    expect(imports.every((file) => file.startsWith('faults/'))).toBe(true);
  });

  it('compares proxy flavour names only inside src/proxy/', () => {
    // A comparison with a flavour's name ('nginx' === x, x !== 'haproxy', case 'caddy':), or a
    // literal union of names retyped by hand. `none` counts where it is compared with a proxy or
    // a flavour (the gate's boundary 'none' and the fault set 'none' are other words).
    // Every flavour the registry lists; the pass-through one (none) only beside those words.
    const proxied = proxyFlavours().filter((flavour) => !flavour.passThrough).map((flavour) => flavour.name);
    expect(proxied).toEqual(expect.arrayContaining(['nginx', 'haproxy', 'caddy']));
    const names = `'(?:${proxied.join('|')})'`;
    const flavourName = new RegExp(`[!=]==\\s*${names}|${names}\\s*[!=]==|case\\s+${names}|${names}\\s*\\|\\s*'|(?<!\\|)\\|(?!\\|)\\s*${names}`);
    const none = proxyFlavours().find((flavour) => flavour.passThrough)!.name;
    const noProxy = new RegExp(`\\b(?:proxy|flavour)\\s*[!=]==\\s*'${none}'|'${none}'\\s*[!=]==\\s*[\\w.]*(?:proxy|flavour)\\b`, 'i');
    const comparison = { test: (line: string) => flavourName.test(line) || noProxy.test(line) };
    // The check itself: it sees what it looks for, and not the other words.
    for (const line of ["if (config.proxy === 'haproxy') {", "proxy?: 'nginx' | 'caddy';", "case 'nginx':", "if (spec.proxy.flavour === 'none') {"]) expect(comparison.test(line), line).toBe(true);
    for (const line of ["const reasons = list.join(', ') || 'none';", "if (faults.length === 0) return 'none';"]) expect(comparison.test(line), line).toBe(false);
    const offending = sourceFiles(SRC).filter((file) => !relative(file).startsWith(`proxy${path.sep}`))
      .flatMap((file) => fs.readFileSync(file, 'utf8').split('\n').map((line, i) => ({ where: `${relative(file)}:${i + 1}`, line })))
      .filter(({ line }) => comparison.test(line))
      .map(({ where, line }) => `${where}: ${line.trim()}`);
    expect(offending).toEqual([]);
  });
  it('loads testcontainers only when a run uses the containers runtime: no static import chain from an entry point reaches it', () => {
    // Value imports only (a type import is erased), static only (a dynamic import() is the
    // lazy door, runtime/load-containers.ts): what the CLI and the library load at start.
    const staticImports = (file: string) => {
      const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      return source.statements.flatMap((statement) => {
        if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly
          && !(statement.importClause?.namedBindings && ts.isNamedImports(statement.importClause.namedBindings) && !statement.importClause.name
            && statement.importClause.namedBindings.elements.length > 0 && statement.importClause.namedBindings.elements.every((element) => element.isTypeOnly))) {
          return [(statement.moduleSpecifier as ts.StringLiteral).text];
        }
        if (ts.isExportDeclaration(statement) && !statement.isTypeOnly && statement.moduleSpecifier) return [(statement.moduleSpecifier as ts.StringLiteral).text];
        return [];
      });
    };
    const reached = new Map<string, string | null>();
    const queue = ['index.ts', 'cli/main.ts', 'matchers/index.ts'].map((entry) => path.join(SRC, entry));
    for (const entry of queue) reached.set(entry, null);
    const pulling: string[] = [];
    while (queue.length > 0) {
      const file = queue.shift()!;
      for (const specifier of staticImports(file)) {
        if (specifier === 'testcontainers') pulling.push(`${relative(file)} (via ${[...chainOf(file)].map(relative).join(' <- ')})`);
        if (!specifier.startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts'));
        if (!reached.has(target) && fs.existsSync(target)) {
          reached.set(target, file);
          queue.push(target);
        }
      }
    }
    function* chainOf(file: string): Generator<string> {
      for (let at: string | null = file; at; at = reached.get(at) ?? null) yield at;
    }
    expect(reached.size).toBeGreaterThan(100);
    expect(pulling).toEqual([]);
    // The check itself: the containers runtime's own modules do import it.
    expect(staticImports(path.join(SRC, 'runtime/containers/containers-runtime.ts'))).toContain('testcontainers');
  });

  it('has no function over 80 lines', () => {
    const long: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const [from, to] = [node.getStart(), node.getEnd()].map((at) => source.getLineAndCharacterOfPosition(at).line);
          if (to! - from! + 1 > 80) long.push(`${relative(file)}:${from! + 1} (${to! - from! + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(long).toEqual([]);
  });
});
