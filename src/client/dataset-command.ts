import type { Command } from 'commander';
import * as path from 'node:path';
import { defaultEngineLocation } from '../engine/engine-paths';
import { OneShotEngine } from '../engine/engine-process';
import { readWorkerEnv } from '../workers/worker-config';
import { UsageError } from './errors';

/** What the engine's `make-dataset` job returns. */
interface MakeDatasetResult {
  root: string;
  train: string;
  val: string;
  classes: string[];
  trainCount: number;
  valCount: number;
  imageSize: number;
  sha256: string;
  reused: boolean;
}

function integer(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${flag}: expected an integer, got ${value}`);
  return n;
}

/** `dataset make`: a small labelled ImageFolder dataset (train/ and val/) from a seed, by the engine. */
export function registerDatasetCommand(program: Command): void {
  const dataset = program.command('dataset').description('make datasets for campaigns');
  dataset
    .command('make')
    .description(
      'generate a small labelled image dataset (shapes and textures) in ImageFolder layout: DIR/train/<class>/, DIR/val/<class>/',
    )
    .requiredOption('--out <dir>', 'where the dataset goes (reused when it already holds the same request)')
    .option('--classes <n>', 'number of classes (2..100)', '10')
    .option('--train-per-class <n>', 'training images per class', '120')
    .option('--val-per-class <n>', 'validation images per class', '30')
    .option('--image-size <px>', 'image side in pixels (8..512)', '32')
    .option('--seed <n>', 'random seed: the same seed makes the same images', '0')
    .option(
      '--preset <name>',
      'easy (flat backgrounds: democnn learns it to ~90 % in a minute) or hard (textured backgrounds, distractors, scale and contrast variation: where pruning choices show in the accuracy)',
      'easy',
    )
    .option('--json', 'print the engine result as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ agentic-pruner dataset make --out data/shapes --classes 10\n  then in a campaign file: dataset: { root: data/shapes }',
    )
    .action(
      async (opts: {
        out: string;
        classes: string;
        trainPerClass: string;
        valPerClass: string;
        imageSize: string;
        seed: string;
        preset: string;
        json?: boolean;
      }) => {
        if (opts.preset !== 'easy' && opts.preset !== 'hard')
          throw new UsageError(`--preset: expected easy or hard, got ${JSON.stringify(opts.preset)}`);
        const engine = new OneShotEngine(defaultEngineLocation(readWorkerEnv().AP_ENGINE_PYTHON));
        const res = await engine.run<MakeDatasetResult>(
          'make-dataset',
          {
            out: path.resolve(opts.out),
            classes: integer('--classes', opts.classes),
            trainPerClass: integer('--train-per-class', opts.trainPerClass),
            valPerClass: integer('--val-per-class', opts.valPerClass),
            imageSize: integer('--image-size', opts.imageSize),
            seed: integer('--seed', opts.seed),
            preset: opts.preset,
          },
          {},
        );
        if (opts.json) return console.log(JSON.stringify(res, null, 2));
        console.log(
          `${res.root}: ${res.classes.length} classes, ${res.trainCount} train / ${res.valCount} val images of ${res.imageSize}x${res.imageSize}${res.reused ? ' (already there, reused)' : ''}`,
        );
      },
    );
}
