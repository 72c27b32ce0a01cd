import Testing
import Foundation
import TandemTensor
import TandemData
import TandemTestSupport

@Suite struct TableTests {
    @Test func readsAtomicHeaderAndTypes() throws {
        let t = try Table.parse("user_id:token\titem_id:token\trating:float\n1\t10\t4\n2\t11\t3.5\n", file: "x.inter", delimiter: "\t", typedHeader: true)
        #expect(t.names == ["user_id", "item_id", "rating"])
        #expect(t.types == [.token, .token, .float])
        #expect(try t.floats("rating") == [4, 3.5])
    }

    @Test func malformedAtomicFileNamesFileLineAndColumn() {
        #expect(throws: DataError(file: "x.inter", line: 3, column: 3, "field 'rating' is float, found 'high'")) {
            try Table.parse("user_id:token\titem_id:token\trating:float\n1\t10\t4\n2\t11\thigh\n", file: "x.inter", delimiter: "\t", typedHeader: true)
        }
        #expect(throws: DataError(file: "x.inter", line: 2, column: 3, "expected 3 fields (user_id, item_id, rating), found 2")) {
            try Table.parse("user_id:token\titem_id:token\trating:float\n1\t10\n", file: "x.inter", delimiter: "\t", typedHeader: true)
        }
        #expect(throws: DataError.self) {
            try Table.parse("user_id\titem_id\n1\t2\n", file: "x.inter", delimiter: "\t", typedHeader: true)
        }
        #expect(throws: DataError(file: "x.inter", line: 1, column: 2, "unknown field type 'int' in 'item_id:int'; expected one of token, token_seq, float, float_seq")) {
            try Table.parse("user_id:token\titem_id:int\n", file: "x.inter", delimiter: "\t", typedHeader: true)
        }
    }

    /// CRLF line ends (ml-1m, files from Windows) split like LF ones ("\r\n" is one Character in Swift); ids with
    /// spaces, commas, apostrophes and parentheses stay whole; a genre token holding several genres stays one cell.
    @Test func crlfFilesAndTitleIds() throws {
        let text = "user_id:token\titem_id:token\tgenre:token\r\n1m_1\tOne Flew Over the Cuckoo's Nest (1975)\tDrama\r\n" +
            "1m_2\tGood, the Bad and the Ugly, The (1966)\tAction Western\r\n"
        let t = try Table.parse(text, file: "ml-1m.inter", delimiter: "\t", typedHeader: true)
        #expect(t.names == ["user_id", "item_id", "genre"])
        #expect(t.columns[1] == ["One Flew Over the Cuckoo's Nest (1975)", "Good, the Bad and the Ugly, The (1966)"])
        #expect(t.columns[2] == ["Drama", "Action Western"] && t.columns[0] == ["1m_1", "1m_2"])
        let mixed = try Table.parse("a\tb\r\n1\t2\n3\t4\r\n", file: "m.tsv", delimiter: "\t", typedHeader: false)
        #expect(mixed.columns == [["1", "3"], ["2", "4"]])
    }

    @Test func missingColumnListsTheHeader() throws {
        let t = try Table.parse("a,b\n1,2\n", file: "f.csv", delimiter: ",", typedHeader: false)
        #expect(throws: DataError(file: "f.csv", line: 1, "no column 'user_id'; the header has: a, b")) { try t.column("user_id") }
    }
}

@Suite struct SplitAndFeedbackTests {
    func log(_ pairs: [(String, String)], ratings: [Float]? = nil) -> InteractionLog {
        var u = IdMap(), i = IdMap()
        let inter = Interactions(users: pairs.map { u.insert($0.0) }, items: pairs.map { i.insert($0.1) }, ratings: ratings)
        return InteractionLog(interactions: inter, userIds: u, itemIds: i)
    }

    @Test func recBoleSplitCounts() {
        #expect(Split.counts(total: 10, ratios: [0.8, 0.1, 0.1]) == [8, 1, 1])
        #expect(Split.counts(total: 25, ratios: [0.8, 0.1, 0.1]) == [21, 2, 2])
        #expect(Split.counts(total: 5, ratios: [0.8, 0.1, 0.1]) == [3, 1, 1])  // empty parts borrow from train
        #expect(Split.counts(total: 1, ratios: [0.8, 0.1, 0.1]) == [1, 0, 0])
    }

