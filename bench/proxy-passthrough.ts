/**
 * The practical limit for the proxy bench: the barest Node pass-through, a few lines of
 * `http.createServer` piping to an undici pool and adding a static Authorization header.
 * Started as a child process: `node --import tsx bench/proxy-passthrough.ts <upstream> <token>`.
 */
import { createServer } from 'node:http'
import { Pool } from 'undici'

const [upstream = '', token = ''] = process.argv.slice(2)
const pool = new Pool(upstream, { connections: 128 })
const server = createServer((req, res) => {
  const path = (req.url ?? '/').replace(/^\/callout\/Api/, '/api')
  pool
    .request({
      path,
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: String(req.headers.accept ?? '*/*') },
    })
    .then(
      (up) => {
        res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? '') })
        up.body.pipe(res)
      },
      () => {
        res.writeHead(502)
        res.end()
      },
    )
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 })
})
