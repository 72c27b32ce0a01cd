import Foundation
import Hummingbird
import Prometheus

/// Prometheus metrics of a running server, rendered by `GET /metrics` in the text exposition format:
/// `tandem_requests_total{endpoint,method,status}`, `tandem_request_duration_seconds{endpoint}` (histogram),
/// `tandem_index_items`, `tandem_model_info{version,kind}` (1 for the model being served) and `tandem_reloads_total{result}`.
public final class ServingMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// Latency buckets from 100 µs to 1 s: serving requests take well under a millisecond on ml-100k.
    static let buckets: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(250), .seconds(1)]
    private let lock = NSLock()
    private var modelInfo: (version: String, gauge: Gauge)?

    public init() {}

    private struct SeriesKey: Hashable { let endpoint: String, method: String, status: Int }
    /// The counter and histogram of each (endpoint, method, status) seen so far: asking the registry for them on every
    /// request (labels built and looked up each time) cost more than the recording itself.
    private var series: [SeriesKey: (Counter, DurationHistogram)] = [:]

    func recordRequest(endpoint: String, method: String, status: Int, nanoseconds: Int64) {
        let key = SeriesKey(endpoint: endpoint, method: method, status: status)
        lock.lock()
        let known = series[key]
        lock.unlock()
        let (counter, histogram) = known ?? {
            let made = (registry.makeCounter(descriptor: .init(metricName: "tandem_requests", unitName: "total", helpText: "HTTP requests answered"),
                                             labels: [("endpoint", endpoint), ("method", method), ("status", String(status))]),
                        registry.makeDurationHistogram(descriptor: .init(metricName: "tandem_request_duration", unitName: "seconds",
                                                                         helpText: "Time from request to response"),
                                                       labels: [("endpoint", endpoint)], buckets: Self.buckets))
            lock.lock(); series[key] = made; lock.unlock()
            return made
        }()
        counter.increment()
        histogram.recordNanoseconds(nanoseconds)
    }

    func recordReload(succeeded: Bool) {
        registry.makeCounter(descriptor: .init(metricName: "tandem_reloads", unitName: "total", helpText: "Model reloads by result"),
                             labels: [("result", succeeded ? "ok" : "failed")]).increment()
    }

    /// The exposition text, with the model gauges brought up to date first.
    func render(model: ServingModel?) -> String {
        lock.lock(); defer { lock.unlock() }
        if let m = model, modelInfo?.version != m.version {
            if let old = modelInfo { registry.unregisterGauge(old.gauge) }
            let g = registry.makeGauge(descriptor: .init(metricName: "tandem_model_info", unitName: "", helpText: "The model being served"),
                                       labels: [("version", m.version), ("kind", m.modelKind)])
            g.set(to: 1.0)
            modelInfo = (m.version, g)
            registry.makeGauge(descriptor: .init(metricName: "tandem_index_items", unitName: "", helpText: "Items in the served index"))
                .set(to: Double(m.index.count))
        }
        return registry.emitToString()
    }
}

/// Counts every request and times it into `ServingMetrics`, labelled by the matched route (not the raw path, so
/// unknown paths cannot blow up the number of series; Hummingbird labels every unknown path `NotFound`).
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServingMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        func record(_ status: Int) {
            let elapsed = Int64(DispatchTime.now().uptimeNanoseconds - start)
            metrics.recordRequest(endpoint: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status, nanoseconds: elapsed)
        }
        do {
            let response = try await next(request, context)
            record(response.status.code)
            return response
        } catch {
            record((error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }
}

/// The time by which the current request must be answered, set by `RequestTimeoutMiddleware` for the handler's task.
/// Handlers call `check()` between stages (after reading the body, before the search) so a request that is already
/// late stops early instead of doing work nobody will see.
public enum RequestDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?

    /// Throws a 503 when the current request is past its deadline; does nothing outside a request or before it.
    public static func check() throws {
        if let deadline = current, ContinuousClock.now > deadline { throw late() }
    }

    static func late() -> HTTPError {
        HTTPError(.serviceUnavailable, message: "request took longer than the server's time limit")
    }
}

/// Answers 503 with a JSON error when a request takes longer than `limit`: the deadline is checked by the handler
/// between stages (`RequestDeadline.check()`) and once more on the answer, which is replaced by the 503 when late.
///
/// Cooperative on purpose: racing every request against a sleeping child task costs two extra tasks, a timer and
/// thread hops per request, a large share of a sub-millisecond request. The one place a
/// handler waits on the network — a client that stalls while sending its body — is bounded by the server's idle
/// read timeout (`--idle-timeout-s`), which closes such a connection.
///
/// Paths in `exempt` run without the limit: `/admin/reload` loads a model directory and may build an index, which takes
/// seconds at a large catalogue and finishes (the new model is served) whatever the client is told, so a 503 there
/// would report a failure that did not happen.
public struct RequestTimeoutMiddleware<Context: RequestContext>: RouterMiddleware {
    public let limit: Duration
    public let exempt: Set<String>

    public init(limit: Duration, exempt: Set<String> = []) { self.limit = limit; self.exempt = exempt }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if exempt.contains(request.uri.path) { return try await next(request, context) }
        let deadline = ContinuousClock.now + limit
        let response = try await RequestDeadline.$current.withValue(deadline) { try await next(request, context) }
        if ContinuousClock.now > deadline { throw RequestDeadline.late() }
        return response
    }
}

/// The secret that admin requests (`/admin/reload`, `PUT /v1/items`, `DELETE /v1/items/{id}`) must carry as
/// `Authorization: Bearer <token>`, read from a file at start so it never appears on a command line or in `ps`.
public struct AdminToken: Sendable {
    let secret: [UInt8]

    public init(_ secret: String) throws {
        let s = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !s.isEmpty else { throw ServingError(500, "the admin token is empty") }
        self.secret = Array(s.utf8)
    }

    /// The token in `path` (surrounding whitespace and the final newline ignored).
    public init(reading path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ServingError(500, "\(path): cannot read the admin token file") }
        do { try self.init(String(decoding: data, as: UTF8.self)) } catch { throw ServingError(500, "\(path): the admin token file is empty") }
    }

    /// Compares in time independent of where the first difference is, so response timing does not reveal the token.
    func matches(_ candidate: Substring) -> Bool {
        let c = Array(candidate.utf8)
        var diff = UInt8(c.count == secret.count ? 0 : 1)
        for i in 0..<max(c.count, secret.count) { diff |= (i < c.count ? c[i] : 0) ^ (i < secret.count ? secret[i] : 0) }
        return diff == 0
    }
}

/// Guards the admin requests: without a token configured they are refused (403, the server was started without one);
/// a request without a bearer token gets 401 with `WWW-Authenticate`, one with the wrong token 403. Read requests pass.
struct AdminAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: AdminToken?

    /// Whether a request changes the server's state.
    static func isAdmin(_ request: Request) -> Bool {
        let path = request.uri.path
        return path.hasPrefix("/admin/") || (path.hasPrefix("/v1/items") && (request.method == .put || request.method == .delete))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.isAdmin(request) else { return try await next(request, context) }
        guard let token else {
            throw HTTPError(.forbidden, message: "admin requests are off: start tandem serve with --admin-token-file FILE")
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count > 7 else {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: #"Bearer realm="tandem""#],
                            message: "admin requests need an Authorization: Bearer <token> header")
        }
        guard token.matches(header.dropFirst(7)) else { throw HTTPError(.forbidden, message: "the bearer token is not the admin token") }
        return try await next(request, context)
    }
}