    @Test func randomSplitIsPerUserDisjointAndSeeded() {
        let pairs = (0..<20).flatMap { u in (0..<(10 + u)).map { ("u\(u)", "i\($0)") } }
        let l = log(pairs)
        let a = Split.make(l, method: .randomRatio([0.8, 0.1, 0.1]), seed: 1)
        let b = Split.make(l, method: .randomRatio([0.8, 0.1, 0.1]), seed: 1)
        let c = Split.make(l, method: .randomRatio([0.8, 0.1, 0.1]), seed: 2)
        #expect(a.test.items == b.test.items && a.test.items != c.test.items)
        #expect(a.train.count + a.valid.count + a.test.count == pairs.count)
        func keys(_ x: Interactions) -> Set<Int64> { Set(zip(x.users, x.items).map { Int64($0) << 32 | Int64($1) }) }
        #expect(keys(a.train).isDisjoint(with: keys(a.test)) && keys(a.valid).isDisjoint(with: keys(a.test)))
        // user 0 has 10 interactions: 8/1/1
        #expect(a.test.users.filter { $0 == 0 }.count == 1 && a.train.users.filter { $0 == 0 }.count == 8)
    }

    @Test func leaveOneOutUsesTime() {
        var l = log([("u", "a"), ("u", "b"), ("u", "c"), ("u", "d")])
        l.interactions.timestamps = [4, 1, 3, 2]
        let s = Split.make(l, method: .leaveOneOut, seed: 0)
        #expect(s.test.items.map { l.itemIds.token($0) } == ["a"])
        #expect(s.valid.items.map { l.itemIds.token($0) } == ["c"])
    }

