/**
 * `GET /services/data/vNN.0/limits`: each limit as `{ Max, Remaining }`, with the keys the REST
 * API Developer Guide lists (Developer Edition maxima). Daily API requests are counted for real;
 * the others are fixed.
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
    ActiveScratchOrgs: fixed(3),
    AnalyticsExternalDataSizeMB: fixed(40960),
    ConcurrentAsyncGetReportInstances: fixed(200),
    ConcurrentEinsteinDataInsightsStoryCreation: fixed(5),
    ConcurrentEinsteinDiscoveryStoryCreation: fixed(2),
    ConcurrentSyncReportRuns: fixed(20),
    DailyAnalyticsDataflowJobExecutions: fixed(60),
    DailyAnalyticsUploadedFilesSizeMB: fixed(51200),
    DailyApiRequests: { Max: max, Remaining: Math.max(0, max - used) },
    DailyAsyncApexExecutions: fixed(250000),
    DailyAsyncApexTests: fixed(500),
    DailyBulkApiBatches: fixed(15000),
    DailyBulkV2QueryFileStorageMB: fixed(976562),
    DailyBulkV2QueryJobs: fixed(10000),
    DailyDeliveredPlatformEvents: fixed(10000),
    DailyDurableGenericStreamingApiEvents: fixed(10000),
    DailyDurableStreamingApiEvents: fixed(10000),
    DailyEinsteinDataInsightsStoryCreation: fixed(1000),
    DailyEinsteinDiscoveryPredictAPICalls: fixed(50000),
    DailyEinsteinDiscoveryPredictionsByCDC: fixed(500000),
    DailyEinsteinDiscoveryStoryCreation: fixed(100),
    DailyFunctionsApiCallLimit: fixed(235000),
    DailyGenericStreamingApiEvents: fixed(10000),
    DailyScratchOrgs: fixed(6),
    DailyStandardVolumePlatformEvents: fixed(10000),
    DailyStreamingApiEvents: fixed(10000),
    DailyWorkflowEmails: fixed(390),
    DataStorageMB: fixed(5),
    DurableStreamingApiConcurrentClients: fixed(20),
    FileStorageMB: fixed(20),
    HourlyAsyncReportRuns: fixed(1200),
    HourlyDashboardRefreshes: fixed(200),
    HourlyDashboardResults: fixed(5000),
    HourlyDashboardStatuses: fixed(999999999),
    HourlyLongTermIdMapping: fixed(100000),
    HourlyManagedContentPublicRequests: fixed(50000),
    HourlyODataCallout: fixed(10000),
    HourlyPublishedPlatformEvents: fixed(50000),
    HourlyPublishedStandardVolumePlatformEvents: fixed(1000),
    HourlyShortTermIdMapping: fixed(100000),
    HourlySyncReportRuns: fixed(500),
    HourlyTimeBasedWorkflow: fixed(50),
    MassEmail: fixed(10),
    MonthlyEinsteinDiscoveryStoryCreation: fixed(500),
    MonthlyPlatformEventsUsageEntitlement: fixed(300000),
    Package2VersionCreates: fixed(6),
    Package2VersionCreatesWithoutValidation: fixed(500),
    PermissionTypes: fixed(30000),
    PrivateConnectOutboundCalloutHourlyLimitMB: fixed(0),
    SingleEmail: fixed(15),
    StreamingApiConcurrentClients: fixed(20),
  }
}
