import Testing
import Foundation
import Hummingbird
import HummingbirdTesting
import TandemTensor
import TandemData
import TandemTrain
@testable import TandemServe
import TandemIndex
import TandemTestSupport

/// A small two-tower model on synthetic data (with user features, so cold start works), saved once.
let servedModelDirectory: String = {
    let dir = Fixtures.temporaryPath("serve")
    var c = try! TrainConfig.resolve(overrides: ["model": "two-tower", "dataset": "synthetic:users=200,items=80,interactions=3000,clusters=4",
                                                 "epochs": "3", "embedding_dim": "8", "field_dim": "4", "batch_size": "256", "ks": "[10, 20]"])
    c.outputs.output = dir
    let ds = try! c.loadDataset()
    let trainer = try! Trainer(config: c, dataset: ds, log: { _ in })
    _ = try! trainer.run { try ModelStore.save($0, config: c, dataset: ds, to: dir) }
    return dir
}()

func body(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

func decoded(_ b: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: b))) as? [String: Any] ?? [:]
}

let adminToken = try! AdminToken("test-token")
let asAdmin: HTTPFields = [.authorization: "Bearer test-token", .contentType: "application/json"]

@Suite(.serialized) struct ServeTests {
    func app(token: AdminToken? = adminToken) throws -> (some ApplicationProtocol, ServingBackend) {
        let backend = ServingBackend(modelDirectory: servedModelDirectory, factory: "Flat")
        try backend.reload()
        return (Application(router: buildRouter(backend, adminToken: token)), backend)
    }

