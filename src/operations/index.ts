/** The operations toolkit behind the `keel` commands: verification, measurement, load tests, analysis, status. */

export { AdminClient, type AdminRoute } from './admin-client.js';
export {
  type Analysis,
  type AnalyzeOptions,
  analyze,
  type Recommendation,
  recommend,
  seriesFromHistory,
} from './analyze.js';
export { type LoadTestOptions, type LoadTestSummary, runLoadTest } from './loadtest.js';
export { type EndpointMeasurement, type MeasureOptions, measureEndpoints } from './measure.js';
export { reportHtml } from './report-html.js';
export { checkStatus, type StatusReport, type StatusRow } from './status-check.js';
export { loadTarget, parsePaths } from './targets.js';
export { type CheckResult, verifyCache } from './verify.js';
