// What the parts of one store share about its condition: one place to read it, no back references.
import type { StoreStats } from './probe.js';

export type StorePhase = 'new' | 'loaded' | 'running' | 'stopping' | 'stopped';

export class StoreState {
  /** Set by the façade's load/start/shutdown; appends are taken only while 'running'. */
  phase: StorePhase = 'new';
  /** Set by the disk check: the commit-log volume is above diskSpaceWarningLevelRatio. */
  diskFull = false;
  /** Used share of the commit-log volume (0..1) at the last disk check. */
  diskUsedRatio = 0;
  /** Counters every part adds to (getStats, getRuntimeInfo). */
  readonly stats: StoreStats = {
    putCount: 0,
    putBytes: 0,
    putFailures: 0,
    getCount: 0,
    getFoundMessages: 0,
    flushCount: 0,
    syncFlushTimeouts: 0,
    segmentRolls: 0,
    segmentsDeleted: 0,
    corruptRecordsSkipped: 0,
  };
}
