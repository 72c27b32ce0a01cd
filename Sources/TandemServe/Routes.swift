import Foundation
import Hummingbird

/// Largest request body accepted (larger bodies get 413).
public let maxRequestBytes = 1 << 20

private let encoder: JSONEncoder = {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = [.sortedKeys]
    return e
}()

private let decoder: JSONDecoder = {
    let d = JSONDecoder()
    d.keyDecodingStrategy = .convertFromSnakeCase
    return d
}()

/// A JSON response with snake_case keys.
func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// A response of scored items written straight to JSON text: JSONEncoder would dominate the server's CPU time at
/// top-100, so the hot responses skip it. Keys and layout match the Codable form.
protocol ItemListResponse {
    var itemCount: Int { get }
    /// Appends `{"item_id":"…","score":` for item `n` of the list.
    func appendItemHead(_ n: Int, to out: inout [UInt8])
    func score(_ n: Int) -> Float
    var modelVersion: String { get }
    var sourceField: String? { get }
}

/// Lists of `ScoredItem` (the Codable responses) write each id as they go.
protocol ScoredItemList: ItemListResponse {
    var items: [ScoredItem] { get }
}

extension ScoredItemList {
    var itemCount: Int { items.count }
    func appendItemHead(_ n: Int, to out: inout [UInt8]) { TandemServe.appendItemHead(id: items[n].itemId, to: &out) }
    func score(_ n: Int) -> Float { items[n].score }
}

extension RecommendResponse: ScoredItemList { var sourceField: String? { source } }
extension ItemsResponse: ScoredItemList { var sourceField: String? { nil } }

/// `{"item_id":"<id, escaped>","score":`
func appendItemHead(id: String, to out: inout [UInt8]) {
    out.append(contentsOf: #"{"item_id":"#.utf8)
    appendJSONString(id, to: &out)
    out.append(contentsOf: #","score":"#.utf8)
}

/// JSON text of `r`: `{"items":[{"item_id":…,"score":…},…],"model_version":…[,"source":…]}`, as UTF-8 bytes.
/// Written on bytes, not `String`: string appends were still a sixth of the server's CPU at top-100.
func itemListJSON(_ r: some ItemListResponse) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(48 * r.itemCount + 96)
    out.append(contentsOf: #"{"items":["#.utf8)
    for n in 0..<r.itemCount {
        if n > 0 { out.append(UInt8(ascii: ",")) }
        r.appendItemHead(n, to: &out)
        let score = r.score(n)
        if score.isFinite { out.append(contentsOf: score.description.utf8) } else { out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: "}"))
    }
    out.append(contentsOf: #"],"model_version":"#.utf8)
    appendJSONString(r.modelVersion, to: &out)
    if let source = r.sourceField {
        out.append(contentsOf: #","source":"#.utf8)
        appendJSONString(source, to: &out)
    }
    out.append(UInt8(ascii: "}"))
    return out
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// Appends `s` as a JSON string literal (quotes, backslashes and control characters escaped; other UTF-8 bytes,
/// multi-byte characters included, copied as they are).
func appendJSONString(_ s: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
        case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
        case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
        case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
        case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
        case 0..<0x20:
            out.append(contentsOf: #"\u00"#.utf8)
            out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 15)])
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
}

func json(_ r: some ItemListResponse) -> Response {
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: itemListJSON(r))))
}

/// Decodes a JSON body, turning every decoding failure into a 400 that says which field is wrong.
func decodeBody<T: APIRequestBody>(_ type: T.Type, _ request: Request) async throws -> T {
    let buffer = try await request.body.collect(upTo: maxRequestBytes)
    return try decodeJSON(T.self, Data(buffer: buffer))
}

/// Decodes a request body; every failure is a 400 `HTTPError` naming the field (shared by the routes and the fuzzer).
/// Flat bodies take `FlatJSON`'s fast path; the rest, and every error, go through JSONDecoder.
func decodeJSON<T: APIRequestBody>(_ type: T.Type, _ data: Data) throws -> T {
    if let members = FlatJSON.object(data), let fast = T(flat: members) { return fast }
    do {
        return try decoder.decode(T.self, from: data)
    } catch let DecodingError.keyNotFound(key, ctx) {
        throw HTTPError(.badRequest, message: "missing field '\(path(ctx.codingPath + [key]))'")
    } catch let DecodingError.typeMismatch(type, ctx) {
        throw HTTPError(.badRequest, message: "field '\(path(ctx.codingPath))' must be \(type)")
    } catch let DecodingError.valueNotFound(type, ctx) {
        throw HTTPError(.badRequest, message: "field '\(path(ctx.codingPath))' must be \(type), not null")
    } catch {
        throw HTTPError(.badRequest, message: "body is not valid JSON for this endpoint")
    }
}

private func path(_ keys: [CodingKey]) -> String {
    keys.map { k in k.intValue.map { "[\($0)]" } ?? snakeCase(k.stringValue) }.joined(separator: ".")
}

/// `userId` → `user_id`: field names as the API spells them.
private func snakeCase(_ s: String) -> String {
    var out = ""
    for ch in s { if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) } }
    return out
}

/// Runs a backend call, mapping `ServingError` to an HTTP error with a JSON body.
func serving<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ServingError {
        throw HTTPError(HTTPResponse.Status(code: e.status), message: e.message)
    }
}

