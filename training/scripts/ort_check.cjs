#!/usr/bin/env node
// Runs a model pack's ONNX files under onnxruntime-node against golden cases written by
// vldm_train.ortcheck (torch outputs), so that an export is proven in the runtime the orchestrator
// uses, at several dynamic shapes. Also reports milliseconds per call (median of --repeat runs).
// Usage: node training/scripts/ort_check.cjs <pack-dir> <cases-dir> [--repeat N] [--json out.json]
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const ort = require('onnxruntime-node');

function readF32(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

async function main() {
  const args = process.argv.slice(2);
  const [packDir, casesDir] = args;
  if (!packDir || !casesDir) throw new Error('usage: ort_check.cjs <pack-dir> <cases-dir> [--repeat N]');
  const repeatAt = args.indexOf('--repeat');
  const repeat = repeatAt >= 0 ? Number(args[repeatAt + 1]) : 1;
  const jsonAt = args.indexOf('--json');
  const manifest = JSON.parse(fs.readFileSync(path.join(packDir, 'vldm-pack.json'), 'utf8'));
  const { contract, cases } = JSON.parse(fs.readFileSync(path.join(casesDir, 'cases.json'), 'utf8'));
  const problems = [];
  for (const role of contract.required) {
    if (!manifest.models[role]) problems.push(`manifest lacks required role ${role}`);
  }
  const sessions = {};
  for (const [role, entry] of Object.entries(manifest.models)) {
    const file = path.join(packDir, entry.file);
    const digest = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (digest !== entry.sha256) problems.push(`${role}: sha256 ${digest} != manifest ${entry.sha256}`);
    const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const want = contract.inputs[role];
    if (JSON.stringify(s.inputNames) !== JSON.stringify(want)) {
      problems.push(`${role}: inputs ${s.inputNames} != contract ${want}`);
    }
    if (JSON.stringify(s.outputNames) !== JSON.stringify([contract.outputs[role]])) {
      problems.push(`${role}: outputs ${s.outputNames} != contract ${contract.outputs[role]}`);
    }
    sessions[role] = s;
  }
  const results = [];
  for (const c of cases) {
    const s = sessions[c.role];
    if (!s) continue;
    const feeds = {};
    for (const [name, spec] of Object.entries(c.inputs)) {
      feeds[name] = new ort.Tensor('float32', readF32(path.join(casesDir, spec.file)), spec.shape);
    }
    const times = [];
    let out;
    for (let i = 0; i < Math.max(1, repeat); i++) {
      const t0 = process.hrtime.bigint();
      out = (await s.run(feeds))[c.output.name];
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    const want = readF32(path.join(casesDir, c.output.file));
    let maxErr = 0;
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(want[i] - out.data[i]));
      maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    }
    const shapeOk = JSON.stringify(out.dims) === JSON.stringify(c.output.shape);
    const ok = shapeOk && maxErr <= 1e-3 * Math.max(1, maxAbs);
    if (!ok) problems.push(`${c.role}/${c.name}: dims ${out.dims} max error ${maxErr} (max |y| ${maxAbs})`);
    results.push({ role: c.role, case: c.name, shape: c.output.shape, maxErr, ms: times[times.length >> 1] });
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${c.role.padEnd(16)} ${c.name.padEnd(14)} out ${JSON.stringify(out.dims)} ` +
        `max|err| ${maxErr.toExponential(2)}  ${times[times.length >> 1].toFixed(2)} ms`,
    );
  }
  if (jsonAt >= 0) fs.writeFileSync(args[jsonAt + 1], JSON.stringify(results, null, 1));
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log(`pack ${packDir}: ${results.length} cases ok`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
