export { waitFor, seededRandom, type WaitForOptions } from './wait.js';
export { freePort, publishablePort, canConnect, waitForPort, isPortClash, retryOnPortClash } from './ports.js';
export { makeTempDir, removeTempDir, removeTempDirs, repoRoot, appMain, writeConf } from './files.js';
export { startNode, stopAllProcesses, runningProcesses, isPidAlive, type StartNodeOptions, type NodeProcess, type ExitStatus } from './process.js';
export * from './wire.js';
export { startCluster, FAST_DELAY_LEVELS, type TestCluster, type ClusterOptions } from './cluster.js';
export { makeTestCertificates, type TestCertificates } from './certs.js';
export { BrokerFuzzer, type BrokerFuzzOptions, type BrokerFuzzReport, type BrokerFuzzProgress } from './broker-fuzz.js';
