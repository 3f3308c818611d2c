import { describe, expect, it } from 'vitest'
import { ProxyMetrics } from './metrics.ts'

describe('ProxyMetrics', () => {
  it('counts by credential and status class, and by key, through the bound series', async () => {
    const metrics = new ProxyMetrics({ processMetrics: false })
    metrics.observe('A', 200, 0.002)
    metrics.observe('A', 404, 0.003)
    metrics.observe('A', 401, 0.004)
    metrics.observe('B', 503, 0.5)
    metrics.observe('A', 204, 0.001)
    for (let i = 0; i < 3; i++) metrics.keyRequest('k1')
    metrics.keyRequest('k2')
    const text = await metrics.registry.metrics()
    expect(text).toContain('callout_proxy_requests_total{credential="A",status_class="2xx"} 2')
    expect(text).toContain('callout_proxy_requests_total{credential="A",status_class="4xx"} 2')
    expect(text).toContain('callout_proxy_requests_total{credential="B",status_class="5xx"} 1')
    expect(text).not.toContain('credential="B",status_class="2xx"')
    expect(text).toContain('callout_proxy_request_duration_seconds_count{credential="A"} 4')
    expect(text).toContain('callout_proxy_request_duration_seconds_count{credential="B"} 1')
    expect(text).toContain(
      'callout_proxy_request_duration_seconds_bucket{le="0.0025",credential="A"} 2',
    )
    expect(text).toContain('callout_client_key_requests_total{key="k1"} 3')
    expect(text).toContain('callout_client_key_requests_total{key="k2"} 1')
  })

  it('counts every request once across reads, and past 1,024 keys', async () => {
    const metrics = new ProxyMetrics({ processMetrics: false })
    const total = async (name: string): Promise<number> =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((line) => line.startsWith(name))
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
    for (let i = 0; i < 1_030; i++) metrics.keyRequest(`k${i}`)
    metrics.observe('A', 200, 0.001)
    metrics.fastPath()
    expect(await total('callout_client_key_requests_total{')).toBe(1_030)
    metrics.keyRequest('k1')
    metrics.observe('A', 500, 0.001)
    metrics.fastPath()
    expect(await total('callout_client_key_requests_total{')).toBe(1_031)
    expect(await total('callout_proxy_requests_total{')).toBe(2)
    expect(await total('callout_proxy_fast_path_total')).toBe(2)
    expect(await total('callout_proxy_request_duration_seconds_count{')).toBe(2)
  })
})
