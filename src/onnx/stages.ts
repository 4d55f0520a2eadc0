/**
 * Stages: the coarse partition of a model the strategy agents reason about (resnet `layer1`..`layer4`,
 * convnext `features.1`, deit `blocks.3`, vit `encoder.layers.encoder_layer_3`). Same rule as the
 * engine's profile (`stage_table`), so the two stage lists line up name for name: a stage is a
 * top-level module, unless that module is a *stage root*, in which case each of its children is one.
 * Stages without MACs fold their parameters into the stage before them (into the first stage when
 * they come first), so stages sum to the model totals.
 */

/** MACs and parameters of one module path (as in `OnnxProfile.byModule`). */
export interface ModuleCost {
  readonly path: string;
  readonly macs: number;
  readonly params: number;
}

/** One row of the stage table. */
export interface StageCost {
  readonly name: string;
  readonly macs: number;
  readonly params: number;
  /** `macs / total macs` (0 when the model has no MACs). */
  readonly share: number;
}

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}.`);

/**
 * The stage a module path belongs to, given the stage roots: the first segment, extended by one
 * segment while the prefix so far is a root. Top-level glue (`''`) is `(root)`.
 * @example
 * stageOf('layer1.0.conv1', [])                  // 'layer1'
 * stageOf('features.1.0.block.0', ['features'])  // 'features.1'
 */
export function stageOf(modulePath: string, roots: readonly string[]): string {
  if (modulePath === '') return '(root)';
  const segments = modulePath.split('.');
  let stage = segments[0] ?? '';
  for (let i = 1; i < segments.length && roots.includes(stage); i++) stage = `${stage}.${segments[i] ?? ''}`;
  return stage;
}

/**
 * Stage roots decided from the MAC distribution, for models the caller names none for: a top-level
 * module holding more than half the MACs is a root (`features`, `blocks`, `encoder`), and so is its only
 * MAC-bearing child while that holds more than half too (`encoder.layers`), so a wrapper does not hide
 * the blocks. A root must have children; a single dominant block inside a root stays one stage.
 * @example
 * // vit_b_16: ['encoder', 'encoder.layers']; resnet50: []; convnext_small: ['features']
 */
export function autoStageRoots(modules: readonly ModuleCost[]): string[] {
  const total = modules.reduce((s, m) => s + m.macs, 0);
  if (total === 0) return [];
  const macsUnder = (p: string): number => modules.reduce((s, m) => s + (under(m.path, p) ? m.macs : 0), 0);
  const children = (p: string): string[] => {
    const depth = p === '' ? 0 : p.split('.').length;
    const kids = new Set<string>();
    for (const m of modules) {
      if (m.path === '' || m.path === p || (p !== '' && !m.path.startsWith(`${p}.`))) continue;
      kids.add(
        m.path
          .split('.')
          .slice(0, depth + 1)
          .join('.'),
      );
    }
    return [...kids];
  };
  const dominant = (p: string): boolean => macsUnder(p) * 2 > total && children(p).length > 0;
  const roots: string[] = [];
  for (const top of children('')) {
    if (!dominant(top)) continue;
    roots.push(top);
    for (let cur = top; ; ) {
      const withMacs = children(cur).filter((k) => macsUnder(k) > 0);
      const only = withMacs.length === 1 ? withMacs[0] : undefined;
      if (only === undefined || !dominant(only)) break;
      roots.push(only);
      cur = only;
    }
  }
  return roots;
}

/**
 * The stage table: per stage (in order of first appearance) MACs, parameters and MAC share, with
 * MAC-less stages folded as described above.
 */
export function stageTable(modules: readonly ModuleCost[], roots: readonly string[]): StageCost[] {
  const rows = new Map<string, { macs: number; params: number }>();
  for (const m of modules) {
    const name = stageOf(m.path, roots);
    const row = rows.get(name) ?? { macs: 0, params: 0 };
    row.macs += m.macs;
    row.params += m.params;
    rows.set(name, row);
  }
  const total = modules.reduce((s, m) => s + m.macs, 0);
  const stages: { name: string; macs: number; params: number }[] = [];
  let pending = 0;
  for (const [name, row] of rows) {
    const last = stages[stages.length - 1];
    if (row.macs > 0 || total === 0) {
      stages.push({ name, macs: row.macs, params: row.params + pending });
      pending = 0;
    } else if (last) {
      last.params += row.params;
    } else {
      pending += row.params;
    }
  }
  const last = stages[stages.length - 1];
  if (last) last.params += pending;
  return stages.map((s) => ({ ...s, share: total > 0 ? s.macs / total : 0 }));
}
