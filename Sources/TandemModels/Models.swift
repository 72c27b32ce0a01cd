import TandemTensor
import TandemAutograd
import TandemData

/// A model that embeds users and items into one space; relevance is the inner product of the two
/// (after L2 normalisation when the similarity is cosine).
public protocol RetrievalModel: AnyObject {
    var parameters: [Parameter] { get }
    func userEmbeddings(_ tape: Tape, _ users: [Int32]) -> Variable
    func itemEmbeddings(_ tape: Tape, _ items: [Int32]) -> Variable
    /// The user embeddings of training rows whose positives are `positives`: models that read the user's history
    /// leave each row's own positive out of it. Defaults to `userEmbeddings`.
    func userEmbeddings(_ tape: Tape, _ users: [Int32], positives: [Int32]) -> Variable
    /// Called before each training epoch (e.g. to draw new augmented views).
    func beginEpoch()
    /// A model-specific term added to the main loss (regularisers, contrastive views); nil when none.
    func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable?
    /// The parameters that `itemEmbeddings` reads and nothing on the user side does (a MoCo momentum copy of the
    /// item tower copies exactly these); empty when the two sides share parameters (graph models).
    var itemParameters: [Parameter] { get }
    /// True when embedding any rows computes every entity's embedding (graph propagation): `allEmbeddings` then
    /// reads all of them from one inference tape instead of re-propagating for every block.
    var computesAllRowsAtOnce: Bool { get }
}

extension RetrievalModel {
    public func beginEpoch() {}
    public func userEmbeddings(_ tape: Tape, _ users: [Int32], positives: [Int32]) -> Variable { userEmbeddings(tape, users) }
    public func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable? { nil }
    public var itemParameters: [Parameter] { [] }
    public var computesAllRowsAtOnce: Bool { false }

    /// Embeddings of all `count` entities of one side, computed in batches without keeping a tape.
    public func allEmbeddings(users: Bool, count: Int, normalize: Bool, batch: Int = 4096) -> Tensor {
        var rows: [Float] = []
        var dim = 0
        var start = 0
        let shared = computesAllRowsAtOnce ? Tape(training: false) : nil
        while start < count {
            let ids = (start..<min(count, start + batch)).map { Int32($0) }
            let tape = shared ?? Tape(training: false)
            var e = users ? userEmbeddings(tape, ids) : itemEmbeddings(tape, ids)
            if normalize { e = tape.l2Normalize(e) }
            dim = e.value.cols
            rows.append(contentsOf: e.value.data)
            start += batch
        }
        return Tensor(shape: [count, dim], data: rows)
    }
}

/// Matrix factorisation: one free embedding per user and per item.
public final class MatrixFactorization: RetrievalModel {
    public let users: Parameter
    public let items: Parameter

    public init(users: Int, items: Int, dim: Int, initStd: Float = 0.1, rng: inout RNG) {
        self.users = Parameter("user.id", rng.normalTensor(shape: [users, dim], std: initStd), sparse: true)
        self.items = Parameter("item.id", rng.normalTensor(shape: [items, dim], std: initStd), sparse: true)
    }

    public var parameters: [Parameter] { [users, items] }
    public var itemParameters: [Parameter] { [items] }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.embedding(users, rows: ids) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { tape.embedding(items, rows: ids) }
}

/// One tower: id embedding plus an embedding per side feature field, concatenated and passed through an MLP.
///
/// Categorical fields look up one row; multi-hot fields average their rows; numeric fields enter as one
/// standardised column each. With no hidden layers and no features the tower is plain MF.
public final class Tower {
    public let name: String
    public let idTable: Parameter?
    public let fields: [FeatureField]
    public let fieldTables: [Parameter?]
    public let mlp: MLP?
    /// SENet re-weighting of the id and feature fields before the MLP (nil: off, or fewer than two fields).
    public let senet: FieldReweighting?
    /// Behaviour fields in training: each pooled item is dropped with this probability (a denoising input, as in
    /// Mult-DAE); the mean is over the items kept. Inference pools every item.
    public var behaviourDropout: Float = 0

