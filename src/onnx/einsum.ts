/**
 * The part of `Einsum` the profiler needs: the output shape, and the MACs when the equation is a
 * contraction of two operands (matmul form, e.g. `bhqd,bhkd->bhqk`). Ellipsis (`...`) is supported.
 */
import { broadcastShapes } from './tensor-ops';

/** An Einsum equation resolved against concrete input shapes. */
export interface EinsumPlan {
  readonly outputShape: number[];
  /** Size of every letter label, after broadcasting. */
  readonly labelSizes: ReadonlyMap<string, number>;
  /** Broadcast shape the ellipsis stands for (empty when unused). */
  readonly ellipsisShape: readonly number[];
  /** Labels that appear in the inputs but not in the output (summed over). */
  readonly contracted: readonly string[];
}

/**
 * Resolve `equation` against `shapes`; throws an `Error` with a plain reason when they do not fit
 * (the caller wraps it into an UnsupportedOpError naming the node).
 * @example planEinsum('bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]).outputShape // [2, 3, 5]
 */
export function planEinsum(equation: string, shapes: readonly (readonly number[])[]): EinsumPlan {
  const eq = equation.replace(/\s+/g, '');
  const [lhs = '', rhs] = eq.split('->');
  const terms = lhs.split(',');
  if (terms.length !== shapes.length)
    throw new Error(`equation has ${terms.length} operands, node has ${shapes.length} inputs`);
  const labelSizes = new Map<string, number>();
  const ellipsisShapes: number[][] = [];
  const counts = new Map<string, number>();
  terms.forEach((term, k) => {
    const shape = shapes[k] as readonly number[];
    const [before = '', after] = term.split('...');
    const letters = after === undefined ? before : before + after;
    const ellipsisRank = after === undefined ? 0 : shape.length - letters.length;
    if (ellipsisRank < 0 || (after === undefined && letters.length !== shape.length)) {
      throw new Error(`operand ${k} "${term}" does not match rank ${shape.length}`);
    }
    const dimsOf = (start: number, text: string): void => {
      [...text].forEach((label, j) => {
        const size = shape[start + j] as number;
        const seen = labelSizes.get(label);
        if (seen !== undefined && seen !== size && seen !== 1 && size !== 1) {
          throw new Error(`label ${label} has sizes ${seen} and ${size}`);
        }
        labelSizes.set(label, Math.max(seen ?? 1, size));
        counts.set(label, (counts.get(label) ?? 0) + 1);
      });
    };
    dimsOf(0, before);
    if (after !== undefined) {
      ellipsisShapes.push(shape.slice(before.length, before.length + ellipsisRank));
      dimsOf(before.length + ellipsisRank, after);
    }
  });
  const ellipsisShape = broadcastShapes(ellipsisShapes);
  if (ellipsisShape === undefined) throw new Error('ellipsis dimensions do not broadcast');
  // Implicit output: labels seen once, in alphabetical order, after the ellipsis.
  const out =
    rhs ??
    (ellipsisShapes.length > 0 ? '...' : '') +
      [...counts]
        .filter(([, c]) => c === 1)
        .map(([l]) => l)
        .sort()
        .join('');
  const outputShape: number[] = [];
  const [outBefore = '', outAfter] = out.split('...');
  const sizeOf = (label: string): number => {
    const s = labelSizes.get(label);
    if (s === undefined) throw new Error(`output label ${label} is not in any input`);
    return s;
  };
  outputShape.push(...[...outBefore].map(sizeOf));
  if (outAfter !== undefined) outputShape.push(...ellipsisShape, ...[...outAfter].map(sizeOf));
  const outLabels = new Set(out.replace('...', ''));
  const contracted = [...labelSizes.keys()].filter((l) => !outLabels.has(l));
  return { outputShape, labelSizes, ellipsisShape, contracted };
}