    @Test func healthAndReadiness() async throws {
        let empty = ServingBackend { throw ServingError(500, "never loads") }
        try await Application(router: buildRouter(empty, adminToken: adminToken)).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "u1"}"#)) {
                #expect($0.status == .serviceUnavailable)
            }
            try await client.execute(uri: "/admin/reload", method: .post, headers: asAdmin) { #expect($0.status == .internalServerError) }
        }
        let (a, _) = try app()
        try await a.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/openapi.json", method: .get) { r in
                let doc = decoded(r.body)
                #expect(r.status == .ok && doc["openapi"] as? String == "3.0.3")
                #expect(Set((doc["paths"] as? [String: Any] ?? [:]).keys).isSuperset(of: ["/v1/recommend", "/v1/similar-items", "/v1/score"]))
            }
        }
    }

    @Test func recommendForKnownUnknownAndColdStartUsers() async throws {
        let (a, backend) = try app()
        let m = backend.model!
        let user = "u3", u = m.userIds.lookup(user)!
        let seen = Set(m.seen.columns(ofRow: Int(u)).map { m.itemIds.token($0) })
        try await a.test(.router) { client in
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "u3", "k": 5, "exclude_items": ["i0"]}"#)) { r in
                #expect(r.status == .ok)
                let j = decoded(r.body)
                let items = (j["items"] as! [[String: Any]]).map { $0["item_id"] as! String }
                #expect(items.count == 5 && j["source"] as? String == "model")
                #expect(seen.isDisjoint(with: items) && !items.contains("i0"))
                let scores = (j["items"] as! [[String: Any]]).map { ($0["score"] as! NSNumber).doubleValue }
                #expect(scores == scores.sorted(by: >))
            }
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "nobody", "k": 3}"#)) { r in
                #expect(r.status == .ok && decoded(r.body)["source"] as? String == "popularity")
                let items = (decoded(r.body)["items"] as! [[String: Any]]).map { $0["item_id"] as! String }
                #expect(items == m.popular.prefix(3).map { m.itemIds.token($0) })
            }
            // Found by the fuzzer: a huge number as a feature value used to trap converting to Int.
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_features": {"segment": 1e300}, "k": 2}"#)) { r in
                #expect(r.status == .ok && decoded(r.body)["source"] as? String == "cold_start")
            }
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_features": {"segment": "c2"}, "k": 4}"#)) { r in
                #expect(r.status == .ok && decoded(r.body)["source"] as? String == "cold_start")
                #expect((decoded(r.body)["items"] as! [Any]).count == 4)
            }
        }
    }

    @Test func badInputGetsJSONErrors() async throws {
        let (a, _) = try app()
        let cases: [(String, String, HTTPResponse.Status)] = [
            ("/v1/recommend", #"{"user_id": "u1", "k": 0}"#, .badRequest),
            ("/v1/recommend", #"{"user_id": "u1", "k": 1000000}"#, .badRequest),
            ("/v1/recommend", #"{"user_id": "u1", "k": "ten"}"#, .badRequest),
            ("/v1/recommend", #"{"k": 3}"#, .badRequest),
            ("/v1/recommend", #"{"user_id": "#, .badRequest),
            ("/v1/recommend", #"[1, 2, 3]"#, .badRequest),
            ("/v1/similar-items", #"{"k": 3}"#, .badRequest),
            ("/v1/similar-items", #"{"item_id": "no-such-item"}"#, .notFound),
            ("/v1/score", #"{"user_id": "u1", "candidates": ["i1", "nope"]}"#, .notFound),
            ("/v1/score", #"{"user_id": "ghost", "candidates": ["i1"]}"#, .notFound),
        ]
        try await a.test(.router) { client in
            for (uri, text, status) in cases {
                try await client.execute(uri: uri, method: .post, body: body(text)) { r in
                    #expect(r.status == status, "\(uri) \(text)")
                    let err = decoded(r.body)["error"] as? [String: Any]
                    #expect((err?["message"] as? String)?.isEmpty == false, "\(uri) \(text): \(String(buffer: r.body))")
                }
            }
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "u1", "k": "ten"}"#)) { r in
                #expect(String(buffer: r.body).contains("'k'"))
            }
            let huge = "{\"user_id\": \"u1\", \"exclude_items\": [" + String(repeating: "\"x\",", count: 2_500_000) + "\"x\"]}"
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(huge)) { #expect($0.status == .contentTooLarge) }
        }
    }

    @Test func similarItemsScoreAndReload() async throws {
        let (a, backend) = try app()
        let before = backend.model!.version
        try await a.test(.router) { client in
            try await client.execute(uri: "/v1/similar-items", method: .post, body: body(#"{"item_id": "i5", "k": 5}"#)) { r in
                let items = (decoded(r.body)["items"] as! [[String: Any]]).map { $0["item_id"] as! String }
                #expect(r.status == .ok && items.count == 5 && !items.contains("i5"))
            }
            try await client.execute(uri: "/v1/score", method: .post, body: body(#"{"user_id": "u1", "candidates": ["i1", "i2", "i3"]}"#)) { r in
                let items = decoded(r.body)["items"] as! [[String: Any]]
                #expect(Set(items.map { $0["item_id"] as! String }) == ["i1", "i2", "i3"])
                let s = items.map { ($0["score"] as! NSNumber).doubleValue }
                #expect(s == s.sorted(by: >))
            }
            try await client.execute(uri: "/admin/reload", method: .post, headers: asAdmin) { #expect($0.status == .ok) }
        }
        #expect(backend.model!.version != before)
    }

    /// Admin requests need the bearer token: none → 401 with a challenge, a wrong one → 403, a server started without
    /// a token refuses them all (403); read requests need nothing.
    @Test func adminRequestsNeedTheToken() async throws {
        let (a, _) = try app()
        try await a.test(.router) { client in
            for (uri, method) in [("/admin/reload", HTTPRequest.Method.post), ("/v1/items/i1", .delete), ("/v1/items", .put)] {
                try await client.execute(uri: uri, method: method, body: body(#"{"item_id": "x", "features": {}}"#)) { r in
                    #expect(r.status == .unauthorized && r.headers[.wwwAuthenticate] == #"Bearer realm="tandem""#, "\(uri)")
                }
                try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer test-tokeN"]) { #expect($0.status == .forbidden, "\(uri)") }
                try await client.execute(uri: uri, method: method, headers: [.authorization: "Basic dGVzdA=="]) { #expect($0.status == .unauthorized, "\(uri)") }
            }
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "u1"}"#)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/admin/reload", method: .post, headers: asAdmin) { #expect($0.status == .ok) }
        }
        let (open, _) = try app(token: nil)
        try await open.test(.router) { client in
            try await client.execute(uri: "/admin/reload", method: .post, headers: asAdmin) { r in
                #expect(r.status == .forbidden && String(buffer: r.body).contains("--admin-token-file"))
            }
        }
        #expect(throws: (any Error).self) { try AdminToken(" \n") }
        #expect(try AdminToken("abc\n").matches("abc") && !(try AdminToken("abc").matches("abd")) && !(try AdminToken("abc").matches("ab")))
    }

    /// An item put while serving is answered by the very next request, scored by its features-only vector; putting it
    /// again replaces it; deleting it (or a catalogue item) hides it from every answer; a reload embeds it again.
    @Test func itemsAddedAndDeletedWhileServing() async throws {
        let (a, backend) = try app()
        let m = backend.model!, user = "u3", u = Int(m.userIds.lookup(user)!)
        let features = ["genre": ["c1"], "tags": ["t2", "t3"]]
        let v = m.embedItem(features)!
        let d = m.users.cols
        let expected = (0..<d).reduce(Float(0)) { $0 + m.users.data[u * d + $1] * v[$1] }
        @Sendable func recommended(_ client: some TestClientProtocol) async throws -> [String: Double] {
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "\#(user)", "k": 1000, "exclude_seen": false}"#)) { r in
                Dictionary(uniqueKeysWithValues: (decoded(r.body)["items"] as! [[String: Any]]).map { ($0["item_id"] as! String, ($0["score"] as! NSNumber).doubleValue) })
            }
        }
        try await a.test(.router) { client in
            let before = try await recommended(client)
            #expect(before["fresh"] == nil)
            try await client.execute(uri: "/v1/items", method: .put, headers: asAdmin,
                                     body: body(#"{"item_id": "fresh", "features": {"genre": "c1", "tags": ["t2", "t3"]}}"#)) { r in
                #expect(r.status == .created && decoded(r.body)["status"] as? String == "added" && decoded(r.body)["items"] as? Int == m.itemIds.count + 1)
            }
            let after = try await recommended(client)
            #expect(after.count == m.itemIds.count + 1)
            #expect(abs((after["fresh"] ?? .nan) - Double(expected)) < 1e-5, "fresh scored \(after["fresh"] ?? .nan), expected \(expected)")
            try await client.execute(uri: "/v1/similar-items", method: .post, body: body(#"{"item_id": "fresh", "k": 3}"#)) { r in
                #expect(r.status == .ok && (decoded(r.body)["items"] as! [[String: Any]]).count == 3)
            }
            try await client.execute(uri: "/v1/items", method: .put, headers: asAdmin,
                                     body: body(#"{"item_id": "fresh", "features": {"genre": "c2"}}"#)) { r in
                #expect(r.status == .ok && decoded(r.body)["status"] as? String == "replaced")
            }
            try await client.execute(uri: "/v1/items", method: .put, headers: asAdmin, body: body(#"{"item_id": "x", "features": {"colour": "red"}}"#)) { r in
                #expect(r.status == .badRequest && String(buffer: r.body).contains("'colour'"))
            }
            // A catalogue item put again is answered by its new, features-only vector under the same id.
            try await client.execute(uri: "/v1/items", method: .put, headers: asAdmin, body: body(#"{"item_id": "i1", "features": {"genre": "c1", "tags": ["t2", "t3"]}}"#)) { r in
                #expect(r.status == .ok && decoded(r.body)["status"] as? String == "replaced")
            }
            let replaced = try await recommended(client)
            #expect(abs((replaced["i1"] ?? .nan) - Double(expected)) < 1e-5)
            for id in ["fresh", "i1", "i2"] {
                try await client.execute(uri: "/v1/items/\(id)", method: .delete, headers: asAdmin) { #expect($0.status == .ok, "\(id)") }
            }
            let gone = try await recommended(client)
            #expect(gone["fresh"] == nil && gone["i1"] == nil && gone["i2"] == nil && gone.count == m.itemIds.count - 2)
            try await client.execute(uri: "/v1/items/i2", method: .delete, headers: asAdmin) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/score", method: .post, body: body(#"{"user_id": "u1", "candidates": ["i2"]}"#)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/items", method: .put, headers: asAdmin, body: body(#"{"item_id": "again", "features": {"genre": "c1", "tags": ["t2", "t3"]}}"#)) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/admin/reload", method: .post, headers: asAdmin) { #expect($0.status == .ok) }
            let reloaded = try await recommended(client)
            #expect(reloaded["again"] != nil && reloaded["i2"] == nil, "added items survive a reload, hidden ones stay hidden")
        }
    }
}

/// A model directory copied alone to a new path, with the data it was trained on gone, serves and reloads: serving
/// reads nothing but the directory.
@Suite struct SelfContainedDirectoryTests {
    @Test func aCopiedDirectoryServesWithoutItsData() async throws {
        let root = Fixtures.temporaryPath("alone")
        let data = root + "/data", trained = root + "/trained", moved = root + "/elsewhere/model"
        // Pre-split files with user features: the model reads them in training, serving must not.
        let ds = SyntheticData(SyntheticConfig(users: 120, items: 60, interactions: 2500, clusters: 3, seed: 4)).dataset()
        try ds.writeSplit(to: data)
        var c = try TrainConfig.resolve(overrides: ["model": "two-tower", "epochs": "2", "embedding_dim": "8", "field_dim": "4",
                                                    "batch_size": "256", "ks": "[10, 20]", "history_length": "5"])
        c.data.train = data + "/train.tsv"; c.data.valid = data + "/valid.tsv"; c.data.test = data + "/test.tsv"
        let loaded = try c.loadDataset()
        let trainer = try Trainer(config: c, dataset: loaded, log: { _ in })
        _ = try trainer.run { try ModelStore.save($0, config: c, dataset: loaded, to: trained) }
        let original = try ServingModel(modelDirectory: trained)
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: trained, toPath: moved)
        try FileManager.default.removeItem(atPath: data)
        try FileManager.default.removeItem(atPath: trained)
        let backend = ServingBackend(modelDirectory: moved, factory: "Flat")
        let first = try backend.reload()
        #expect(first.users == original.users && first.items == original.items && first.seen == original.seen && first.popular == original.popular)
        let user = first.userIds.tokens[3]
        let known = try backend.recommend(RecommendRequest(userId: user, k: 5))
        #expect(known.source == "model" && known.items.count == 5)
        // Cold start through the rebuilt user tower: a history of item ids, the same answer as the original model's.
        let history = Array(first.itemIds.tokens.prefix(3))
        let cold = try backend.recommend(RecommendRequest(userFeatures: ["history": .many(history)], k: 5))
        #expect(cold.source == "cold_start")
        #expect(first.coldStartEmbedding(["history": history]) == original.coldStartEmbedding(["history": history]))
        let second = try backend.reload()
        #expect(second.version != first.version)
        // A training-side load of the moved directory fails clearly: its data is gone.
        #expect(throws: DataError.self) { try ModelStore.load(from: moved) }
    }

    /// The closed-form baselines serve where their shape allows: EASE's and ItemKNN's catalogue-wide embeddings through
    /// the exact index (their scores are X·W, the same as evaluation's), iALS's like any embedding model.
    @Test(arguments: ["ease", "itemknn", "ials"]) func baselinesServe(model: String) throws {
        let dir = Fixtures.temporaryPath("\(model)")
        var c = try TrainConfig.resolve(overrides: ["model": model, "dataset": "synthetic:users=120,items=60,interactions=2500,clusters=3",
                                                    "ks": "[10, 20]", "ease_lambdas": "[10]", "ials_iterations": "3", "embedding_dim": "8"])
        c.outputs.output = dir
        let ds = try c.loadDataset()
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        _ = try trainer.run()
        try ModelStore.save(trainer.model, config: c, dataset: ds, to: dir)
        let backend = ServingBackend(modelDirectory: dir, factory: "Flat")
        let m = try backend.reload()
        let (u, v) = trainer.embeddings()
        #expect(m.users == u && m.items == v && m.modelKind == model)
        let answer = try backend.recommend(RecommendRequest(userId: m.userIds.tokens[0], k: 5))
        #expect(answer.source == "model" && answer.items.count == 5)
        // The top item is the user's best unseen item by X·W (or the dot product).
        let seen = Set(m.seen.columns(ofRow: 0))
        let scores = (0..<m.items.rows).map { i in (0..<m.items.cols).reduce(Float(0)) { $0 + m.users[0, $1] * m.items[i, $1] } }
        let best = scores.indices.filter { !seen.contains(Int32($0)) }.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }!
        #expect(abs(answer.items[0].score - scores[best]) < 1e-4)
    }

    /// A sparse ItemKNN too wide to embed (counted against a tiny memory here) is saved without a serving bundle;
    /// serving refuses it with the reason.
    @Test func aModelSavedWithoutServingIsRefusedWithTheReason() throws {
        let dir = Fixtures.temporaryPath("itemknn-wide")
        let c = try TrainConfig.resolve(overrides: ["model": "itemknn", "dataset": "synthetic:users=120,items=60,interactions=2500,clusters=3"])
        let ds = try c.loadDataset()
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        _ = try trainer.run()
        try ModelStore.save(trainer.model, config: c, dataset: ds, to: dir, memoryBytes: 1e5)
        let e = #expect(throws: DataError.self) { try ServingModel(modelDirectory: dir) }
        #expect(e?.description.contains("no serving bundle: this model scores sparsely") == true)
    }

    /// A directory written before the serving bundle existed is refused by serving with a message saying why.
    @Test func anOldDirectoryIsRefusedClearly() throws {
        let dir = Fixtures.temporaryPath("old")
        try FileManager.default.copyItem(atPath: servedModelDirectory, toPath: dir)
        var manifest = try ModelManifest.read(dir)
        manifest.format = "tandem-model-1"; manifest.servingBytes = nil; manifest.servingChecksum = nil; manifest.similarity = nil
        try ModelManifest.encoder.encode(manifest).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
        let e = #expect(throws: DataError.self) { try ServingModel(modelDirectory: dir) }
        #expect(e?.description.contains("no serving bundle") == true)
    }
}

@Suite struct CascadeTests {
    /// One exact channel re-ranked by its own model gives the model's full-ranking metrics; adding channels can only
    /// grow the union's recall.
    @Test func cascadeOfOneExactChannelEqualsFullRanking() throws {
        let m = try ServingModel(modelDirectory: servedModelDirectory, factory: "Flat")
        let (_, ds, _) = try ModelStore.load(from: servedModelDirectory)
        let reference = EvaluationProtocol(ds, ks: [10, 20]).test.evaluate(users: m.users, items: m.items)
        let alone = try CascadeEvaluation(channels: [.model(name: "tt", m)], ranker: m, split: ds.split, perChannel: 25).run()
        let preRanked = alone.last!.metrics
        for key in ["recall@10", "recall@20", "ndcg@10", "ndcg@20"] { #expect(abs(preRanked[key]! - reference[key]!) < 1e-9, "\(key)") }
        #expect(abs(alone[0].metrics["recall@25"]! - alone[1].metrics["recall@25"]!) < 1e-12)  // union of one = that channel
        let both = try CascadeEvaluation(channels: [.model(name: "tt", m), .popularity(m)], ranker: m, split: ds.split, perChannel: 10).run()
        let (tt, pop, union) = (both[0].metrics["recall@10"]!, both[1].metrics["recall@10"]!, both[2].metrics["recall@10"]!)
        #expect(union >= max(tt, pop) && union <= tt + pop + 1e-12)
        #expect(both[2].candidatesPerUser >= 10 && both[2].candidatesPerUser <= 20)
        #expect(CascadeEvaluation.table(both, perChannel: 10, ks: [10, 20]).contains("pre-ranked"))
    }
}

@Suite struct ResponseWriterTests {
    /// The hand-written JSON of item lists parses to the same object as JSONEncoder's, with awkward ids escaped.
    @Test func itemListJSONMatchesTheCodableForm() throws {
        let items = [ScoredItem(itemId: "plain", score: 0.25), ScoredItem(itemId: "q\"uo\\te\n\t\u{01}é😀", score: -1.5e-7),
                     ScoredItem(itemId: "", score: 3)]
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        for r in [RecommendResponse(items: items, source: "model", modelVersion: "mf@x\"y") as any ItemListResponse & Encodable,
                  ItemsResponse(items: items, modelVersion: "v1")] {
            let ours = try JSONSerialization.jsonObject(with: Data(itemListJSON(r))) as! NSDictionary
            let reference = try JSONSerialization.jsonObject(with: encoder.encode(r)) as! NSDictionary
            #expect(ours == reference, "\(String(decoding: itemListJSON(r), as: UTF8.self))")
        }
    }

    /// The hot routes' JSON (ids from the model's prewritten fragments) equals the Codable response, byte for byte.
    @Test func rankedItemsWriteTheSameJSONAsTheCodableResponse() throws {
        let backend = ServingBackend(modelDirectory: servedModelDirectory, factory: "Flat")
        let m = try backend.reload()
        for r in [RecommendRequest(userId: m.userIds.token(3), k: 17), RecommendRequest(userId: "nobody", k: 5),
                  RecommendRequest(userId: m.userIds.token(0), k: 1000, excludeSeen: false)] {
            let ranked = try backend.rankedRecommendation(r)
            #expect(ranked.itemCount > 0)
            #expect(itemListJSON(ranked) == itemListJSON(try backend.recommend(r)))
        }
        let similar = SimilarItemsRequest(itemId: m.itemIds.token(Int32(m.itemIds.count - 1)), k: 9)
        #expect(itemListJSON(try backend.rankedSimilarItems(similar)) == itemListJSON(try backend.similarItems(similar)))
        #expect(m.itemJSONHeads.count == m.itemIds.count)
    }
}

@Suite struct FlatJSONTests {
    static let reference: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    /// Every body the fast path accepts decodes to the same request with JSONDecoder: checked on the fuzzer's
    /// mutated bodies (escapes, exponents, nulls, repeated keys, wrong types, truncations).
    @Test func fastPathAgreesWithJSONDecoderOnMutatedBodies() throws {
        let fuzzer = RequestFuzzer(backend: ServingBackend(load: { throw ServingError(503, "unused") }))
        var rng = RNG(seed: 11)
        var fast = 0
        func check<T: APIRequestBody & Equatable>(_ type: T.Type, _ data: Data) {
            guard let members = FlatJSON.object(data), let ours = T(flat: members) else { return }
            fast += 1
            let theirs = try? FlatJSONTests.reference.decode(T.self, from: data)
            #expect(theirs == ours, "\(String(decoding: data, as: UTF8.self))")
        }
        for _ in 0..<30_000 {
            let (endpoint, base) = RequestFuzzer.seeds[rng.int(below: RequestFuzzer.seeds.count)]
            let data = fuzzer.mutate(base, &rng)
            switch endpoint {
            case "recommend": check(RecommendRequest.self, data)
            case "similar": check(SimilarItemsRequest.self, data)
            default: check(ScoreRequest.self, data)
            }
        }
        #expect(fast > 300)
        // Bodies built from a grammar of flat objects: known, unknown and repeated keys; strings (with and without
        // escapes), integers of 1–21 digits (signs, leading zeros), fractions, booleans, null, lists; random spacing.
        let keys = ["user_id", "k", "exclude_seen", "exclude_items", "item_id", "candidates", "user_features", "userId", "K"]
        func space() -> String { ["", " ", "\n", "\t ", "\r\n"][rng.int(below: 5)] }
        func string() -> String {
            let alphabet = "ab1_ -./:".map(String.init) + (rng.int(below: 4) == 0 ? ["\\\"", "\\n", "é", "\\u0041"] : [])
            return "\"" + (0..<rng.int(below: 6)).map { _ in alphabet[rng.int(below: alphabet.count)] }.joined() + "\""
        }
        func value() -> String {
            switch rng.int(below: 8) {
            case 0, 1: return string()
            case 2: return (rng.int(below: 4) == 0 ? "-" : "") + String((0..<(1 + rng.int(below: 21))).map { _ in "0123456789".randomElement(using: &rng)! })
            case 3: return ["1.5", "2e1", "1.0", "-0"][rng.int(below: 4)]
            case 4: return ["true", "false", "null"][rng.int(below: 3)]
            case 5: return "[" + (0..<rng.int(below: 3)).map { _ in space() + string() }.joined(separator: ",") + "]"
            case 6: return "[1, \"a\"]"
            default: return "{\"age\": \"3\"}"
            }
        }
        for _ in 0..<20_000 {
            let members = (0..<rng.int(below: 5)).map { _ in space() + "\"\(keys[rng.int(below: keys.count)])\"" + space() + ":" + space() + value() }
            let data = Data(("{" + members.joined(separator: ",") + space() + "}").utf8)
            check(RecommendRequest.self, data)
            check(SimilarItemsRequest.self, data)
            check(ScoreRequest.self, data)
        }
        #expect(fast > 2000)
    }

    /// The common bodies take the fast path; the others (a nested object, an escape, an exponent, a repeated or
    /// camelCase key, a wrong type, trailing bytes) are left to JSONDecoder.
    @Test func commonBodiesTakeTheFastPathAndTheRestFallBack() throws {
        func fast<T: APIRequestBody>(_ type: T.Type, _ s: String) -> T? { FlatJSON.object(Data(s.utf8)).flatMap { T(flat: $0) } }
        #expect(fast(RecommendRequest.self, #" {"user_id": "12", "k": 100, "exclude_seen": false, "exclude_items": ["1", "2"]}"#)
                == RecommendRequest(userId: "12", k: 100, excludeSeen: false, excludeItems: ["1", "2"]))
        #expect(fast(RecommendRequest.self, #"{"user_id":null,"k":0,"exclude_items":[]}"#) == RecommendRequest(k: 0, excludeItems: []))
        #expect(fast(ScoreRequest.self, "{\"user_id\":\"u\",\n\t\"candidates\":[\"a\"]}") == ScoreRequest(userId: "u", candidates: ["a"]))
        #expect(fast(SimilarItemsRequest.self, #"{"item_id": "7"}"#) == SimilarItemsRequest(itemId: "7"))
        for s in [#"{"user_features": {"age": "3"}}"#, #"{"user_id": "a\"b"}"#, #"{"user_id": "é"}"#, #"{"k": 1e2}"#,
                  #"{"k": 01}"#, #"{"k": -1}"#, #"{"k": 1, "k": 2}"#, #"{"userId": "1"}"#, #"{"k": "10"}"#, #"{"k": 1} x"#,
                  #"{"k": 1234567890123456789}"#, #"{"user_id": "1",}"#, #"{"exclude_items": [1]}"#] {
            #expect(fast(RecommendRequest.self, s) == nil, "\(s)")
        }
        #expect(fast(ScoreRequest.self, #"{"user_id": "u"}"#) == nil)
    }
}

/// The HTTP contract beyond the routes' bodies: methods, unknown paths, and the published schema.
@Suite struct ContractTests {
    /// A known path asked with another method is 405 with an `Allow` header and the JSON error body; an unknown path is
    /// 404 with the JSON error body too.
    @Test func wrongMethodsAre405WithAllowAndUnknownPaths404() async throws {
        let backend = ServingBackend(modelDirectory: servedModelDirectory, factory: "Flat")
        try backend.reload()
        try await Application(router: buildRouter(backend)).test(.router) { client in
            for (path, method, allow) in [("/v1/recommend", HTTPRequest.Method.get, "POST"), ("/v1/score", .put, "POST"),
                                          ("/healthz", .post, "GET"), ("/openapi.json", .delete, "GET"),
                                          ("/v1/similar-items", HTTPRequest.Method("TRACE")!, "POST")] {
                try await client.execute(uri: path, method: method) { r in
                    #expect(r.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(r.headers[.allow] == allow)
                    #expect((decoded(r.body)["error"] as? [String: Any])?["message"] as? String != nil, "\(String(buffer: r.body))")
                }
            }
            try await client.execute(uri: "/no/such/path", method: .put) { r in
                #expect(r.status == .notFound)
                #expect(((decoded(r.body)["error"] as? [String: Any])?["message"] as? String)?.contains("/no/such/path") == true)
            }
        }
    }

    /// The schema says a recommendation needs a user id or user features, and its examples are ids of the served model.
    @Test func schemaRequiresAUserAndGivesRealExamples() async throws {
        let backend = ServingBackend(modelDirectory: servedModelDirectory, factory: "Flat")
        let m = try backend.reload()
        try await Application(router: buildRouter(backend)).test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { r in
                let doc = decoded(r.body)
                let schemas = ((doc["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
                let recommend = schemas["RecommendRequest"] as? [String: Any]
                #expect((recommend?["anyOf"] as? [[String: Any]])?.count == 2)
                #expect((recommend?["example"] as? [String: Any])?["user_id"] as? String == m.userIds.tokens[0])
                let similar = schemas["SimilarItemsRequest"] as? [String: Any]
                #expect((similar?["example"] as? [String: Any])?["item_id"] as? String == m.itemIds.tokens[0])
            }
            // The example bodies are answered 200.
            try await client.execute(uri: "/v1/score", method: .post,
                                     body: body(#"{"user_id": "\#(m.userIds.tokens[0])", "candidates": ["\#(m.itemIds.tokens[0])"]}"#)) {
                #expect($0.status == .ok)
            }
        }
    }
}

@Suite struct MetricsAndTimeoutTests {
    /// Requests are counted by route and status, timed, and the served model and index size are exported.
    @Test func metricsCountRequestsAndDescribeTheModel() async throws {
        let backend = ServingBackend(modelDirectory: servedModelDirectory, factory: "Flat")
        try backend.reload()
        try await Application(router: buildRouter(backend)).test(.router) { client in
            for _ in 0..<3 { try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "u1", "k": 2}"#)) { _ in } }
            try await client.execute(uri: "/v1/recommend", method: .post, body: body(#"{"user_id": "u1", "k": 0}"#)) { _ in }
            try await client.execute(uri: "/no/such/path", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                let text = String(buffer: r.body)
                #expect(text.contains(#"tandem_requests_total{endpoint="/v1/recommend",method="POST",status="200"} 3"#), "\(text)")
                #expect(text.contains(#"tandem_requests_total{endpoint="/v1/recommend",method="POST",status="400"} 1"#))
                #expect(text.contains(#"endpoint="NotFound",method="GET",status="404"} 1"#))
                #expect(text.contains(#"tandem_request_duration_seconds_count{endpoint="/v1/recommend"} 4"#))
                #expect(text.contains("tandem_index_items 80"))
                #expect(text.contains(#"tandem_model_info{version="\#(backend.model!.version)",kind="two-tower"} 1"#))
                #expect(text.contains(#"tandem_reloads_total{result="ok"} 1"#))
            }
        }
    }

    /// A handler that runs past the limit is answered 503 with a JSON error, whether it checks the deadline itself or
    /// finishes late; fast ones pass through untouched.
    @Test func slowRequestsAreAnswered503() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestTimeoutMiddleware(limit: .milliseconds(100)))
        let busy: @Sendable () -> Void = { let end = ContinuousClock.now + .milliseconds(250); while ContinuousClock.now < end {} }
        router.get("/slow-checks") { _, _ -> String in busy(); try RequestDeadline.check(); return "late" }
        router.get("/slow") { _, _ -> String in busy(); return "late" }
        router.get("/fast") { _, _ -> String in try RequestDeadline.check(); return "quick" }
        try await Application(router: router).test(.router) { client in
            for path in ["/slow-checks", "/slow"] {
                try await client.execute(uri: path, method: .get) { r in
                    #expect(r.status == .serviceUnavailable, "\(path)")
                    #expect(String(buffer: r.body).contains("longer than"))
                }
            }
            try await client.execute(uri: "/fast", method: .get) { #expect($0.status == .ok && String(buffer: $0.body) == "quick") }
        }
        // Outside a request there is no deadline to miss.
        #expect(RequestDeadline.current == nil)
        #expect(throws: Never.self) { try RequestDeadline.check() }
    }

    /// A reload is not held to the request limit: loading takes what the model takes, and the model it loads is
    /// served whatever the client is told, so a reload slower than the limit answers 200, not a false 503.
    @Test func aSlowReloadIsNotAnswered503() async throws {
        let backend = ServingBackend {
            Thread.sleep(forTimeInterval: 0.25)
            return try ServingModel(modelDirectory: servedModelDirectory)
        }
        let first = try backend.reload()
        try await Application(router: buildRouter(backend, timeout: .milliseconds(100), adminToken: adminToken)).test(.router) { client in
            try await client.execute(uri: "/admin/reload", method: .post, headers: asAdmin) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                #expect(decoded(r.body)["model_version"] as? String == backend.model?.version)
            }
        }
        #expect(backend.model?.version != nil && backend.model?.version != first.version)
    }

    /// The deadline is the middleware's limit from the request's start, visible to the handler's task.
    @Test func theHandlerSeesItsDeadline() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestTimeoutMiddleware(limit: .seconds(30)))
        router.get("/left") { _, _ -> String in
            guard let d = RequestDeadline.current else { return "none" }
            return String(Int((d - ContinuousClock.now) / .seconds(1)))
        }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/left", method: .get) { r in
                let left = Int(String(buffer: r.body)) ?? -1
                #expect((25...30).contains(left), "\(String(buffer: r.body))")
            }
        }
    }
}

@Suite(.serialized) struct SavedIndexTests {
    /// `tandem index build` output is loaded by serving and gives the same answers as an index built at start.
    @Test func servingLoadsTheSavedHNSWIndex() throws {
        let built = try ServingModel(modelDirectory: servedModelDirectory, factory: "HNSW16")
        try built.index.save(to: servedModelDirectory + "/index.hnsw")
        defer { try? FileManager.default.removeItem(atPath: servedModelDirectory + "/index.hnsw") }
        let loaded = try ServingModel(modelDirectory: servedModelDirectory, factory: "HNSW16")
        #expect(loaded.index.count == built.index.count)
        let q = built.users.gatherRows([0, 1, 2])
        #expect(loaded.index.search(q, k: 5) == built.index.search(q, k: 5))
    }
}

@Suite struct FuzzTests {
    @Test func mutatedBodiesNeverCrashAndSomeAreAnswered() throws {
        let backend = ServingBackend(modelDirectory: servedModelDirectory, factory: "Flat")
        try backend.reload()
        let o = RequestFuzzer(backend: backend).run(iterations: 20_000, seed: 3)
        #expect(o.accepted + o.rejected == 20_000)
        #expect(o.accepted > 100 && o.rejected > 1000)
    }
}

/// An item with no training interaction contributes no id embedding: its vector in the model directory (what the index
/// and serving read) equals the item tower's embedding of its raw feature values alone, computed by serving's own path.
@Suite struct UntrainedItemTests {
    @Test func untrainedItemsAreTheirFeaturesOnlyEmbedding() throws {
        let dir = Fixtures.temporaryPath("untrained")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = try TrainConfig.resolve(overrides: ["model": "two-tower", "dataset": "synthetic:users=150,items=400,interactions=1500,clusters=4",
                                                    "epochs": "2", "embedding_dim": "8", "field_dim": "4", "batch_size": "128", "ks": "[10, 20]",
                                                    "negative_sampling": "mixed", "sampled_negatives": "64"])
        c.outputs.output = dir
        let ds = try c.loadDataset()
        let untrained = ModelStore.untrainedItems(ds)
        #expect(untrained.count >= 10, "the fixture needs items without training interactions")
        let trainer = try Trainer(config: c, dataset: ds, log: { _ in })
        _ = try trainer.run { try ModelStore.save($0, config: c, dataset: ds, to: dir) }
        let served = try ServingModel(modelDirectory: dir)
        let fields = ds.itemFeatures!.fields
        func raw(_ item: Int) -> [String: [String]] {
            var out: [String: [String]] = [:]
            for f in fields {
                switch f.kind {
                case .categorical: out[f.name] = f.categories[item] > 0 ? [f.vocabulary.token(f.categories[item] - 1)] : []
                case .multiHot: out[f.name] = f.values[f.offsets[item]..<f.offsets[item + 1]].filter { $0 > 0 }.map { f.vocabulary.token($0 - 1) }
                case .numeric: out[f.name] = [String(f.numbers[item])]
                }
            }
            return out
        }
        let d = served.items.cols
        var worst: Float = 0
        for i in untrained.map(Int.init) {
            let saved = Array(served.items.data[(i * d)..<(i * d + d)])
            worst = max(worst, zip(saved, served.embedItem(raw(i))!).map { abs($0 - $1) }.max()!)
        }
        #expect(worst < 1e-5, "an untrained item's saved vector differs from its features-only embedding by \(worst)")
        // A trained item's vector does use its id row.
        let trained = (0..<ds.numItems).first { !untrained.contains(Int32($0)) }!
        let own = Array(served.items.data[(trained * d)..<(trained * d + d)])
        #expect(zip(own, served.embedItem(raw(trained))!).map { abs($0 - $1) }.max()! > 1e-3)
    }
}

/// `tandem index add-items`' library half: new items are appended to the ids, the serving bundle and the saved HNSW
/// index as their features-only vectors, and serve; ids already there are left alone; evaluation refuses the directory.
@Suite struct CatalogueAdditionTests {
    @Test func addedItemsServeFromTheDirectory() throws {
        let dir = Fixtures.temporaryPath("add-items")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: servedModelDirectory, toPath: dir)
        let before = try ServingModel(modelDirectory: dir)
        try HNSWIndex(before.items, metric: .innerProduct).save(to: dir + "/" + ModelFile.hnswIndex)
        let file = dir + "-new.tsv"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "item_id\tgenre\ttags\nfresh\tc1\tt2 t3\ni4\tc0\t\nlonely\t\t\n".write(toFile: file, atomically: true, encoding: .utf8)
        let summary = try CatalogueAddition.add(featureFile: file, to: dir)
        #expect(summary.added == 2 && summary.alreadyThere == ["i4"] && summary.indexUpdated && summary.items == before.itemIds.count + 2)
        let after = try ServingModel(modelDirectory: dir, factory: "HNSW32,efSearch=200")
        #expect(after.index.count == after.itemIds.count && after.itemIds.count == before.itemIds.count + 2)
        let fresh = Int(after.itemIds.lookup("fresh")!), d = after.items.cols
        #expect(Array(after.items.data[(fresh * d)..<(fresh * d + d)]) == before.embedItem(["genre": ["c1"], "tags": ["t2", "t3"]])!)
        #expect(after.seen.cols == after.itemIds.count && after.popular.last.map { Int($0) } != nil)
        // The item is its own nearest neighbour in the saved index.
        let found = after.nearest(Tensor(shape: [1, d], data: Array(after.items.data[(fresh * d)..<(fresh * d + d)])), k: 1, excluding: [])
        #expect(found.first?.0 == Int32(fresh))
        #expect { _ = try ModelStore.load(from: dir) } throws: { "\($0)".contains("added to this directory after training") }
        #expect { _ = try CatalogueAddition.add(featureFile: file + ".missing", to: dir) } throws: { "\($0)".contains("no such file") }
    }
}

/// The catalogue a request sees (the model's items, minus hidden ones, plus added ones) ranks exactly as a brute-force
/// sort over all its vectors, with exclusions.
@Suite struct ServedCatalogueTests {
    @Test func mergedSearchEqualsBruteForce() throws {
        let backend = ServingBackend(modelDirectory: servedModelDirectory, factory: "Flat")
        let m = try backend.reload()
        for i in 0..<60 {
            _ = try backend.putItem(ItemRequest(itemId: "n\(i)", features: ["genre": .one("c\(i % 4)"), "tags": .many(["t\(i % 7)", "t\((i * 3) % 7)"])]))
        }
        for id in ["i3", "i7", "n5"] { _ = try backend.deleteItem(id) }
        let c = try backend.ready()
        #expect(c.count == m.itemIds.count - 2 + 59)
        let d = m.users.cols, user = m.users.gatherRows([4])
        let excluded: [Int32] = [0, 1, c.lookup("n9")!]
        let all = (0..<(c.base + c.overlay.added.count)).map(Int32.init).filter { i in
            !excluded.contains(i) && !(Int(i) < c.base && c.hidden.contains(i))
        }
        func score(_ i: Int32) -> Float {
            let v = c.vector(i)
            var s: Float = 0
            for j in 0..<d { s += user.data[j] * v[j] }
            return s
        }
        let scored: [(Int32, Float)] = all.map { ($0, score($0)) }
        let brute = Array(scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(25))
        let found = c.nearest(user, k: 25, excluding: excluded)
        #expect(found.map { $0.0 } == brute.map { $0.0 })
        #expect(zip(found, brute).allSatisfy { abs($0.1 - $1.1) < 1e-5 })
    }
}