    public init(_ name: String, entities: Int, features: FeatureSet?, idDim: Int, fieldDim: Int, hidden: [Int],
                outputDim: Int, dropout: Float, useIds: Bool = true, senetReduction: Int? = nil, rng: inout RNG) {
        self.name = name
        idTable = useIds ? Parameter("\(name).id", rng.normalTensor(shape: [entities, idDim], std: 0.1), sparse: true) : nil
        fields = features?.fields ?? []
        fieldTables = fields.map { f in
            f.kind == .numeric ? nil : Parameter("\(name).\(f.name)", rng.normalTensor(shape: [f.cardinality, fieldDim], std: 0.1), sparse: true)
        }
        let input = (useIds ? idDim : 0) + fields.reduce(0) { $0 + ($1.kind == .numeric ? 1 : fieldDim) }
        precondition(input > 0, "tower \(name) has no inputs")
        if hidden.isEmpty && fields.isEmpty && useIds && idDim == outputDim {
            mlp = nil
        } else {
            mlp = MLP(name, sizes: [input] + hidden + [outputDim], dropout: dropout, rng: &rng)
        }
        let fieldCount = (useIds ? 1 : 0) + fields.count
        senet = senetReduction.flatMap { r in fieldCount >= 2 ? FieldReweighting(name, fields: fieldCount, reduction: r, rng: &rng) : nil }
    }

    public var parameters: [Parameter] {
        [idTable].compactMap { $0 } + fieldTables.compactMap { $0 } + (senet?.parameters ?? []) + (mlp?.parameters ?? [])
    }

    /// The fields joined into the MLP's input, re-weighted first when SENet is on.
    func combine(_ tape: Tape, _ parts: [Variable]) -> Variable {
        let weighted = senet.map { $0(tape, parts) } ?? parts
        let x = weighted.count == 1 ? weighted[0] : tape.concatColumns(weighted)
        return mlp.map { $0(tape, x) } ?? x
    }

    /// Embeds one entity that has no id row (cold start) from raw feature values: tokens for categorical and
    /// multi-hot fields, a number for numeric ones. The id part is zero; unknown tokens use the missing slot.
    public func coldStart(_ tape: Tape, features: [String: [String]]) -> Variable {
        var parts: [Variable] = []
        if let idTable { parts.append(tape.constant(Tensor(zeros: [1, idTable.value.cols]))) }
        for (f, table) in zip(fields, fieldTables) {
            let raw = features[f.name] ?? []
            switch f.kind {
            case .categorical:
                parts.append(tape.embedding(table!, rows: [raw.first.map { f.categoryIndex(of: $0) } ?? 0]))
            case .multiHot:
                let ids = raw.map { f.categoryIndex(of: $0) }.filter { $0 > 0 }
                parts.append(ids.isEmpty ? tape.constant(Tensor(zeros: [1, table!.value.cols]))
                                         : tape.segmentReduce(tape.embedding(table!, rows: ids), offsets: [0, ids.count], mean: true))
            case .numeric:
                let v = raw.first.flatMap { Float($0) }.map { ($0 - f.numericMean) / f.numericStd } ?? 0
                parts.append(tape.constant(Tensor(shape: [1, 1], data: [v])))
            }
        }
        return combine(tape, parts)
    }

    /// Fields in the order the tower joins them (and `fieldMask` columns are read): the id (when used), then `fields`.
    public var fieldCount: Int { (idTable == nil ? 0 : 1) + fields.count }

    /// Embeds entities `ids`. `fieldMask` (`[n, fieldCount]`, 1 keep / 0 mask) zeroes fields per row: the views of
    /// the self-supervised task. `holdingOut[r]` (an item index) is left out of row `r`'s behaviour fields: a training
    /// row's own positive, which the user tower must not see.
    public func callAsFunction(_ tape: Tape, _ ids: [Int32], fieldMask: Tensor? = nil, holdingOut: [Int32]? = nil) -> Variable {
        combine(tape, fieldParts(tape, ids, holdingOut: holdingOut), fieldMask: fieldMask)
    }

