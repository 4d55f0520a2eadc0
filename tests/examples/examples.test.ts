import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCampaignFile } from '../../src/client/config-file';
import { demoPaths } from '../../src/client/demo';
import { finalistsPlan, recoveryPlan } from '../../src/core/attempt-selection';
import { resolveTargets } from '../../src/core/campaign-config';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples');

/** The first ```yaml block under "## A campaign file" in the README. */
function readmeCampaignBlock(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A campaign file'));
  const match = /```yaml\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error('README has no yaml block under "## A campaign file"');
  return match[1];
}

describe('examples/', () => {
  const files = fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));

  it('holds the campaign files the README and --help point to', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'resnet50-1.77g.yaml',
        'resnet101-4.2g.yaml',
        'convnext-small-8.17g.yaml',
        'deit-tiny-0.62g.yaml',
      ]),
    );
  });

  it.each(files)('%s parses against the strict campaign schema', (file) => {
    const config = loadCampaignFile(path.join(EXAMPLES, file));
    expect(config.targets.length).toBeGreaterThan(0);
  });

  it("the README's campaign file is examples/resnet50-1.77g.yaml, word for word", () => {
    expect(fs.readFileSync(path.join(EXAMPLES, 'resnet50-1.77g.yaml'), 'utf8')).toBe(readmeCampaignBlock());
  });

  it.each([
    // file, dense MACs (224x224, README's convention), target MACs, band
    ['resnet50-1.77g.yaml', 4.089e9, 1.77e9, { lo: -0.05, hi: 0.01 }],
    ['resnet101-4.2g.yaml', 7.801e9, 4.2e9, { lo: -0.05, hi: 0.01 }],
    ['convnext-small-8.17g.yaml', 8.684e9, 8.17e9, { lo: -0.05, hi: 0.01 }],
    ['deit-tiny-0.62g.yaml', 1.258e9, 0.62e9, { lo: -0.05, hi: 0.01 }],
  ])('%s resolves to the paper target it names', (file, denseMacs, targetMacs, band) => {
    const config = loadCampaignFile(path.join(EXAMPLES, file));
    const [target] = resolveTargets(config.targets, denseMacs);
    expect(target?.targetMacs).toBe(targetMacs);
    expect(target?.band.lo).toBeCloseTo(band.lo, 12);
    expect(target?.band.hi).toBeCloseTo(band.hi, 12);
  });

  it("the README's campaign file leaves the search to the tool's defaults with a dataset, as its comment says", () => {
    const config = loadCampaignFile(path.join(EXAMPLES, 'resnet50-1.77g.yaml'));
    expect(config.search).toMatchObject({
      candidates: 6,
      sensitivity: { ratios: [0.5] },
      recovery: { lr: 0.002, rescore: { top: 3, steps: 40, maxShare: 0.1 } },
    });
    expect(readmeCampaignBlock()).toContain('6 in-band candidates');
    expect(readmeCampaignBlock()).toContain('the best 3 again after 40 recovery steps');
    // On ImageNet (1,281,167 train images at 256 a step, 90 epochs: 450,360 steps) the cap leaves 3 x 40 alone.
    const finalSteps = config.finetune!.epochs * Math.floor(1_281_167 / config.finetune!.batchSize);
    expect(finalSteps).toBe(450_360);
    const plan = finalistsPlan(0.1, finalSteps, 6, { top: 3, steps: 40 });
    expect(plan.rescore).toEqual({ top: 3, steps: 40 });
  });

  it("the ResNet-101 example's recovery share is the steps its comment says, on ImageNet's train split", () => {
    const config = loadCampaignFile(path.join(EXAMPLES, 'resnet101-4.2g.yaml'));
    const text = fs.readFileSync(path.join(EXAMPLES, 'resnet101-4.2g.yaml'), 'utf8');
    const ft = config.finetune!;
    // 1,281,167 train images, batches of 256 (the remainder dropped), 90 epochs: 450,360 steps.
    const finalSteps = ft.epochs * Math.floor(1_281_167 / ft.batchSize);
    const { steps } = recoveryPlan(config.search.recovery!.share!, finalSteps, config.search.candidates!);
    expect(text).toContain(`(here ${steps.toLocaleString('en-US')} steps each)`);
    expect(steps).toBe(5629);
  });

  it("the demo example names the demo's baseline and dataset, and scores in two stages", () => {
    const config = loadCampaignFile(path.join(EXAMPLES, 'demo-accuracy.yaml'));
    // Relative paths resolve against the file's folder: there, the demo writes them (default state dir).
    const demo = demoPaths({});
    expect(path.resolve(EXAMPLES, config.model.weights!)).toBe(demo.weights);
    expect(path.resolve(EXAMPLES, config.dataset!.root)).toBe(demo.dataset);
    expect(config.model.name).toBe('democnn');
    expect(config.search).toMatchObject({
      candidates: 4,
      scoring: 'recovery',
      recovery: { steps: 10, rescore: { top: 2, steps: 40 } },
    });
  });

  it('the two-target Claude example resolves its fraction against the dense model', () => {
    const config = loadCampaignFile(path.join(EXAMPLES, 'claude-two-targets.yaml'));
    const targets = resolveTargets(config.targets, 4.089e9);
    expect(targets.map((t) => t.targetMacs)).toEqual([2.0e9, Math.round(4.089e9 * 0.3)]);
    expect(config.search.agent).toBe('claude');
  });
});

describe('campaign file checks beyond single fields', () => {
  test('finetune without a dataset is refused naming finetune (it was silently skipped)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-cfg-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, 'model: { name: resnet18 }\ntargets: [{ fraction: 0.5 }]\nfinetune: { epochs: 1 }\n');
    expect(() => loadCampaignFile(file)).toThrow(
      'finetune (line 3): fine-tuning needs a dataset: add dataset.root (an ImageFolder with train/ and val/)',
    );
  });
});
