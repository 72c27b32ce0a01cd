import TandemTensor
import Foundation

/// Everything a model trains and is evaluated on: a split over one user/item indexing, plus side features.
public struct Dataset: Sendable {
    public var name: String
    public var userIds: IdMap
    public var itemIds: IdMap
    public var split: Split
    public var userFeatures: FeatureSet?
    public var itemFeatures: FeatureSet?
    /// The whole training split when `split.train` holds only a fraction of it (sparse-data runs): evaluation still
    /// excludes all of it and defines head/tail items by it, so every fraction is scored on the same test set.
    public var fullTrain: Interactions?
    /// Items held out of training and validation entirely (item cold start); nil: none. Every interaction with them is
    /// in `coldTest`, and they are ranked only among themselves there.
    public var coldItems: [Bool]?
    /// The interactions with `coldItems`, from all three parts of the split.
    public var coldTest: Interactions?

    public init(name: String, userIds: IdMap, itemIds: IdMap, split: Split, userFeatures: FeatureSet? = nil, itemFeatures: FeatureSet? = nil) {
        self.name = name; self.userIds = userIds; self.itemIds = itemIds; self.split = split
        self.userFeatures = userFeatures; self.itemFeatures = itemFeatures
    }

    /// The same dataset trained on `fraction` of its training interactions (chosen at random with `seed`);
    /// validation, test and the evaluation's exclusions are unchanged.
    public func keepingTrainingFraction(_ fraction: Double, seed: UInt64) -> Dataset {
        guard fraction < 1 else { return self }
        var rng = RNG(seed: seed ^ 0x7472_6169_6E66_7263)
        var positions = Array(0..<split.train.count)
        rng.shuffle(&positions)
        let kept = positions.prefix(max(1, Int((fraction * Double(positions.count)).rounded()))).sorted()
        var out = self
        out.fullTrain = fullTrain ?? split.train
        out.split.train = split.train.subset(Array(kept))
        return out
    }

    /// The same dataset with `fraction` of its items (drawn with `seed`) held out for item cold start: their
    /// interactions leave train, validation and test and form `coldTest`. Ids and indexing are unchanged.
    public func holdingOutItems(_ fraction: Double, seed: UInt64) -> Dataset {
        guard fraction > 0 else { return self }
        var rng = RNG(seed: seed ^ 0x636F_6C64_6974_656D)
        var order = Array(0..<numItems)
        rng.shuffle(&order)
        var cold = [Bool](repeating: false, count: numItems)
        for i in order.prefix(max(1, Int((fraction * Double(numItems)).rounded()))) { cold[i] = true }
        var out = self
        var held: [Interactions] = []
        func removeCold(_ part: Interactions) -> Interactions {
            let isCold = part.items.indices.map { cold[Int(part.items[$0])] }
            held.append(part.subset(isCold.indices.filter { isCold[$0] }))
            return part.subset(isCold.indices.filter { !isCold[$0] })
        }
        out.split.train = removeCold(split.train)
        out.split.valid = removeCold(split.valid)
        out.split.test = removeCold(split.test)
        out.coldTest = held.dropFirst().reduce(held[0], +)
        out.coldItems = cold
        return out
    }

    public var numUsers: Int { userIds.count }
    public var numItems: Int { itemIds.count }

    /// Loads a RecBole-style dataset directory (`NAME.inter`, optional `NAME.user`, `NAME.item`) and splits it.
    public static func loadAtomic(directory: String, name: String, feedback: FeedbackOptions, split method: SplitMethod,
                                  seed: UInt64, userColumns: [FeatureSet.ColumnSpec]? = nil,
                                  itemColumns: [FeatureSet.ColumnSpec]? = nil, features: Bool = true) throws -> Dataset {
        let base = (directory as NSString).appendingPathComponent(name)
        let log = try InteractionLog.from(Table.readAtomic(base + ".inter")).implicitFeedback(feedback)
        let split = Split.make(log, method: method, seed: seed)
        var ds = Dataset(name: name, userIds: log.userIds, itemIds: log.itemIds, split: split)
        if features {
            if FileManager.default.fileExists(atPath: base + ".user") {
                ds.userFeatures = try FeatureSet.from(Table.readAtomic(base + ".user"), idField: "user_id", ids: log.userIds, columns: userColumns)
            }
            if FileManager.default.fileExists(atPath: base + ".item") {
                ds.itemFeatures = try FeatureSet.from(Table.readAtomic(base + ".item"), idField: "item_id", ids: log.itemIds, columns: itemColumns)
            }
        }
        return ds
    }

    /// Loads a split the user made: three CSV/TSV files whose headers name `user_id` and `item_id` (raw tokens).
    /// Users and items are indexed in order of appearance in train, then valid, then test.
    public static func loadPreSplit(train: String, valid: String, test: String, userFeatures: String? = nil,
                                    itemFeatures: String? = nil) throws -> Dataset {
        var userIds = IdMap(), itemIds = IdMap()
        func read(_ path: String) throws -> Interactions {
            let t = try Table.readDelimited(path)
            let uc = try t.column("user_id"), ic = try t.column("item_id")
            let users = t.columns[uc].map { userIds.insert($0) }
            let items = t.columns[ic].map { itemIds.insert($0) }
            return Interactions(users: users, items: items)
        }
        let split = Split(train: try read(train), valid: try read(valid), test: try read(test))
        var ds = Dataset(name: (train as NSString).lastPathComponent, userIds: userIds, itemIds: itemIds, split: split)
        if let userFeatures { ds.userFeatures = try FeatureSet.from(Table.readDelimited(userFeatures), idField: "user_id", ids: userIds) }
        if let itemFeatures { ds.itemFeatures = try FeatureSet.from(Table.readDelimited(itemFeatures), idField: "item_id", ids: itemIds) }
        return ds
    }

    /// Writes the split as `train.tsv`, `valid.tsv`, `test.tsv` (raw tokens), each atomically.
    public func writeSplit(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, part) in [("train", split.train), ("valid", split.valid), ("test", split.test)] {
            var text = "user_id\titem_id\n"
            for (u, i) in zip(part.users, part.items) { text += "\(userIds.token(u))\t\(itemIds.token(i))\n" }
            try AtomicFile.write(Data(text.utf8), to: (directory as NSString).appendingPathComponent(name + ".tsv"))
        }
    }
}

/// Writes files so that a reader never sees a half-written one: a temporary file beside the target, then rename.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try data.write(to: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw DataError(file: path, "cannot write: \(error.localizedDescription) (disk full or no permission?)")
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw DataError(file: path, "cannot move the finished file into place: \(reason)")
        }
    }
}
