/// One side-feature field of users or items, aligned with the dataset's dense entity indices.
public struct FeatureField: Sendable {
    public enum Kind: String, Sendable, Codable { case categorical, multiHot = "multi_hot", numeric }

    public let name: String
    public let kind: Kind
    /// Category vocabulary (categorical and multi-hot). Index 0 is reserved for "missing / unknown".
    public let vocabulary: IdMap
    /// Categorical: one category index per entity (0 = missing).
    public let categories: [Int32]
    /// Multi-hot: entity `e`'s categories are `values[offsets[e]..<offsets[e+1]]`.
    public let offsets: [Int]
    public let values: [Int32]
    /// Numeric: one standardised value per entity (0 for missing).
    public let numbers: [Float]
    /// Numeric: the mean and standard deviation used to standardise (to embed new entities the same way).
    public var numericMean: Float = 0
    public var numericStd: Float = 1
    /// Categorical/multi-hot: tokens were cut to this many leading characters (e.g. a zip prefix).
    public var prefixLength: Int?
    /// Multi-hot behaviour field (`history`): the values are item indices + 1, so a training row can hold out its own
    /// positive item (the tower must not see the label it is asked to predict).
    public var isBehaviour = false

    /// The category index of a raw token as this field stores it (0 when unknown).
    public func categoryIndex(of token: String) -> Int32 {
        let t = prefixLength.map { String(token.prefix($0)) } ?? token
        return vocabulary.lookup(t).map { $0 + 1 } ?? 0
    }

    /// Number of embedding rows a categorical or multi-hot field needs (vocabulary plus the missing slot).
    public var cardinality: Int { vocabulary.count + 1 }

    public static func categorical(_ name: String, vocabulary: IdMap, categories: [Int32]) -> FeatureField {
        FeatureField(name: name, kind: .categorical, vocabulary: vocabulary, categories: categories, offsets: [], values: [], numbers: [])
    }
    public static func multiHot(_ name: String, vocabulary: IdMap, offsets: [Int], values: [Int32]) -> FeatureField {
        FeatureField(name: name, kind: .multiHot, vocabulary: vocabulary, categories: [], offsets: offsets, values: values, numbers: [])
    }
    public static func numeric(_ name: String, numbers: [Float]) -> FeatureField {
        FeatureField(name: name, kind: .numeric, vocabulary: IdMap(), categories: [], offsets: [], values: [], numbers: numbers)
    }
}

extension FeatureField: Codable, Equatable {
    /// The field without its per-entity values: name, kind, vocabulary and numeric scaling, all that embedding a new
    /// entity from raw values needs (a model directory stores this for cold-start users).
    public var schema: FeatureField {
        var f = FeatureField(name: name, kind: kind, vocabulary: vocabulary, categories: [], offsets: [], values: [], numbers: [])
        f.numericMean = numericMean; f.numericStd = numericStd; f.prefixLength = prefixLength; f.isBehaviour = isBehaviour
        return f
    }
}

extension FeatureField {
    /// Behaviour pooling: a multi-hot `history` field holding each user's last `length` training items (by timestamp
    /// when the data has one, else in file order), vocabulary = the item ids. Built from the training split only, so
    /// no validation or test item leaks in; the tower averages the items' embeddings like any multi-hot field. In
    /// training, each (user, item) row's history leaves that item out (`Tower(…, holdingOut:)`).
    public static func history(train: Interactions, users: Int, itemIds: IdMap, length: Int) -> FeatureField {
        var perUser = [[Int]](repeating: [], count: users)
        for p in 0..<train.count { perUser[Int(train.users[p])].append(p) }
        var offsets = [0], values: [Int32] = []
        for rows in perUser {
            let ordered = train.timestamps.map { t in rows.enumerated().sorted { (t[$0.element], $0.offset) < (t[$1.element], $1.offset) }.map(\.element) } ?? rows
            values.append(contentsOf: ordered.suffix(length).map { train.items[$0] + 1 })  // index 0 is "missing"
            offsets.append(values.count)
        }
        var field = FeatureField.multiHot("history", vocabulary: itemIds, offsets: offsets, values: values)
        field.isBehaviour = true
        return field
    }
}

