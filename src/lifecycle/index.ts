export { CleanupStack } from './cleanup-stack.js';
export { bindError, checkDirectories, checkListener, checkListeners, checkWritableDir, probeBind } from './preflight.js';
export { listenerKey, planReload, type ReloadPlan, type Running, type RunningListener } from './reload-plan.js';
export { applyReload, PREVIOUS_DELIVERIES_GRACE_MS, type Deliveries, type Generation, type ListenerEntry, type ReloadTarget } from './reload.js';
export { isolatePractices, logDisabled, openListeners, type KeyCheck } from './isolation.js';
