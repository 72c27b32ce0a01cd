import TandemTensor

/// Raw ids (tokens) ↔ dense indices `0..<count`, in order of first appearance.
public struct IdMap: Sendable, Equatable, Codable {
    public private(set) var tokens: [String] = []
    private var index: [String: Int32] = [:]

    public init() {}
    public init(tokens: [String]) { for t in tokens { _ = insert(t) } }

    public var count: Int { tokens.count }

    /// The index of `token`, adding it if new.
    public mutating func insert(_ token: String) -> Int32 {
        if let i = index[token] { return i }
        let i = Int32(tokens.count)
        tokens.append(token); index[token] = i
        return i
    }

    public func lookup(_ token: String) -> Int32? { index[token] }
    public func token(_ i: Int32) -> String { tokens[Int(i)] }

    public init(from decoder: Decoder) throws { self.init(tokens: try [String](from: decoder)) }
    public func encode(to encoder: Encoder) throws { try tokens.encode(to: encoder) }
}

/// Interactions as parallel arrays of dense user and item indices.
public struct Interactions: Sendable {
    public var users: [Int32]
    public var items: [Int32]
    /// Optional rating and timestamp per interaction (same length as `users` when present).
    public var ratings: [Float]?
    public var timestamps: [Double]?
    /// Optional 0/1 label (1 = positive, 0 = shown but not clicked).
    public var labels: [Float]?

    public init(users: [Int32], items: [Int32], ratings: [Float]? = nil, timestamps: [Double]? = nil, labels: [Float]? = nil) {
        precondition(users.count == items.count)
        self.users = users; self.items = items; self.ratings = ratings; self.timestamps = timestamps; self.labels = labels
    }

    public var count: Int { users.count }

    /// The interactions at `positions`, in that order.
    public func subset(_ positions: [Int]) -> Interactions {
        Interactions(users: positions.map { users[$0] }, items: positions.map { items[$0] },
                     ratings: ratings.map { r in positions.map { r[$0] } },
                     timestamps: timestamps.map { t in positions.map { t[$0] } },
                     labels: labels.map { l in positions.map { l[$0] } })
    }

    /// The user × item incidence matrix (value 1 per distinct pair).
    public func matrix(users numUsers: Int, items numItems: Int) -> CSRMatrix {
        Interactions.incidence(of: [self], users: numUsers, items: numItems)
    }

    /// The incidence matrix of the union of `parts` (value 1 per distinct pair), built by a counting sort on the
    /// users with no concatenated copy and no coordinate list: one column index per interaction, then each row
    /// sorted and its repeats dropped in place.
    public static func incidence(of parts: [Interactions], users numUsers: Int, items numItems: Int) -> CSRMatrix {
        var start = [Int](repeating: 0, count: numUsers + 1)
        for part in parts { for u in part.users { start[Int(u) + 1] += 1 } }
        for r in 0..<numUsers { start[r + 1] += start[r] }
        var cursor = start
        var columns = [Int32](repeating: 0, count: start[numUsers])
        for part in parts {
            for (u, i) in zip(part.users, part.items) { columns[cursor[Int(u)]] = i; cursor[Int(u)] += 1 }
        }
        var pointers = [Int](repeating: 0, count: numUsers + 1), kept = 0
        columns.withUnsafeMutableBufferPointer { c in
            for r in 0..<numUsers {
                c[start[r]..<start[r + 1]].sort()
                var last: Int32 = -1
                for p in start[r]..<start[r + 1] where c[p] != last { last = c[p]; c[kept] = last; kept += 1 }
                pointers[r + 1] = kept
            }
        }
        columns.removeLast(columns.count - kept)
        return CSRMatrix(rows: numUsers, cols: numItems, rowPointers: pointers, columnIndices: columns,
                         values: [Float](repeating: 1, count: kept))
    }

    /// Number of interactions per item.
    public func itemCounts(items numItems: Int) -> [Int] {
        var c = [Int](repeating: 0, count: numItems)
        for i in items { c[Int(i)] += 1 }
        return c
    }

    /// Number of interactions per user.
    public func userCounts(users numUsers: Int) -> [Int] {
        var c = [Int](repeating: 0, count: numUsers)
        for u in users { c[Int(u)] += 1 }
        return c
    }

    /// Positions of each user's interactions, users in index order, as one array (4 bytes per interaction):
    /// user `u`'s positions, ascending, are `positions[start[u]..<start[u + 1]]`.
    public func positionsByUser(users numUsers: Int) -> (start: [Int], positions: [Int32]) {
        precondition(count <= Int(Int32.max), "more than \(Int32.max) interactions in one log")
        var start = [Int](repeating: 0, count: numUsers + 1)
        for u in users { start[Int(u) + 1] += 1 }
        for r in 0..<numUsers { start[r + 1] += start[r] }
        var cursor = start
        var positions = [Int32](repeating: 0, count: count)
        for (p, u) in users.enumerated() { positions[cursor[Int(u)]] = Int32(p); cursor[Int(u)] += 1 }
        return (start, positions)
    }