/// The side features of one entity kind (users or items).
public struct FeatureSet: Sendable {
    public var fields: [FeatureField]
    public let entityCount: Int

    public init(fields: [FeatureField], entityCount: Int) {
        self.fields = fields; self.entityCount = entityCount
    }

    /// How a raw column becomes a field.
    public struct ColumnSpec: Sendable, Equatable {
        public var name: String
        public var kind: FeatureField.Kind
        /// Keep only the first characters of each token (e.g. a zip-code prefix); nil keeps it whole.
        public var prefixLength: Int?
        public init(_ name: String, _ kind: FeatureField.Kind, prefixLength: Int? = nil) {
            self.name = name; self.kind = kind; self.prefixLength = prefixLength
        }
    }

    /// Builds fields from a feature table whose `idField` column holds entity tokens of `ids`.
    /// Entities missing from the table get the missing slot; rows for unknown entities are ignored.
    /// With `columns == nil`, every column but the id becomes a field: token → categorical,
    /// token_seq → multi-hot, float → numeric.
    public static func from(_ table: Table, idField: String, ids: IdMap, columns: [ColumnSpec]? = nil) throws -> FeatureSet {
        let idc = try table.column(idField)
        let specs: [ColumnSpec] = try columns ?? table.names.indices.compactMap { c in
            if c == idc { return nil }
            switch table.types[c] {
            case .token: return ColumnSpec(table.names[c], .categorical)
            case .tokenSeq: return ColumnSpec(table.names[c], .multiHot)
            case .float: return ColumnSpec(table.names[c], .numeric)
            case .floatSeq: throw DataError(file: table.file, line: 1, column: c + 1, "float_seq feature '\(table.names[c])' is not supported yet")
            }
        }
        var rowOf = [Int](repeating: -1, count: ids.count)
        for (r, token) in table.columns[idc].enumerated() {
            if let e = ids.lookup(token) { rowOf[Int(e)] = r }
        }
        var fields: [FeatureField] = []
        for spec in specs {
            let c = try table.column(spec.name)
            func clip(_ s: Substring) -> String { spec.prefixLength.map { String(s.prefix($0)) } ?? String(s) }
            switch spec.kind {
            case .categorical:
                var vocab = IdMap()
                let cats: [Int32] = rowOf.map { r in
                    guard r >= 0 else { return 0 }
                    let s = clip(Substring(table.columns[c][r]))
                    return s.isEmpty ? 0 : vocab.insert(s) + 1
                }
                var field = FeatureField.categorical(spec.name, vocabulary: vocab, categories: cats)
                field.prefixLength = spec.prefixLength
                fields.append(field)
            case .multiHot:
                var vocab = IdMap()
                var offsets = [0], values: [Int32] = []
                for r in rowOf {
                    if r >= 0 {
                        for tok in table.columns[c][r].split(separator: " ") { values.append(vocab.insert(clip(tok)) + 1) }
                    }
                    offsets.append(values.count)
                }
                var field = FeatureField.multiHot(spec.name, vocabulary: vocab, offsets: offsets, values: values)
                field.prefixLength = spec.prefixLength
                fields.append(field)
            case .numeric:
                let raw = try table.floats(spec.name)
                let present = rowOf.filter { $0 >= 0 }.map { raw[$0] }
                let mean = present.isEmpty ? 0 : present.reduce(0, +) / Float(present.count)
                let variance = present.isEmpty ? 0 : present.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(present.count)
                let std = variance > 0 ? variance.squareRoot() : 1
                var field = FeatureField.numeric(spec.name, numbers: rowOf.map { $0 >= 0 ? (raw[$0] - mean) / std : 0 })
                field.numericMean = mean; field.numericStd = std
                fields.append(field)
            }
        }
        return FeatureSet(fields: fields, entityCount: ids.count)
    }
}