    @Test func thresholdDedupAndKCore() {
        let l = log([("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "a"), ("u1", "a")], ratings: [5, 4, 5, 1, 5, 5])
        let f = l.implicitFeedback(FeedbackOptions(ratingThreshold: 3))
        #expect(f.interactions.count == 4)  // (u2,b) under threshold, repeated (u1,a) dropped
        let core = l.implicitFeedback(FeedbackOptions(userCore: 2, itemCore: 2))
        // u3 has one interaction → dropped; then every remaining user/item has ≥ 2.
        #expect(core.numUsers == 2 && core.numItems == 2 && core.interactions.count == 4)
    }

    /// The split written straight from the log equals the plain per-user-lists reference: same parts, same order,
    /// optional columns carried along, for every method.
    @Test func splitMatchesPerUserListReference() {
        var rng = RNG(seed: 7)
        let n = 3_000, users = 40
        let inter = Interactions(users: (0..<n).map { _ in Int32(rng.int(below: users)) }, items: (0..<n).map { _ in Int32(rng.int(below: 500)) },
                                 ratings: (0..<n).map { _ in Float(rng.int(below: 5)) }, timestamps: (0..<n).map { _ in Double(rng.int(below: 100)) })
        let l = InteractionLog(interactions: inter, userIds: IdMap(tokens: (0..<users).map { "u\($0)" }), itemIds: IdMap(tokens: (0..<500).map { "i\($0)" }))
        for method in [SplitMethod.randomRatio([0.7, 0.2, 0.1]), .temporalRatio([0.8, 0.1, 0.1]), .leaveOneOut] {
            var r = RNG(seed: 3)
            var parts: [[Int]] = [[], [], []]
            for u in 0..<users {
                var positions = (0..<n).filter { inter.users[$0] == u }
                guard !positions.isEmpty else { continue }
                let byTime = { (a: Int, b: Int) in inter.timestamps![a] < inter.timestamps![b] || (inter.timestamps![a] == inter.timestamps![b] && a < b) }
                let counts: [Int]
                switch method {
                case .randomRatio(let q): r.shuffle(&positions); counts = Split.counts(total: positions.count, ratios: q)
                case .temporalRatio(let q): positions.sort(by: byTime); counts = Split.counts(total: positions.count, ratios: q)
                case .leaveOneOut: positions.sort(by: byTime); counts = [positions.count - 2, 1, 1]
                }
                var start = 0
                for k in 0..<3 { parts[k] += positions[start..<(start + counts[k])]; start += counts[k] }
            }
            let s = Split.make(l, method: method, seed: 3)
            for (got, want) in zip([s.train, s.valid, s.test], parts.map(inter.subset)) {
                #expect(got.users == want.users && got.items == want.items && got.ratings == want.ratings && got.timestamps == want.timestamps)
                #expect(got.labels == nil)
            }
        }
    }

    /// The incidence matrix of several parts equals the set of their distinct pairs, rows sorted, values 1.
    @Test func incidenceOfPartsIsTheirDistinctPairs() {
        var rng = RNG(seed: 11)
        let parts = (0..<3).map { _ in
            Interactions(users: (0..<400).map { _ in Int32(rng.int(below: 30)) }, items: (0..<400).map { _ in Int32(rng.int(below: 25)) })
        }
        let m = Interactions.incidence(of: parts, users: 31, items: 25)
        var want = [[Int32]](repeating: [], count: 31)
        for p in parts { for (u, i) in zip(p.users, p.items) { want[Int(u)].append(i) } }
        for u in 0..<31 {
            #expect(Array(m.columnIndices[m.rowPointers[u]..<m.rowPointers[u + 1]]) == Array(Set(want[u])).sorted())
        }
        #expect(m.values.allSatisfy { $0 == 1 } && m.values.count == m.columnIndices.count && m.rowPointers.count == 32)
        #expect(m.nonZeros < 1_200)  // repeats were dropped
    }

    @Test func splitParsing() {
        #expect(SplitMethod(parsing: "random") == .randomRatio([0.8, 0.1, 0.1]))
        #expect(SplitMethod(parsing: "temporal:0.7,0.15,0.15") == .temporalRatio([0.7, 0.15, 0.15]))
        #expect(SplitMethod(parsing: "loo") == .leaveOneOut)
        #expect(SplitMethod(parsing: "random:0.5,0.1") == nil)
    }
}

@Suite struct FeatureAndFileTests {
    @Test func featuresAlignWithIdsAndHandleMissing() throws {
        let t = try Table.parse("item_id:token\tyear:token\tgenres:token_seq\tprice:float\nB\t1990\tx y\t2\nA\t1995\ty\t4\nZ\t2000\tz\t9\n",
                                file: "f.item", delimiter: "\t", typedHeader: true)
        let ids = IdMap(tokens: ["A", "B", "C"])  // C has no feature row; Z is not in the dataset
        let f = try FeatureSet.from(t, idField: "item_id", ids: ids)
        #expect(f.fields.map(\.name) == ["year", "genres", "price"])
        let year = f.fields[0], genres = f.fields[1], price = f.fields[2]
        #expect(year.categories == [1, 2, 0])  // vocabulary in entity order: 1995, 1990
        #expect(genres.offsets == [0, 1, 3, 3])
        #expect(genres.values == [1, 2, 1])  // A: y; B: x y (vocab in entity order: y, x)
        #expect(price.numbers[2] == 0 && abs(price.numbers[0] - 1) < 1e-6 && abs(price.numbers[1] + 1) < 1e-6)
    }

    @Test func preSplitFilesRoundTrip() throws {
        let dir = Fixtures.temporaryPath("test")
        let syn = SyntheticData(SyntheticConfig(users: 50, items: 30, interactions: 600, clusters: 3))
        let ds = syn.dataset()
        try ds.writeSplit(to: dir)
        let back = try Dataset.loadPreSplit(train: dir + "/train.tsv", valid: dir + "/valid.tsv", test: dir + "/test.tsv")
        #expect(back.split.train.count == ds.split.train.count && back.split.test.count == ds.split.test.count)
        let orig = Set(zip(ds.split.test.users, ds.split.test.items).map { "\(ds.userIds.token($0))/\(ds.itemIds.token($1))" })
        let read = Set(zip(back.split.test.users, back.split.test.items).map { "\(back.userIds.token($0))/\(back.itemIds.token($1))" })
        #expect(orig == read)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["test.tsv", "train.tsv", "valid.tsv"])
    }

    @Test func syntheticHasPlantedStructure() {
        let syn = SyntheticData(SyntheticConfig(users: 1000, items: 500, interactions: 5000, clusters: 4))
        let inter = syn.log.interactions
        #expect(inter.count == 5000)
        let same = zip(inter.users, inter.items).filter { syn.userCluster[Int($0)] == syn.itemCluster[Int($1)] }.count
        #expect(Double(same) / 5000 > 0.7)  // affinity 0.8 plus chance
        let stats = DataStats(users: 1000, items: 500, interactions: inter)
        #expect(stats.top20Share > 0.4)     // power-law popularity
    }
}

@Suite struct BehaviourHistoryTests {
    /// The history field keeps each user's last N training items by time (file order breaks ties), with index 0
    /// left for "missing", and users without training rows get an empty list.
    @Test func historyIsTheLastTrainingItemsByTime() {
        let items = IdMap(tokens: ["a", "b", "c", "d"])
        let train = Interactions(users: [0, 0, 0, 1, 0], items: [0, 1, 2, 3, 3], timestamps: [30, 10, 20, 5, 20])
        let h = FeatureField.history(train: train, users: 3, itemIds: items, length: 2)
        #expect(h.kind == .multiHot && h.name == "history" && h.cardinality == 5)
        #expect(h.offsets == [0, 2, 3, 3])
        #expect(Array(h.values[0..<2]) == [4, 1])  // user 0 by time: b(10), c(20), d(20, later row), a(30) → last two d, a
        #expect(Array(h.values[2..<3]) == [4])
        #expect(h.categoryIndex(of: "c") == 3 && h.categoryIndex(of: "zz") == 0)
        let untimed = Interactions(users: [0, 0, 0], items: [2, 0, 1])
        #expect(FeatureField.history(train: untimed, users: 1, itemIds: items, length: 2).values == [1, 2])
    }
}