    /// Empty arrays with room for `capacity` interactions, holding the same optional columns as `like`.
    public init(reservingCapacity capacity: Int, like source: Interactions) {
        func reserved<T>(_ present: Bool) -> [T]? {
            guard present else { return nil }
            var a: [T] = []; a.reserveCapacity(capacity); return a
        }
        self.init(users: reserved(true)!, items: reserved(true)!, ratings: reserved(source.ratings != nil),
                  timestamps: reserved(source.timestamps != nil), labels: reserved(source.labels != nil))
    }

    /// Appends the interaction at `position` of `source` (which holds the same optional columns).
    public mutating func append(_ position: Int, of source: Interactions) {
        users.append(source.users[position]); items.append(source.items[position])
        if let r = source.ratings { ratings!.append(r[position]) }
        if let t = source.timestamps { timestamps!.append(t[position]) }
        if let l = source.labels { labels!.append(l[position]) }
    }

    public static func + (a: Interactions, b: Interactions) -> Interactions {
        func cat<T>(_ x: [T]?, _ y: [T]?) -> [T]? { if let x, let y { return x + y }; return nil }
        return Interactions(users: a.users + b.users, items: a.items + b.items, ratings: cat(a.ratings, b.ratings),
                            timestamps: cat(a.timestamps, b.timestamps), labels: cat(a.labels, b.labels))
    }
}

/// How an interaction log becomes implicit feedback before splitting.
public struct FeedbackOptions: Sendable, Codable, Equatable {
    /// Keep only interactions whose rating is at least this (nil: every interaction is a positive).
    public var ratingThreshold: Float?
    /// Repeatedly drop users and items with fewer interactions than these (0: no filtering).
    public var userCore: Int
    public var itemCore: Int

    public init(ratingThreshold: Float? = nil, userCore: Int = 0, itemCore: Int = 0) {
        self.ratingThreshold = ratingThreshold; self.userCore = userCore; self.itemCore = itemCore
    }
}

/// An interaction log with its id maps: what a data file describes before any split.
public struct InteractionLog: Sendable {
    public var interactions: Interactions
    public var userIds: IdMap
    public var itemIds: IdMap

    public init(interactions: Interactions, userIds: IdMap, itemIds: IdMap) {
        self.interactions = interactions; self.userIds = userIds; self.itemIds = itemIds
    }

    public var numUsers: Int { userIds.count }
    public var numItems: Int { itemIds.count }

    /// Reads a table with user and item id columns (and `rating`, `timestamp`, `label` when present).
    public static func from(_ table: Table, userField: String = "user_id", itemField: String = "item_id",
                            ratingField: String = "rating", timestampField: String = "timestamp",
                            labelField: String = "label") throws -> InteractionLog {
        let uc = try table.column(userField), ic = try table.column(itemField)
        var userIds = IdMap(), itemIds = IdMap()
        let users = table.columns[uc].map { userIds.insert($0) }
        let items = table.columns[ic].map { itemIds.insert($0) }
        let ratings = table.has(ratingField) ? try table.floats(ratingField) : nil
        let timestamps = table.has(timestampField) ? try table.floats(timestampField).map(Double.init) : nil
        let labels = table.has(labelField) ? try table.floats(labelField) : nil
        return InteractionLog(interactions: Interactions(users: users, items: items, ratings: ratings, timestamps: timestamps, labels: labels),
                              userIds: userIds, itemIds: itemIds)
    }

    /// Applies the rating threshold and k-core filter, drops repeated (user, item) pairs (the first is kept),
    /// and re-indexes users and items densely.
    public func implicitFeedback(_ options: FeedbackOptions) -> InteractionLog {
        var keep = [Bool](repeating: true, count: interactions.count)
        if let t = options.ratingThreshold, let r = interactions.ratings {
            for p in keep.indices where r[p] < t { keep[p] = false }
        }
        var seen = Set<Int64>()
        for p in keep.indices where keep[p] {
            let key = Int64(interactions.users[p]) << 32 | Int64(interactions.items[p])
            if !seen.insert(key).inserted { keep[p] = false }
        }
        if options.userCore > 0 || options.itemCore > 0 {
            var changed = true
            while changed {
                changed = false
                var uc = [Int](repeating: 0, count: numUsers), ic = [Int](repeating: 0, count: numItems)
                for p in keep.indices where keep[p] { uc[Int(interactions.users[p])] += 1; ic[Int(interactions.items[p])] += 1 }
                for p in keep.indices where keep[p] {
                    if uc[Int(interactions.users[p])] < options.userCore || ic[Int(interactions.items[p])] < options.itemCore {
                        keep[p] = false; changed = true
                    }
                }
            }
        }
        let kept = interactions.subset(keep.indices.filter { keep[$0] })
        var newUsers = IdMap(), newItems = IdMap()
        let users = kept.users.map { newUsers.insert(userIds.token($0)) }
        let items = kept.items.map { newItems.insert(itemIds.token($0)) }
        var out = kept
        out.users = users; out.items = items
        return InteractionLog(interactions: out, userIds: newUsers, itemIds: newItems)
    }
}