    /// Each field's embedding of entities `ids`, in `fieldCount` order, before masking and the MLP: several masked
    /// views of the same entities can share one lookup (`combine(_:_:fieldMask:)`).
    public func fieldParts(_ tape: Tape, _ ids: [Int32], holdingOut: [Int32]? = nil) -> [Variable] {
        precondition(holdingOut == nil || holdingOut!.count == ids.count, "holdingOut needs one item per row")
        var parts: [Variable] = []
        if let idTable { parts.append(tape.embedding(idTable, rows: ids)) }
        for (f, table) in zip(fields, fieldTables) {
            switch f.kind {
            case .categorical:
                parts.append(tape.embedding(table!, rows: ids.map { f.categories[Int($0)] }))
            case .multiHot:
                var offsets = [0], values: [Int32] = []
                let drop = f.isBehaviour && tape.isTraining ? behaviourDropout : 0
                for (r, e) in ids.enumerated() {
                    let row = f.values[f.offsets[Int(e)]..<f.offsets[Int(e) + 1]]
                    if f.isBehaviour && (holdingOut != nil || drop > 0) {
                        let held = holdingOut.map { $0[r] + 1 } ?? 0  // values are item index + 1; 0 never occurs
                        for v in row where v != held && (drop == 0 || tape.rng.uniform() >= drop) { values.append(v) }
                    } else {
                        values.append(contentsOf: row)
                    }
                    offsets.append(values.count)
                }
                parts.append(tape.segmentReduce(tape.embedding(table!, rows: values), offsets: offsets, mean: true))
            case .numeric:
                parts.append(tape.constant(Tensor(shape: [ids.count, 1], data: ids.map { f.numbers[Int($0)] })))
            }
        }
        return parts
    }

    /// The tower's output from `fieldParts`, with fields zeroed per row by `fieldMask` (`[n, fieldCount]`).
    public func combine(_ tape: Tape, _ parts: [Variable], fieldMask: Tensor?) -> Variable {
        guard let fieldMask else { return combine(tape, parts) }
        let n = parts.first?.value.rows ?? 0
        precondition(fieldMask.shape == [n, parts.count], "field mask \(fieldMask.shape) for \(n) rows of \(parts.count) fields")
        return combine(tape, parts.enumerated().map { k, part in
            part * tape.constant(Tensor(shape: [n, 1], data: (0..<n).map { fieldMask.data[$0 * parts.count + k] }))
        })
    }
}

/// The two-tower model: a user tower and an item tower over ids and side features.
public final class TwoTower: RetrievalModel {
    public let userTower: Tower
    public let itemTower: Tower
    /// Self-supervised auxiliary tasks (Yao et al. 2021) of the user and the item tower; nil: off.
    public var userSelfSupervision: SelfSupervisedTask?
    public var itemSelfSupervision: SelfSupervisedTask?

    public init(userTower: Tower, itemTower: Tower) {
        self.userTower = userTower; self.itemTower = itemTower
    }

    public var parameters: [Parameter] { userTower.parameters + itemTower.parameters }
    public var itemParameters: [Parameter] { itemTower.parameters }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { userTower(tape, ids) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { itemTower(tape, ids) }
    /// A training row's user embedding without its positive item in the pooled history.
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32], positives: [Int32]) -> Variable {
        userTower(tape, ids, holdingOut: holdsOutPositives ? positives : nil)
    }
    /// Leave a training row's positive out of its user's history (see `TrainConfig.historyHoldout`).
    public var holdsOutPositives = true

    public func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable? {
        let terms = [userSelfSupervision?.loss(tape, tower: userTower), itemSelfSupervision?.loss(tape, tower: itemTower)].compactMap { $0 }
        return terms.isEmpty ? nil : terms.dropFirst().reduce(terms[0], +)
    }
}

/// Most-popular items for everyone: the protocol's sanity baseline. As embeddings: every user is `[1]`,
/// every item is `[training count]`, so the full-ranking evaluator ranks by popularity.
public struct Popularity {
    public let counts: [Int]
    public init(train: Interactions, items: Int) { counts = train.itemCounts(items: items) }
    public func userEmbeddings(count: Int) -> Tensor { Tensor(repeating: 1, shape: [count, 1]) }
    public var itemEmbeddings: Tensor { Tensor(shape: [counts.count, 1], data: counts.map(Float.init)) }
}
