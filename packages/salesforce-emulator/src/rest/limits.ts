/**
 * `GET /services/data/vNN.0/limits`: each limit as `{ Max, Remaining }`. Daily API requests are
 * counted for real; the others are fixed.
 *
 * @see https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm
 */

/** The limits document for an org that has used `used` of `max` daily API requests. */
export function limitsDocument(
  used: number,
  max: number,
): Record<string, { Max: number; Remaining: number }> {
  const fixed = (m: number): { Max: number; Remaining: number } => ({ Max: m, Remaining: m })
  return {
    ConcurrentAsyncGetReportInstances: fixed(200),
    ConcurrentSyncReportRuns: fixed(20),
    DailyApiRequests: { Max: max, Remaining: Math.max(0, max - used) },
    DailyAsyncApexExecutions: fixed(250000),
    DailyBulkApiBatches: fixed(15000),
    DailyBulkV2QueryFileStorageMB: fixed(976562),
    DailyBulkV2QueryJobs: fixed(10000),
    DailyGenericStreamingApiEvents: fixed(10000),
    DailyStreamingApiEvents: fixed(10000),
    DataStorageMB: fixed(5),
    FileStorageMB: fixed(20),
    HourlyAsyncReportRuns: fixed(1200),
    HourlyDashboardRefreshes: fixed(200),
    HourlyODataCallout: fixed(10000),
    HourlySyncReportRuns: fixed(500),
    MassEmail: fixed(10),
    SingleEmail: fixed(15),
  }
}
