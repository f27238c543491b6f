export { Launcher, describeExit, type LauncherOptions } from './launcher.js';
export {
  APP_NODE_ARGS,
  loadTopology,
  listTopologies,
  portSource,
  TopologyError,
  type TopologyFile,
  type TopologyPlan,
  type ProcessPlan,
  type PortUse,
} from './topology.js';
export { probePort, canConnect } from './net.js';