/// The HTTP API: `/v1/recommend`, `/v1/similar-items`, `/v1/score`, `/healthz`, `/readyz`, `/metrics`, `/openapi.json`,
/// `/admin/reload`. Every request is counted and timed (`backend.metrics`) and answered 503 after `timeout` (a reload
/// excepted: it takes what loading the model takes); admin
/// requests need `adminToken` as a bearer token (refused when nil).
public func buildRouter(_ backend: ServingBackend, timeout: Duration? = .seconds(2), adminToken: AdminToken? = nil) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: backend.metrics))
    if let timeout { router.add(middleware: RequestTimeoutMiddleware(limit: timeout, exempt: ["/admin/reload"])) }
    router.add(middleware: RouteMethodMiddleware(routes: apiRoutes))
    router.add(middleware: AdminAuthMiddleware(token: adminToken))
    router.get("/healthz") { _, _ in try json(["status": "ok"]) }
    router.get("/metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                 body: .init(byteBuffer: ByteBuffer(string: backend.metrics.render(model: backend.model))))
    }
    router.get("/openapi.json") { _, _ in
        let m = backend.model
        let document = openAPIDocument(exampleUser: m?.userIds.tokens.first, exampleItem: m?.itemIds.tokens.first,
                                       itemFeatures: m?.itemFeatureFields ?? [])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: document)))
    }
    router.get("/readyz") { _, _ -> Response in
        guard let c = try? backend.ready() else { throw HTTPError(.serviceUnavailable, message: "no model loaded yet") }
        return try json(["status": "ready", "model_version": c.model.version, "items": "\(c.count)"])
    }
    router.post("/v1/recommend") { request, _ -> Response in
        let r = try await decodeBody(RecommendRequest.self, request)
        try RequestDeadline.check()
        return json(try serving { try backend.rankedRecommendation(r) })
    }
    router.post("/v1/similar-items") { request, _ -> Response in
        let r = try await decodeBody(SimilarItemsRequest.self, request)
        try RequestDeadline.check()
        return json(try serving { try backend.rankedSimilarItems(r) })
    }
    router.post("/v1/score") { request, _ -> Response in
        let r = try await decodeBody(ScoreRequest.self, request)
        try RequestDeadline.check()
        return json(try serving { try backend.score(r) })
    }
    router.put("/v1/items") { request, _ -> Response in
        let r = try await decodeBody(ItemRequest.self, request)
        let change = try serving { try backend.putItem(r) }
        return try json(change, status: change.status == "added" ? .created : .ok)
    }
    router.delete("/v1/items/:item_id") { request, context -> Response in
        let raw = context.parameters.get("item_id") ?? ""
        return try json(try serving { try backend.deleteItem(raw.removingPercentEncoding ?? raw) })
    }
    router.post("/admin/reload") { _, _ -> Response in
        do {
            // Loading reads files and may build an index: done on a Dispatch queue, so it never holds up the executor
            // that answers the other requests (with `--executor nio`, an event loop).
            let m = try await withCheckedThrowingContinuation { (done: CheckedContinuation<ServingModel, Error>) in
                DispatchQueue.global().async { done.resume(with: Result { try backend.reload() }) }
            }
            return try json(["status": "reloaded", "model_version": m.version])
        } catch {
            throw HTTPError(.internalServerError, message: "reload failed, still serving the previous model: \(error)")
        }
    }
    return router
}

/// Every path the API serves and its method (a request for a known path with another method is answered 405);
/// `/v1/items/{item_id}` (one segment after the prefix) takes DELETE.
let apiRoutes: [String: HTTPRequest.Method] = [
    "/healthz": .get, "/metrics": .get, "/openapi.json": .get, "/readyz": .get,
    "/v1/recommend": .post, "/v1/similar-items": .post, "/v1/score": .post, "/admin/reload": .post, "/v1/items": .put,
]

/// The method of a known path: the table above, or DELETE for one item's path.
func allowedMethod(_ path: String, _ routes: [String: HTTPRequest.Method]) -> HTTPRequest.Method? {
    if let m = routes[path] { return m }
    let prefix = "/v1/items/"
    if path.hasPrefix(prefix), path.count > prefix.count, !path.dropFirst(prefix.count).contains("/") { return .delete }
    return nil
}

/// Answers a known path asked with a method it does not have with 405, an `Allow` header and the JSON error body, and
/// gives the router's bare 404 for an unknown path the same JSON error body.
struct RouteMethodMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: [String: HTTPRequest.Method]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if let allowed = allowedMethod(path, routes) {
            guard request.method == allowed else {
                throw HTTPError(.methodNotAllowed, headers: [.allow: allowed.rawValue],
                                message: "\(path) takes \(allowed.rawValue), not \(request.method.rawValue)")
            }
            return try await next(request, context)
        }
        do { return try await next(request, context) } catch let e as HTTPError where e.status == .notFound {
            throw HTTPError(.notFound, message: "no such path: \(path)")
        }
    }
}

/// The server application on `host:port`.
/// `idleTimeout` closes a connection that sends nothing for that long: a client stalled in the middle of a request, or
/// an idle keep-alive connection.
public func buildApplication(_ backend: ServingBackend, host: String = "127.0.0.1", port: Int = 8080,
                             timeout: Duration? = .seconds(2), idleTimeout: Duration = .seconds(60), adminToken: AdminToken? = nil) -> some ApplicationProtocol {
    Application(router: buildRouter(backend, timeout: timeout, adminToken: adminToken),
                server: .http1(configuration: .init(idleTimeout: .nanoseconds(idleTimeout.nanoseconds))),
                configuration: .init(address: .hostname(host, port: port), serverName: "tandem"))
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
