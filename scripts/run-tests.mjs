#!/usr/bin/env node
// Runs every workspace package's tests in ONE jest process from the repo root (jest.config.js has a
// project per package), streams jest's output, then prints the closing line `N passed, N failed`
// that CI reads, and exits non-zero if anything failed or no test ran. Extra arguments go to jest.
//
//   node scripts/run-tests.mjs [jest args...]     run, then summarise
//   node scripts/run-tests.mjs --summary          only summarise the last run (.jest-results.json)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsFile = join(root, '.jest-results.json');
// Once jest has written its results, a process still running after this long is stuck on an open
// handle (a server or timer a test forgot); stop it rather than hang CI for its whole time budget.
const EXIT_GRACE_MS = 60_000;
// The whole run normally takes a few minutes; past this it is stuck somewhere. Stop it with a clear
// message well inside CI's 90-minute budget (override with ROCKETMQ_TS_TEST_DEADLINE_MIN).
const DEADLINE_MS = Number(process.env['ROCKETMQ_TS_TEST_DEADLINE_MIN'] ?? 40) * 60_000;

/** @returns {{ passed: number, failed: number, notes: string[] } | undefined} */
function summarise() {
  if (!existsSync(resultsFile)) return undefined;
  const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
  const notes = [];
  // A suite that failed without a failing test never ran its tests: a syntax or import error, a
  // throw at load time, a failing beforeAll/afterAll. Count each such suite as one failure.
  const brokenSuites = (r.testResults ?? []).filter((s) => s.status === 'failed' && !(s.assertionResults ?? []).some((a) => a.status === 'failed'));
  for (const s of brokenSuites) notes.push(`suite failed to run: ${s.name}`);
  return { passed: r.numPassedTests ?? 0, failed: (r.numFailedTests ?? 0) + brokenSuites.length, notes };
}

function report(jestCode) {
  const s = summarise();
  if (s === undefined) {
    console.log(`jest wrote no results (exit code ${jestCode}); see its output above`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  for (const n of s.notes) console.log(n);
  let code = s.failed > 0 ? 1 : 0;
  if (s.passed + s.failed === 0) {
    console.log('no test ran');
    code = 1;
  } else if (code === 0 && jestCode !== 0) {
    console.log(`every test passed but jest exited with code ${jestCode}; see its output above`);
    code = 1;
  }
  console.log(`${s.passed} passed, ${s.failed} failed`);
  return code;
}

const args = process.argv.slice(2);
if (args[0] === '--summary') {
  const s = summarise();
  if (s) console.log(`${s.passed} passed, ${s.failed} failed`);
  process.exit(0);
}

rmSync(resultsFile, { force: true });
const jest = spawn(
  process.execPath,
  ['--experimental-vm-modules', join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--json', `--outputFile=${resultsFile}`, ...args],
  { cwd: root, stdio: 'inherit' },
);

let stuck = false;
const watchdog = setInterval(() => {
  if (!existsSync(resultsFile)) return;
  clearInterval(watchdog);
  setTimeout(() => {
    stuck = true;
    console.log(`jest did not exit ${EXIT_GRACE_MS / 1000} s after writing its results (an open handle in a test?); stopping it`);
    jest.kill('SIGKILL');
  }, EXIT_GRACE_MS).unref();
}, 1_000);

setTimeout(() => {
  stuck = true;
  console.log(`jest still running after ${DEADLINE_MS / 60_000} minutes: a test is stuck; stopping it`);
  jest.kill('SIGKILL');
}, DEADLINE_MS).unref();

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => jest.kill(sig));

jest.on('exit', (code, signal) => {
  clearInterval(watchdog);
  const jestCode = stuck ? 1 : (code ?? (signal ? 128 : 1));
  process.exit(report(jestCode));
});
